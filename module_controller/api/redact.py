"""Credentials in urls are never shown: redaction for status messages, Events and logs (pure).

A module url may carry a secret the base needs to download the jar
(``https://user:password@repo/…`` or a pre-signed ``…?token=…``). The spec keeps the real url
and Arklet is sent the real url; everything the controller *shows* (Module status, Events, log
lines and tracebacks) goes through :func:`redact_text` first:

* the userinfo of a url (``user:password@``) becomes ``***@``;
* every query value, and every ``key=value`` of the fragment, becomes ``***`` (keys stay, so
  the text still says which parameters were there);
* scheme, host, port and path stay: they are what an operator needs to recognise the url.

Both functions are idempotent, never raise, and leave text without a url unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://rest, up to whitespace or a character that commonly delimits a url in prose, repr()
# or JSON. Deliberately generous: redacting a little too much of a message is harmless.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`\\]+")
# userinfo in a url that urlsplit cannot take apart (e.g. a broken IPv6 literal).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@")
_PAIR_VALUE = re.compile(r"=[^&;#]*")


def _mask_pairs(text: str) -> str:
    """``a=1&b=2`` → ``a=***&b=***``; a part without ``=`` (a bare token) is masked whole."""
    parts = re.split(r"([&;])", text)
    out = []
    for part in parts:
        if part in ("&", ";") or part == "":
            out.append(part)
        elif "=" in part:
            out.append(_PAIR_VALUE.sub("=" + MASK, part, count=1))
        else:
            out.append(MASK)
    return "".join(out)


def redact_url(url: str) -> str:
    """The url without its userinfo and with its query (and fragment) values masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
        query = _mask_pairs(parts.query) if parts.query else ""
        fragment = parts.fragment
        if fragment and "=" in fragment:
            fragment = _mask_pairs(fragment)
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    except ValueError:
        head = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", url)
        cut = min((i for i in (head.find("?"), head.find("#")) if i >= 0), default=-1)
        return head if cut < 0 else head[:cut + 1] + MASK


def redact_text(text: str) -> str:
    """Every url inside a free text redacted with :func:`redact_url`."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)

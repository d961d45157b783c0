"""Credentials in urls are never shown: the one redaction every url the controller writes goes
through (pure).

A module url may carry a secret the base needs to download the jar
(``https://user:password@repo/…`` or a pre-signed ``…?token=…``). The spec keeps the real url
and Arklet is sent the real url; everything the controller *writes* (Module and
ModuleDeployment status, ``abortedModule`` included, Events, log lines and tracebacks, metric
labels, the kubectl plugin's output) goes through :func:`redact_text` or :func:`redact_url`:

* the userinfo of a url (``user:password@``) becomes ``***@``;
* every query value, and every ``key=value`` of the fragment, becomes ``***`` (keys stay, so
  the text still says which parameters were there);
* scheme, host, port and path stay: they are what an operator needs to recognise the url.

By parsing, not by pattern: a url is split into its components by the generic syntax of
RFC 3986 (appendix B). The authority runs to the first ``/``, ``?`` or ``#`` whatever it
contains, so every character that may appear in a userinfo (the sub-delims ``!$&'()*+,;=``,
``%``-escapes, and the ``'`` and `````` that urls written by hand carry) stays inside it, and the
userinfo is all of it up to the last ``@``. In free text a url runs from ``scheme://`` to the
next whitespace or control character, or to the next ``scheme://``: quotes do not end it
(a quote is legal inside a url), so a url quoted in a message may lose its closing quote to a
masked query value; showing a little less is the safe side.

Both functions are idempotent, never raise, and leave text without a url unchanged.
"""

from __future__ import annotations

import re

MASK = "***"

# RFC 3986, appendix B: scheme, authority, path, query, fragment.
_GENERIC = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$",
                      re.DOTALL)
# Where a url begins in free text: a scheme (not the tail of a longer word) and "//".
_START = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://")
# What ends a url in free text: whitespace and control characters (never legal in a url).
_END = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_PORT = re.compile(r"^[0-9]*$")


def _mask_pairs(text: str) -> str:
    """``a=1&b=2`` → ``a=***&b=***``; a part without ``=`` (a bare token) is masked whole."""
    out = []
    for part in re.split(r"([&;])", text):
        if part in ("&", ";", ""):
            out.append(part)
        elif "=" in part:
            out.append(part.split("=", 1)[0] + "=" + MASK)
        else:
            out.append(MASK)
    return "".join(out)


def _host_port_ok(hostport: str) -> bool:
    """A host, optionally ``:port`` with digits only (an IP literal in brackets may hold
    colons). Anything else is taken for credentials that were never meant as a host."""
    if hostport.startswith("["):
        end = hostport.find("]")
        return end > 0 and _PORT.match(hostport[end + 1:].removeprefix(":")) is not None
    return _PORT.match(hostport.rpartition(":")[2] if ":" in hostport else "") is not None


def redact_url(url: str) -> str:
    """The url without its userinfo and with its query (and fragment) values masked."""
    match = _GENERIC.match(url)
    if match is None:  # the pattern matches every string; kept for the type checker
        return MASK
    scheme, authority, path, query, fragment = match.groups()
    out = f"{scheme}:" if scheme is not None else ""
    if authority is not None:
        userinfo, at, hostport = authority.rpartition("@")
        if not _host_port_ok(hostport):
            # "user:pa/ss@host": a raw "/" in a password ends the authority early. The
            # userinfo then runs to the last "@" before the query; without one, the whole
            # authority is masked.
            if "@" in path:
                rest = path.rpartition("@")[2]
                slash = rest.find("/")
                hostport, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
                at = "@"
            else:
                hostport, at = MASK, ""
        out += "//" + (MASK + "@" if at else "") + hostport
    out += path
    if query is not None:
        out += "?" + _mask_pairs(query)
    if fragment is not None:
        out += "#" + (_mask_pairs(fragment) if "=" in fragment else fragment)
    return out


def redact_text(text: str) -> str:
    """Every url inside a free text redacted with :func:`redact_url`."""
    if "://" not in text:
        return text
    starts = [m.start() for m in _START.finditer(text)]
    if not starts:
        return text
    out = [text[:starts[0]]]
    for i, start in enumerate(starts):
        limit = starts[i + 1] if i + 1 < len(starts) else len(text)
        end = _END.search(text, start, limit)
        stop = end.start() if end else limit
        out.append(redact_url(text[start:stop]))
        out.append(text[stop:limit])
    return "".join(out)

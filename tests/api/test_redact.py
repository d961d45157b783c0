"""Redaction of credentials in urls: the pure helper, by examples and by properties."""

from __future__ import annotations

import pytest

from module_controller.api.redact import redact_text, redact_url


@pytest.mark.parametrize("url, shown", [
    ("https://user:password@repo.example/a/b-1.0-ark-biz.jar",
     "https://***@repo.example/a/b-1.0-ark-biz.jar"),
    ("https://token@repo.example:8443/x.jar", "https://***@repo.example:8443/x.jar"),
    ("https://repo.example/x.jar?token=s3cr3t&expires=99",
     "https://repo.example/x.jar?token=***&expires=***"),
    ("https://u:p@repo.example/x.jar?X-Amz-Signature=abc;sig=d#access_token=e",
     "https://***@repo.example/x.jar?X-Amz-Signature=***;sig=***#access_token=***"),
    ("https://repo.example/x.jar?justatoken", "https://repo.example/x.jar?***"),
    ("https://u:p@[::1]:8080/x.jar?k=v", "https://***@[::1]:8080/x.jar?k=***"),
    ("https://u:p@[::1/x.jar?k=v", "https://***/x.jar?k=***"),  # no host: all of it masked
    ("https://u:pa'ss@h/x?t=a`b", "https://***@h/x?t=***"),  # sub-delims, backtick
    ("https://user:pa/ss@host/x", "https://***@host/x"),  # a raw "/" in the password
    ("https://user:secret/x", "https://***/x"),  # not a port: taken for credentials
    ("http://user:p@ss@host/x", "http://***@host/x"),  # the last @ ends the userinfo
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # idempotent


@pytest.mark.parametrize("url", [
    "http://repo.example/provider-1.0.0-ark-biz.jar",
    "file:///opt/modules/provider-1.0.0-ark-biz.jar",
    "https://repo.example/x.jar#section",
])
def test_url_without_credentials_is_unchanged(url: str) -> None:
    assert redact_url(url) == url
    assert redact_text(f"installBiz {url}: FAILED") == f"installBiz {url}: FAILED"


def test_redact_text_finds_every_url() -> None:
    text = ("installBiz: FAILED: could not download https://alice:hunter2@repo.example/a.jar "
            "(also tried 'http://bob:pw@mirror/a.jar?token=t0k', url=\"s3://k:s@b/a?sig=z\")")
    shown = redact_text(text)
    for secret in ("alice", "hunter2", "bob", ":pw@", "t0k", "k:s", "sig=z"):
        assert secret not in shown
    assert "https://***@repo.example/a.jar" in shown
    # A quote may be part of a query value: the masked value swallows the closing quote.
    assert "'http://***@mirror/a.jar?token=***" in shown
    assert "\"s3://***@b/a?sig=***" in shown
    assert redact_text(shown) == shown


def test_traceback_lines_are_redacted() -> None:
    tb = ('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
          "ValueError: bad url {'url': 'https://u:secret@h/x.jar?token=abc'}\n")
    shown = redact_text(tb)
    assert "secret" not in shown and "abc" not in shown
    assert shown.count("\n") == tb.count("\n")


@pytest.mark.parametrize("text", ["", "no url here", "ratio 3:1 @ noon", "a://"])
def test_text_without_urls_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


# ----------------------------------------------------------------- properties
#
# Generated urls whose userinfo and query values use every character RFC 3986 allows there
# (unreserved, %-escapes, the sub-delims !$&'()*+,;= and ":"), plus the backtick a url written
# by hand may carry. Secrets start with a capital "S" or "V": the host, path and keys are made of
# lower-case letters, digits, "-" and "/" only, so a secret can be looked for as a substring.

from hypothesis import given, settings, strategies as st  # noqa: E402

UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
SUB_DELIMS = "!$&'()*+,;="
PCT = st.sampled_from(["%20", "%40", "%2F", "%3A", "%27", "%60"])
USERINFO_CHAR = st.one_of(st.sampled_from(UNRESERVED + SUB_DELIMS + ":`"), PCT)
# In a query value "&", ";" and "=" separate pairs, "#" starts the fragment.
QUERY_CHAR = st.one_of(st.sampled_from(UNRESERVED + "!$'()*+,:@/?`"), PCT)
LOWER = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)

userinfos = st.builds(lambda a, b: "S" + a + (":" + b if b else ""),
                      st.lists(USERINFO_CHAR, max_size=20).map("".join),
                      st.lists(USERINFO_CHAR, max_size=20).map("".join))
values = st.lists(QUERY_CHAR, max_size=20).map(lambda cs: "V" + "".join(cs))
queries = st.lists(st.tuples(LOWER, values), max_size=4)
hosts = st.one_of(LOWER.map(lambda h: h + ".example"), st.just("[::1]"), st.just("127.0.0.1"))
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
paths = st.lists(LOWER, max_size=3).map(lambda parts: "".join("/" + p for p in parts))


def _url(scheme, userinfo, host, port, path, query):
    q = "&".join(f"{k}={v}" for k, v in query)
    return (f"{scheme}://{userinfo + '@' if userinfo else ''}{host}{port}{path}"
            + (f"?{q}" if query else ""))


def _expected(scheme, userinfo, host, port, path, query):
    q = "&".join(f"{k}={MASK}" for k, _ in query)
    return (f"{scheme}://{MASK + '@' if userinfo else ''}{host}{port}{path}"
            + (f"?{q}" if query else ""))


MASK = "***"
parts = st.tuples(st.sampled_from(["http", "https"]), st.one_of(st.just(""), userinfos), hosts,
                  ports, paths, queries)


@settings(max_examples=400, deadline=None)
@given(parts)
def test_any_userinfo_and_query_is_redacted_by_parsing(p) -> None:
    url, expected = _url(*p), _expected(*p)
    assert redact_url(url) == expected
    assert redact_url(expected) == expected
    assert redact_text(f"installBiz: FAILED: {url} (attempt 2)") == \
        f"installBiz: FAILED: {expected} (attempt 2)"


@settings(max_examples=300, deadline=None)
@given(parts, st.sampled_from(["'{}'", '"{}"', "`{}`", "({})", "<{}>", '{{"url":"{}"}}',
                               "url={}, next", "{}\n"]))
def test_no_secret_survives_in_any_surrounding(p, frame) -> None:
    secrets = ([p[1]] if p[1] else []) + [v for _, v in p[5]]
    text = frame.format(_url(*p)) + " and " + frame.format(_url(*p))
    shown = redact_text(text)
    for secret in secrets:
        assert secret not in shown, (secret, shown)
    assert redact_text(shown) == shown


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_handled_and_idempotent(text) -> None:
    once = redact_text(text)
    assert redact_text(once) == once
    if "://" not in text:
        assert once == text

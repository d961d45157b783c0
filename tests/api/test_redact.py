"""Redaction of credentials in urls (issue 14, item 6): the pure helper."""

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
    ("https://u:p@[::1/x.jar?k=v", "https://***@[::1/x.jar?***"),  # unparseable: still safe
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
    assert "'http://***@mirror/a.jar?token=***'" in shown
    assert "\"s3://***@b/a?sig=***\"" in shown
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

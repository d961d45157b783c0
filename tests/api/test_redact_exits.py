"""The central exits apply the redaction: Events, status writes, log lines.

The url in the spec and the url sent to Arklet are not touched by any of these: only what is
shown is redacted.
"""

from __future__ import annotations

import json
import logging

import pytest
from kubernetes_asyncio import client

from module_controller.kube.events import EventRecorder
from module_controller.kube.io import redact_messages
from module_controller.observability.redaction import RedactingFilter, exception_text

from helpers.logs import controller_log_output

URL = "https://alice:hunter2@repo.example/provider-1.0.0-ark-biz.jar?token=t0k3n"
SECRETS = ("alice", "hunter2", "t0k3n")


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text
    assert "repo.example/provider-1.0.0-ark-biz.jar" in text


async def test_every_event_message_is_redacted() -> None:
    recorder = EventRecorder(client.ApiClient())
    module = {"apiVersion": "serverless.alipay.com/v1alpha1", "kind": "Module",
              "metadata": {"name": "m", "namespace": "ns", "uid": "u"}}
    recorder.record(module, "Warning", "InstallFailed", f"installBiz {URL}: FAILED")
    [body] = recorder.queued(module, "Warning", "InstallFailed")
    assert_clean(body["message"])
    await recorder.core.api_client.close()


def test_every_status_string_is_redacted_at_any_depth_and_nothing_else() -> None:
    status = {
        "status": "Failed", "reason": "InstallFailed", "message": f"could not fetch {URL}",
        "conditions": [{"type": "Ready", "message": f"url {URL}", "reason": "X"}],
        "releaseStatus": {"abortedModule": f"provider:1.0.2@{URL}", "progress": "Executing"},
        "url": URL,  # any field, not only messages: abortedModule carries a url
    }
    out = redact_messages(status)
    assert_clean(out["message"])
    assert_clean(out["conditions"][0]["message"])
    assert_clean(out["releaseStatus"]["abortedModule"])
    assert_clean(out["url"])
    assert status["message"] == f"could not fetch {URL}"  # the input is not changed
    keep = ("message", "conditions", "releaseStatus", "url")
    assert {k: v for k, v in out.items() if k not in keep} \
        == {k: v for k, v in status.items() if k not in keep}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_and_tracebacks_are_redacted(fmt: str) -> None:
    def emit() -> None:
        log = logging.getLogger("module_controller.test")
        log.info("installing %s on %s", URL, "10.0.0.1")
        log.warning("dict args %(url)s", {"url": URL})
        try:
            raise ValueError(f"bad download of {URL!r}")
        except ValueError:
            log.info("install failed", exc_info=True)

    output = controller_log_output(fmt, "INFO", emit)
    assert_clean(output)
    assert "Traceback" in output and "ValueError: bad download of" in output
    assert output.count("repo.example/provider") == 3
    if fmt == "json":
        lines = [json.loads(line) for line in output.splitlines()]
        assert "Traceback" in lines[-1]["exception"]


def test_filter_keeps_text_without_urls_and_formats_once() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d modules on %s", (3, "b"), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "3 modules on b"
    assert exception_text(logging.Formatter(), record) == ""

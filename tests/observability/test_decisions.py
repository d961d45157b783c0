"""Decision log lines (observability/decisions.py) through the controller's own log set-up."""

from __future__ import annotations

import json

import pytest

from module_controller.observability.decisions import decided

from helpers.logs import controller_log_output

URL = "https://user:s3cret@repo.example/provider-1.0.2-ark-biz.jar"


def test_text_line_names_object_decision_reason_and_facts() -> None:
    out = controller_log_output("text", "INFO", lambda: decided(
        "Module", ("ns", "m-1"), "install", "base has no biz of this name",
        version="1.0.2", base="pod a", skipped=None))
    (line,) = out.splitlines()
    assert "INFO module_controller.decisions: Module ns/m-1: decision=install" in line
    assert 'reason="base has no biz of this name" version=1.0.2 base="pod a"' in line
    assert "skipped" not in line  # a fact of None is left out


def test_no_op_decisions_are_debug_only() -> None:
    def emit() -> None:
        decided("ModuleReplicaSet", ("ns", "r"), "wait", "group not Available", changed=False)
        decided("ModuleReplicaSet", ("ns", "r"), "scale-up", "2 of 3 exist", created=1)

    quiet = controller_log_output("text", "INFO", emit)
    assert "decision=wait" not in quiet and "decision=scale-up" in quiet
    assert "decision=wait" in controller_log_output("text", "DEBUG", emit)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_facts_are_redacted(fmt: str) -> None:
    out = controller_log_output(fmt, "INFO", lambda: decided("Module", ("ns", "m"), "install", url=URL))
    assert "s3cret" not in out and "repo.example/provider" in out


def test_json_has_the_decision_as_fields() -> None:
    out = controller_log_output("json", "INFO", lambda: decided(
        "ModuleDeployment", ("ns", "md"), "next-group", "group 1 Available", group=2, of=4))
    entry = json.loads(out)
    assert entry["level"] == "INFO" and entry["logger"] == "module_controller.decisions"
    assert (entry["kind"], entry["object"], entry["decision"]) == ("ModuleDeployment", "ns/md",
                                                                    "next-group")
    assert (entry["reason"], entry["group"], entry["of"]) == ("group 1 Available", 2, 4)

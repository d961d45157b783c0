"""Unit tests of the pure protocol core: no sockets, no event loop."""

from __future__ import annotations

import re

import pytest

from module_controller.fakearklet.core import (
    COMMANDS,
    ArkletCore,
    PendingOp,
    Reply,
    derive_biz_identity,
    format_change_time,
    parse_body,
)

URL = "http://repo/provider-1.0.2-ark-biz.jar"


def run(core: ArkletCore, command: str, body: dict | None = None, now: float = 1000.0) -> Reply:
    """Handle a command to completion (begin + finish) and return the reply."""
    step = core.handle(command, body or {}, now=now)
    if isinstance(step, PendingOp):
        return core.finish(step, now=now + 0.5)
    return step


def install(core: ArkletCore, name: str, version: str, **extra: object) -> Reply:
    return run(core, "installBiz", {"bizName": name, "bizVersion": version,
                                    "bizUrl": f"file:///jars/{name}-{version}.jar", **extra})


def states(core: ArkletCore) -> dict[tuple[str, str], str]:
    return {(b["bizName"], b["bizVersion"]): b["bizState"] for b in core.bizzes()}


def test_parse_body_accepts_objects_and_empty_and_rejects_the_rest() -> None:
    assert parse_body(b'{"a": 1}') == {"a": 1}
    assert parse_body(b"") == {}
    assert parse_body(b"  \n") == {}
    assert parse_body('{"bizName": "模块"}'.encode()) == {"bizName": "模块"}
    for bad in (b"{", b"[1, 2]", b"42", b"null", b'"x"', b"\xff\xfe{}"):
        assert parse_body(bad) is None, bad


@pytest.mark.parametrize(("url", "expected"), [
    ("http://repo/provider-1.0.2-ark-biz.jar", ("provider", "1.0.2")),
    ("https://repo/a/b/my-module-2-1.0.0.jar?token=x", ("my-module-2", "1.0.0")),
    ("file:///tmp/demo-1.0.0-SNAPSHOT-ark-biz.jar", ("demo", "1.0.0-SNAPSHOT")),
    ("file:///tmp/%E6%A8%A1%E5%9D%97-2.3.jar", ("模块", "2.3")),
    ("http://repo/noversion.jar", None),
    ("http://repo/foo-3.jar", None),
])
def test_derive_biz_identity_from_jar_name(url: str, expected: tuple[str, str] | None) -> None:
    assert derive_biz_identity(url) == expected


def test_format_change_time_is_millisecond_utc() -> None:
    assert format_change_time(0.25) == "1970-01-01 00:00:00.250"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", format_change_time(1.7e9))


def test_unknown_flavour_is_rejected() -> None:
    with pytest.raises(ValueError):
        ArkletCore("2024")


def test_cmd_not_found_envelope_is_exact_in_2023_and_has_base_identity_in_2025() -> None:
    assert run(ArkletCore("2023"), "nope").envelope == {
        "code": "CMD_NOT_FOUND", "message": "please follow the doc"}
    env = run(ArkletCore("2025", base_identity="id-1"), "Health").envelope
    assert env == {"code": "CMD_NOT_FOUND", "message": "please follow the doc",
                   "baseIdentity": "id-1"}


def test_success_envelope_omits_null_fields() -> None:
    env = run(ArkletCore("2023"), "queryAllBiz").envelope
    assert env == {"code": "SUCCESS", "data": []}


@pytest.mark.parametrize(("flavour", "active"), [("2023", "ACTIVATED"), ("2025", "activated")])
def test_install_success_has_biz_infos_in_flavour_case(flavour: str, active: str) -> None:
    core = ArkletCore(flavour)
    reply = install(core, "provider", "1.0.2")
    assert reply.code == "SUCCESS"
    data = reply.data
    assert data["code"] == "SUCCESS"
    assert data["message"].startswith("Install Biz: provider:1.0.2 success")
    assert data["elapsedSpace"] == 500
    [info] = data["bizInfos"]
    assert (info["bizName"], info["bizVersion"], info["bizState"]) == ("provider", "1.0.2", active)
    assert ("bizStateRecords" in info) is (flavour == "2025")


def test_install_derives_name_and_version_from_the_url() -> None:
    core = ArkletCore()
    reply = run(core, "installBiz", {"bizUrl": URL})
    assert reply.data["bizInfos"][0]["bizName"] == "provider"
    assert states(core) == {("provider", "1.0.2"): "ACTIVATED"}


def test_repeat_install_is_failed_repeat_biz() -> None:
    core = ArkletCore()
    install(core, "provider", "1.0.2")
    reply = install(core, "provider", "1.0.2")
    assert reply.code == "FAILED"
    assert reply.envelope["message"] == "install biz not success!"
    assert reply.data["code"] == "REPEAT_BIZ"
    assert "provider:1.0.2" in reply.data["message"]


def test_new_version_of_active_name_starts_deactivated_and_switch_flips() -> None:
    core = ArkletCore()
    install(core, "p", "1")
    assert install(core, "p", "2").data["bizInfos"][0]["bizState"] == "DEACTIVATED"
    assert states(core) == {("p", "1"): "ACTIVATED", ("p", "2"): "DEACTIVATED"}
    reply = run(core, "switchBiz", {"bizName": "p", "bizVersion": "2"})
    assert reply.code == "SUCCESS" and reply.data["code"] == "SUCCESS"
    assert states(core) == {("p", "1"): "DEACTIVATED", ("p", "2"): "ACTIVATED"}
    # Switching to the active one is a no-op success.
    assert run(core, "switchBiz", {"bizName": "p", "bizVersion": "2"}).code == "SUCCESS"
    assert states(core)[("p", "2")] == "ACTIVATED"


def test_other_names_do_not_affect_initial_state() -> None:
    core = ArkletCore()
    install(core, "a", "1")
    assert install(core, "b", "1").data["bizInfos"][0]["bizState"] == "ACTIVATED"


def test_uninstalling_the_active_version_promotes_the_newest_waiting_one() -> None:
    core = ArkletCore()
    for v in ("1", "2", "3"):
        install(core, "p", v)
    assert run(core, "uninstallBiz", {"bizName": "p", "bizVersion": "1"}).code == "SUCCESS"
    assert states(core) == {("p", "2"): "DEACTIVATED", ("p", "3"): "ACTIVATED"}
    core.promote_on_uninstall = False
    run(core, "uninstallBiz", {"bizName": "p", "bizVersion": "3"})
    assert states(core) == {("p", "2"): "DEACTIVATED"}


def test_uninstall_and_switch_of_absent_biz_are_not_found() -> None:
    core = ArkletCore()
    for command, message in (("uninstallBiz", "uninstall biz not success!"),
                             ("switchBiz", "switch biz not success!")):
        reply = run(core, command, {"bizName": "p", "bizVersion": "9"})
        assert reply.code == "FAILED"
        assert reply.envelope["message"] == message
        assert reply.data["code"] == "NOT_FOUND_BIZ"


def test_switch_to_a_broken_biz_is_illegal_state() -> None:
    core = ArkletCore()
    install(core, "p", "1")
    core.set_biz_state("p", "1", "broken")
    reply = run(core, "switchBiz", {"bizName": "p", "bizVersion": "1"})
    assert (reply.code, reply.data["code"]) == ("FAILED", "ILLEGAL_STATE_BIZ")
    with pytest.raises(ValueError):
        core.set_biz_state("p", "1", "sleeping")
    with pytest.raises(KeyError):
        core.set_biz_state("p", "2", "BROKEN")


def test_lock_conflict_on_same_name_version_only() -> None:
    core = ArkletCore()
    first = core.handle("installBiz", {"bizName": "p", "bizVersion": "1", "bizUrl": URL})
    assert isinstance(first, PendingOp)
    assert core.busy_keys() == {"p:1"}
    for command in ("installBiz", "uninstallBiz", "switchBiz"):
        clash = core.handle(command, {"bizName": "p", "bizVersion": "1", "bizUrl": URL})
        assert isinstance(clash, Reply) and clash.code == "FAILED"
        assert "conflict, exist unfinished command" in clash.envelope["message"]
        assert "conflict, exist unfinished command" in clash.data["message"]
    other = core.handle("installBiz", {"bizName": "p", "bizVersion": "2", "bizUrl": URL})
    assert isinstance(other, PendingOp)  # versions are not serialised against each other
    assert core.finish(first).code == "SUCCESS"
    assert core.busy_keys() == {"p:2"}
    core.abandon(other)
    assert core.busy_keys() == frozenset()
    assert states(core) == {("p", "1"): "ACTIVATED"}


@pytest.mark.parametrize(("command", "body", "reason"), [
    ("installBiz", {"bizName": "p", "bizVersion": "1"}, "bizUrl should not be blank"),
    ("installBiz", {"bizUrl": "ftp://x/p-1.0.jar"}, "bizUrl should be a file://"),
    ("installBiz", {"bizUrl": "http:///p-1.0.jar"}, "bizUrl should be a file://"),
    ("installBiz", {"bizUrl": URL, "bizName": "p"}, "given together"),
    ("installBiz", {"bizUrl": URL, "bizVersion": "1"}, "given together"),
    ("installBiz", {"bizUrl": URL, "bizName": 5, "bizVersion": "1"}, "bizName should be a string"),
    ("installBiz", {"bizUrl": "http://repo/x.jar"}, "cannot read bizName"),
    ("installBiz", {"bizUrl": URL, "async": True}, "requestId should not be blank"),
    ("installBiz", {"bizUrl": URL, "async": "yes", "requestId": "r"}, "async should be"),
    ("uninstallBiz", {"bizName": "p"}, "bizVersion should not be blank"),
    ("switchBiz", {"bizVersion": "1"}, "bizName should not be blank"),
    ("queryBizOps", {}, "requestId should not be blank"),
    ("health", {"type": "disk"}, "health type"),
])
def test_invalid_input_is_internal_error_with_stack_trace(command: str, body: dict,
                                                          reason: str) -> None:
    core = ArkletCore()
    reply = run(core, command, body)
    assert reply.code == "CMD_PROCESS_INTERNAL_ERROR"
    assert reply.envelope["message"].startswith("Internal Error: ")
    assert reason in reply.envelope["message"]
    assert "CommandValidationException" in reply.envelope["errorStackTrace"]
    assert core.busy_keys() == frozenset() and core.bizzes() == []


def test_2025_only_fields_are_validated_in_2025_and_ignored_in_2023() -> None:
    body = {"bizUrl": URL, "installStrategy": "sometimes", "args": "x", "envs": [1]}
    assert run(ArkletCore("2023"), "installBiz", body).code == "SUCCESS"
    assert run(ArkletCore("2025"), "installBiz", body).code == "CMD_PROCESS_INTERNAL_ERROR"
    ok = {"bizUrl": URL, "args": ["--a"], "envs": {"K": "V"}, "installStrategy": "installOnly"}
    assert run(ArkletCore("2025"), "installBiz", ok).code == "SUCCESS"


def test_uninstall_then_install_replaces_other_versions_in_2025() -> None:
    core = ArkletCore("2025")
    install(core, "p", "1")
    install(core, "p", "2")
    install(core, "q", "1")
    reply = install(core, "p", "3", installStrategy="uninstallThenInstall")
    assert reply.data["bizInfos"][0]["bizState"] == "activated"
    assert states(core) == {("q", "1"): "activated", ("p", "3"): "activated"}


def test_query_all_biz_lists_modules_not_the_base() -> None:
    core = ArkletCore("2025", base_name="base")
    install(core, "p", "1")
    [item] = run(core, "queryAllBiz").data
    assert set(item) == {"bizName", "bizVersion", "bizState", "mainClass", "webContextPath",
                         "bizStateRecords"}
    assert [r["state"] for r in item["bizStateRecords"]] == ["resolved", "activated"]
    assert item["bizStateRecords"][0]["changeTime"] == format_change_time(1000.5)
    [item23] = run(_with(ArkletCore("2023"), "p", "1"), "queryAllBiz").data
    assert "bizStateRecords" not in item23 and item23["bizState"] == "ACTIVATED"


def _with(core: ArkletCore, name: str, version: str) -> ArkletCore:
    install(core, name, version)
    return core


def test_health_2023_shape_has_readiness_and_upper_case() -> None:
    core = _with(ArkletCore("2023", "mybase", "2.0"), "p", "1")
    health = run(core, "health").data["healthData"]
    assert health["masterBizInfo"]["bizName"] == "mybase"
    assert health["masterBizInfo"]["bizState"] == "ACTIVATED"
    assert health["masterBizHealth"] == {"readinessState": "ACCEPTING_TRAFFIC"}
    assert health["bizListInfo"][0]["bizState"] == "ACTIVATED"
    assert {"cpu", "jvm", "pluginListInfo"} <= set(health)
    core.base_ready = False
    health = run(core, "health").data["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "REFUSING_TRAFFIC"
    assert health["masterBizInfo"]["bizState"] == "RESOLVED"


def test_health_2025_shape_is_lower_case_without_readiness() -> None:
    core = _with(ArkletCore("2025"), "p", "1")
    env = run(core, "health").envelope
    assert env["baseIdentity"]
    health = env["data"]["healthData"]
    assert "masterBizHealth" not in health
    assert health["masterBizInfo"]["bizState"] == "activated"
    assert health["bizListInfo"][0]["bizState"] == "activated"


def test_health_types_select_parts() -> None:
    core = ArkletCore("2023")
    assert set(run(core, "health", {"type": "system"}).data["healthData"]) == {
        "jvm", "cpu", "masterBizInfo", "masterBizHealth"}
    assert set(run(core, "health", {"type": "biz"}).data["healthData"]) == {"bizListInfo"}
    assert set(run(core, "health", {"type": "plugin"}).data["healthData"]) == {"pluginListInfo"}


def test_help_lists_every_command() -> None:
    data = run(ArkletCore(), "help").data
    assert [d["id"] for d in data] == list(COMMANDS)
    assert all(d["desc"] for d in data)


def test_query_biz_ops_tracks_async_install() -> None:
    core = ArkletCore("2025")
    op = core.handle("installBiz", {"bizUrl": URL, "async": True, "requestId": "r1"}, now=1.0)
    assert isinstance(op, PendingOp) and op.asynchronous
    accepted = core.accepted(op)
    assert accepted.code == "SUCCESS" and accepted.data["requestId"] == "r1"
    assert run(core, "queryBizOps", {"requestId": "r1"}).data["status"] == "INITIALIZED"
    core.mark_executing(op)
    assert run(core, "queryBizOps", {"requestId": "r1"}).data["status"] == "EXECUTING"
    core.finish(op, now=2.0)
    record = run(core, "queryBizOps", {"requestId": "r1"}).data
    assert record["status"] == "SUCCEEDED"
    assert record["result"]["code"] == "SUCCESS"
    assert (record["startTime"], record["endTime"]) == (1000, 2000)
    missing = run(core, "queryBizOps", {"requestId": "nope"})
    assert missing.code == "FAILED" and missing.envelope["message"] == "query biz ops not success!"


def test_sync_op_with_request_id_that_fails_is_recorded_failed() -> None:
    core = ArkletCore()
    run(core, "uninstallBiz", {"bizName": "p", "bizVersion": "1", "requestId": "u1"})
    record = run(core, "queryBizOps", {"requestId": "u1"}).data
    assert record["status"] == "FAILED" and record["result"]["code"] == "NOT_FOUND_BIZ"


def test_restart_clears_bizzes_locks_and_ignores_stale_ops() -> None:
    core = ArkletCore()
    install(core, "p", "1")
    pending = core.handle("installBiz", {"bizName": "q", "bizVersion": "1", "bizUrl": URL})
    assert isinstance(pending, PendingOp)
    core.restart()
    assert core.bizzes() == [] and core.busy_keys() == frozenset()
    stale = core.finish(pending)
    assert stale.code == "FAILED" and "restarted" in stale.data["message"]
    assert core.bizzes() == []


def test_injected_failures_render_like_real_ones() -> None:
    core = ArkletCore("2023")
    failed = core.injected_failure("installBiz", "FAILED")
    assert failed.envelope["message"] == "install biz not success!"
    assert failed.data["code"] == "FAILED"
    internal = core.injected_failure("health", "CMD_PROCESS_INTERNAL_ERROR")
    assert internal.envelope["message"] == "Internal Error: injected fault"
    assert internal.envelope["errorStackTrace"]
    with pytest.raises(ValueError):
        core.injected_failure("health", "hang")


def test_reply_body_is_utf8_json_with_non_ascii_unescaped() -> None:
    core = ArkletCore()
    name = 'pro"vider-模块'
    reply = install(core, name, "1.0")
    raw = reply.body()
    assert "模块".encode() in raw and b'pro\\"vider' in raw
    assert core.bizzes()[0]["bizName"] == name

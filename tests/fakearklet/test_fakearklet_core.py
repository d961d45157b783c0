"""Unit tests of the pure protocol core: no sockets, no event loop.

Installs are driven the way the shell drives them (core_testkit.py): ``handle`` → (download:
jar bytes built from the url's file name, as the module repository would) → ``unpacked`` →
``finish``. The async installs' process records are in test_fakearklet_op_records.py.
"""

from __future__ import annotations

import re

import pytest

from module_controller_dev.fakearklet.answers import format_started_at
from module_controller_dev.fakearklet.core import ArkletCore
from module_controller_dev.fakearklet.vocabulary import COMMANDS, PendingOp, Reply, Started, parse_body
from module_controller_dev.fakearklet.jar import JarError, parse_manifest, read_biz_manifest
from module_controller_dev.modulerepo.jars import build_biz_jar

from core_testkit import URL, install, jar_for, run


def states(core: ArkletCore) -> dict[tuple[str, str], str]:
    return {(b["bizName"], b["bizVersion"]): b["bizState"] for b in core.bizzes()}


def test_parse_body_accepts_objects_and_empty_and_rejects_the_rest() -> None:
    assert parse_body(b'{"a": 1}') == {"a": 1}
    assert parse_body(b"") == {}
    assert parse_body(b"  \n") == {}
    assert parse_body('{"bizName": "模块"}'.encode()) == {"bizName": "模块"}
    for bad in (b"{", b"[1, 2]", b"42", b"null", b'"x"', b"\xff\xfe{}"):
        assert parse_body(bad) is None, bad


def test_manifest_is_read_with_continuation_lines() -> None:
    text = "Manifest-Version: 1.0\r\nArk-Biz-Name: a-very-long\r\n -name\r\nArk-Biz-Version: 1\r\n\r\n"
    assert parse_manifest(text)["Ark-Biz-Name"] == "a-very-long-name"
    manifest = read_biz_manifest(build_biz_jar("provider", "1.0.2"))
    assert (manifest.name, manifest.version) == ("provider", "1.0.2")
    with pytest.raises(JarError, match="zip END header not found"):
        read_biz_manifest(b"<html>not a jar</html>")


def test_started_at_has_comma_millis() -> None:
    assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3}", format_started_at(1.7e9 + 0.437))
    assert format_started_at(1.7e9 + 0.437).endswith(",437")


def test_unknown_flavour_is_rejected() -> None:
    with pytest.raises(ValueError):
        ArkletCore("2024")


@pytest.mark.parametrize("flavour", ["2023", "2025"])
def test_no_base_identity_and_exact_cmd_not_found(flavour: str) -> None:
    for command in ("nope", "Health", "queryAllBiz/", ""):
        assert run(ArkletCore(flavour), command).envelope == {
            "code": "CMD_NOT_FOUND", "message": "please follow the doc"}
    assert "baseIdentity" not in run(ArkletCore(flavour), "health").envelope


def test_success_envelope_omits_null_fields() -> None:
    assert run(ArkletCore("2023"), "queryAllBiz").envelope == {"code": "SUCCESS", "data": []}


@pytest.mark.parametrize(("flavour", "active"), [("2023", "ACTIVATED"), ("2025", "activated")])
def test_install_success_carries_the_whole_biz_model(flavour: str, active: str) -> None:
    core = ArkletCore(flavour)
    reply = install(core, "provider", "1.0.2")
    assert reply.code == "SUCCESS" and "message" not in reply.envelope
    data = reply.data
    assert list(data) == ["bizInfos", "code", "elapsedSpace", "message"]
    assert re.fullmatch(r"Install Biz: provider:1\.0\.2 success, cost: 500 ms, "
                        r"started at: \d\d:\d\d:\d\d,\d{3}", data["message"])
    [info] = data["bizInfos"]
    assert (info["bizName"], info["bizVersion"], info["bizState"]) == ("provider", "1.0.2", active)
    assert info["identity"] == "provider:1.0.2" and info["priority"] == 100
    assert {"classPath", "bizTempWorkDir", "denyImportPackages", "declaredMode",
            "mainClass", "webContextPath", "attributes"} <= set(info)
    if flavour == "2025":
        assert info["bizStateRecords"] == [{}, {}]
        assert info["bizUrl"].startswith("file:") and "provider-1.0.2-" in info["bizTempWorkDir"]
    else:
        assert "bizStateRecords" not in info and "bizUrl" not in info
        assert "/null-null-" in info["bizTempWorkDir"]


def test_install_takes_the_identity_from_the_manifest() -> None:
    core = ArkletCore()
    reply = run(core, "installBiz", {"bizUrl": URL})
    assert reply.data["bizInfos"][0]["bizName"] == "provider"
    # Asking for other:7.7.7 with the provider-2.0.0 jar installs provider:2.0.0.
    reply = run(core, "installBiz", {"bizName": "other", "bizVersion": "7.7.7",
                                     "bizUrl": "http://repo/provider-2.0.0-ark-biz.jar"})
    assert reply.code == "SUCCESS"
    assert reply.data["message"].startswith("Install Biz: provider:2.0.0 success")
    assert states(core) == {("provider", "1.0.2"): "ACTIVATED",
                            ("provider", "2.0.0"): "DEACTIVATED"}
    # ... and with the jar of an installed identity, REPEAT_BIZ naming that identity.
    reply = run(core, "installBiz", {"bizName": "other", "bizVersion": "7.7.7", "bizUrl": URL})
    assert (reply.code, reply.data["code"]) == ("FAILED", "REPEAT_BIZ")
    assert reply.data["message"] == "Biz: provider:1.0.2 has been installed or registered."


def test_repeat_install_is_failed_repeat_biz_with_elapsed_space() -> None:
    core = ArkletCore()
    install(core, "provider", "1.0.2")
    reply = install(core, "provider", "1.0.2")
    assert reply.envelope["message"] == "install biz not success!"
    assert list(reply.data) == ["code", "elapsedSpace", "message"]
    assert reply.data["code"] == "REPEAT_BIZ"
    assert isinstance(reply.data["elapsedSpace"], int)
    assert core.busy_keys() == frozenset()


@pytest.mark.parametrize(("jar", "text"), [
    (b"<html></html>", "java.util.zip.ZipException: zip END header not found"),
])
def test_a_body_that_is_no_jar_is_internal_error_and_nothing_listed(jar: bytes, text: str) -> None:
    core = ArkletCore("2025")
    reply = run(core, "installBiz", {"bizName": "p", "bizVersion": "1", "bizUrl": URL}, jar=jar)
    assert reply.code == "CMD_PROCESS_INTERNAL_ERROR"
    assert reply.envelope["message"] == f"Internal Error: {text}"
    assert reply.envelope["errorStackTrace"].startswith(
        f"com.alipay.sofa.koupleless.arklet.core.common.exception.ArkletRuntimeException: {text}")
    assert "data" not in reply.envelope
    assert core.bizzes() == [] and core.busy_keys() == frozenset()


def test_download_failure_is_internal_error_with_the_java_text() -> None:
    core = ArkletCore("2023")
    op = core.handle("installBiz", {"bizName": "p", "bizVersion": "1", "bizUrl": URL})
    assert isinstance(op, PendingOp)
    reply = core.download_failed(op, f"java.io.FileNotFoundException: {URL}")
    assert reply.envelope["message"] == f"Internal Error: java.io.FileNotFoundException: {URL}"
    assert reply.envelope["errorStackTrace"].startswith(
        "com.alipay.sofa.serverless.arklet.core.common.exception.ArkletRuntimeException: ")
    assert core.bizzes() == [] and core.busy_keys() == frozenset()


def test_url_without_scheme_is_malformed_url_at_once() -> None:
    reply = run(ArkletCore(), "installBiz", {"bizName": "p", "bizVersion": "1",
                                             "bizUrl": "/srv/jars/p-1-ark-biz.jar"})
    assert reply.envelope["message"] == \
        "Internal Error: java.net.MalformedURLException: no protocol: /srv/jars/p-1-ark-biz.jar"


def test_biz_is_resolved_while_it_starts() -> None:
    core = ArkletCore("2025")
    op = core.handle("installBiz", {"bizName": "p", "bizVersion": "1",
                                    "bizUrl": "http://r/p-1.0-ark-biz.jar"})
    assert isinstance(op, PendingOp)
    assert isinstance(core.unpacked(op, build_biz_jar("p", "1.0")), Started)
    assert states(core) == {("p", "1.0"): "resolved"}
    health = run(core, "health", {"type": "biz"}).data["healthData"]["bizListInfo"]
    assert [b["bizState"] for b in health] == ["resolved", "activated"]
    assert core.finish(op).code == "SUCCESS"
    assert states(core) == {("p", "1.0"): "activated"}


def test_new_version_of_active_name_starts_deactivated_and_switch_flips() -> None:
    core = ArkletCore()
    install(core, "p", "1.0")
    assert install(core, "p", "2.0").data["bizInfos"][0]["bizState"] == "DEACTIVATED"
    assert states(core) == {("p", "1.0"): "ACTIVATED", ("p", "2.0"): "DEACTIVATED"}
    reply = run(core, "switchBiz", {"bizName": "p", "bizVersion": "2.0"})
    assert reply.envelope == {"code": "SUCCESS", "data": {
        "code": "SUCCESS", "message": "Switch biz: p:2.0 is activated."}}
    assert states(core) == {("p", "1.0"): "DEACTIVATED", ("p", "2.0"): "ACTIVATED"}
    assert run(core, "switchBiz", {"bizName": "p", "bizVersion": "2.0"}).code == "SUCCESS"


def test_query_all_biz_lists_in_registry_hash_order_whatever_the_states() -> None:
    # Real bases list by hash bin (sofa-ark's ConcurrentHashMap), not by install order: 1.0.2
    # installed after 2.0.0 still comes second, as recorded from both generations.
    core = ArkletCore("2025")
    install(core, "p", "2.0.0")
    install(core, "p", "1.0.2")
    run(core, "switchBiz", {"bizName": "p", "bizVersion": "1.0.2"})
    data = run(core, "queryAllBiz").data
    assert [(b["bizVersion"], b["bizState"]) for b in data] == [("2.0.0", "deactivated"),
                                                                ("1.0.2", "activated")]
    assert [b["bizStateRecords"] for b in data] == [[{}, {}, {}], [{}, {}, {}]]
    assert list(data[0]) == ["bizName", "bizState", "bizStateRecords", "bizVersion",
                             "mainClass", "webContextPath"]


def test_uninstalling_the_active_version_promotes_nothing() -> None:
    core = ArkletCore()
    install(core, "p", "1.0")
    install(core, "p", "2.0")
    reply = run(core, "uninstallBiz", {"bizName": "p", "bizVersion": "1.0"})
    assert reply.envelope == {"code": "SUCCESS", "data": {
        "code": "SUCCESS", "message": "Uninstall biz: p:1.0 success."}}
    assert states(core) == {("p", "2.0"): "DEACTIVATED"}


@pytest.mark.parametrize("flavour", ["2023", "2025"])
def test_uninstall_of_the_master_biz_is_refused(flavour: str) -> None:
    core = ArkletCore(flavour, base_name="ra-base", base_version="1.0.0")
    reply = run(core, "uninstallBiz", {"bizName": "ra-base", "bizVersion": "1.0.0"})
    assert reply.envelope == {"code": "FAILED", "message": "uninstall biz not success!", "data": {
        "code": "FAILED", "message": "Master biz must not be uninstalled."}}
    other = run(core, "uninstallBiz", {"bizName": "ra-base", "bizVersion": "9"})
    assert other.data["code"] == "NOT_FOUND_BIZ"


def test_uninstall_and_switch_of_absent_biz_are_not_found() -> None:
    core = ArkletCore()
    for command, message, text in (
            ("uninstallBiz", "uninstall biz not success!", "Uninstall biz: p:9 not found."),
            ("switchBiz", "switch biz not success!", "Switch biz: p:9 not found.")):
        reply = run(core, command, {"bizName": "p", "bizVersion": "9"})
        assert reply.envelope == {"code": "FAILED", "message": message,
                                  "data": {"code": "NOT_FOUND_BIZ", "message": text}}


def test_switch_to_a_broken_biz_is_illegal_state() -> None:
    core = ArkletCore()
    install(core, "p", "1.0")
    core.set_biz_state("p", "1.0", "broken")
    reply = run(core, "switchBiz", {"bizName": "p", "bizVersion": "1.0"})
    assert (reply.code, reply.data["code"]) == ("FAILED", "ILLEGAL_STATE_BIZ")
    with pytest.raises(ValueError):
        core.set_biz_state("p", "1.0", "sleeping")
    with pytest.raises(KeyError):
        core.set_biz_state("p", "2", "BROKEN")


def test_lock_conflict_has_the_recorded_shape() -> None:
    core = ArkletCore()
    body = {"bizName": "provider", "bizVersion": "1.0.2", "bizUrl": URL}
    first = core.handle("installBiz", body)
    assert isinstance(first, PendingOp)
    assert core.busy_keys() == {"provider:1.0.2"}
    clash = core.handle("installBiz", body)
    assert isinstance(clash, Reply)
    assert clash.envelope == {"code": "FAILED", "message": "FAILED:provider:1.0.2 installBiz "
                              "conflict, exist unfinished command(installBiz) for this biz"}
    clash = core.handle("uninstallBiz", body)
    assert isinstance(clash, Reply) and "uninstallBiz conflict" in clash.envelope["message"]
    other = core.handle("installBiz", {**body, "bizVersion": "2.0.0"})
    assert isinstance(other, PendingOp)  # versions are not serialised against each other
    assert isinstance(core.unpacked(first, jar_for(URL)), Started)
    assert core.finish(first).code == "SUCCESS"
    assert core.busy_keys() == {"provider:2.0.0"}
    core.abandon(other)
    assert core.busy_keys() == frozenset()
    assert states(core) == {("provider", "1.0.2"): "ACTIVATED"}


def test_install_without_name_takes_no_lock() -> None:
    core = ArkletCore()
    op = core.handle("installBiz", {"bizUrl": URL})
    assert isinstance(op, PendingOp) and op.key is None and core.busy_keys() == frozenset()


@pytest.mark.parametrize(("command", "body", "reason"), [
    ("installBiz", {"bizName": "p", "bizVersion": "1"}, "bizUrl should not be blank"),
    ("installBiz", {"bizUrl": URL, "bizName": "p"},
     "bizName and bizVersion should be both blank or both not blank."),
    ("installBiz", {"bizUrl": URL, "bizVersion": "1"},
     "bizName and bizVersion should be both blank or both not blank."),
    ("installBiz", {"bizUrl": URL, "async": True}, "requestId should not be blank"),
    ("uninstallBiz", {"bizName": "p"}, "bizVersion should not be blank"),
    ("switchBiz", {"bizVersion": "1"}, "bizName should not be blank"),
    ("queryBizOps", {}, "requestId should not be blank"),
    ("health", {"type": "x"}, "type: x can not be found"),
])
def test_invalid_input_is_internal_error_with_the_recorded_text(command: str, body: dict,
                                                                reason: str) -> None:
    core = ArkletCore()
    reply = run(core, command, body)
    assert reply.code == "CMD_PROCESS_INTERNAL_ERROR"
    assert reply.envelope["message"] == f"Internal Error: {reason}"
    assert reply.envelope["errorStackTrace"].startswith(
        f"com.alipay.sofa.serverless.arklet.core.common.exception.CommandValidationException: "
        f"{reason}\n")
    assert core.busy_keys() == frozenset() and core.bizzes() == []


@pytest.mark.parametrize("flavour", ["2023", "2025"])
def test_empty_install_body_is_a_null_pointer(flavour: str) -> None:
    reply = ArkletCore(flavour).handle("installBiz", {}, empty=True)
    assert isinstance(reply, Reply) and reply.code == "CMD_PROCESS_INTERNAL_ERROR"
    assert reply.envelope["message"].startswith('Internal Error: Cannot invoke "com.alipay.sofa.')
    assert reply.envelope["message"].endswith('.isAsync()" because "input" is null')
    assert reply.envelope["errorStackTrace"].startswith("java.lang.NullPointerException: ")
    assert ArkletCore(flavour).handle("queryAllBiz", {}, empty=True).code == "SUCCESS"


def test_uninstall_then_install_honoured_by_2025_ignored_by_2023() -> None:
    core = ArkletCore("2025")
    install(core, "p", "1.0")
    install(core, "q", "1.0")
    reply = install(core, "p", "2.0", installStrategy="uninstallThenInstall")
    assert reply.data["bizInfos"][0]["bizState"] == "activated"
    assert states(core) == {("q", "1.0"): "activated", ("p", "2.0"): "activated"}
    core23 = ArkletCore("2023")
    install(core23, "p", "1.0")
    reply = install(core23, "p", "2.0", installStrategy="uninstallThenInstall")
    assert reply.data["bizInfos"][0]["bizState"] == "DEACTIVATED"
    assert states(core23) == {("p", "1.0"): "ACTIVATED", ("p", "2.0"): "DEACTIVATED"}


def _with(core: ArkletCore, name: str, version: str) -> ArkletCore:
    install(core, name, version)
    return core


JVM_2023 = {"committed heap memory(M)", "committed non heap memory(M)", "free memory(M)",
            "init heap memory(M)", "init non heap memory(M)", "java home", "java version",
            "loaded class count", "max heap memory(M)", "max memory(M)",
            "max non heap memory(M)", "run time(s)", "total class count", "total memory(M)",
            "unload class count", "used heap memory(M)", "used non heap memory(M)"}
JVM_2025 = JVM_2023 | {"java max metaspace", "java committed metaspace", "java used metaspace"}
CPU = {"count", "free (%)", "system used (%)", "total used (%)", "type", "user used (%)"}


def test_health_2023_shape_has_readiness_and_the_base_in_the_biz_list() -> None:
    core = _with(ArkletCore("2023", "mybase", "2.0"), "p", "1.0")
    health = run(core, "health").data["healthData"]
    assert list(health) == ["jvm", "cpu", "masterBizInfo", "pluginListInfo", "masterBizHealth",
                            "bizListInfo"]
    assert set(health["jvm"]) == JVM_2023 and set(health["cpu"]) == CPU
    assert health["masterBizInfo"] == {"bizName": "mybase", "bizState": "ACTIVATED",
                                       "bizVersion": "2.0", "webContextPath": "/"}
    assert health["masterBizHealth"] == {"readinessState": "ACCEPTING_TRAFFIC"}
    assert [b["bizName"] for b in health["bizListInfo"]] == ["p", "mybase"]
    core.base_ready = False  # start-up: ACTIVATED but refusing traffic (~0.2 s recorded)
    health = run(core, "health").data["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "REFUSING_TRAFFIC"
    assert health["masterBizInfo"]["bizState"] == "ACTIVATED"


def test_health_2025_shape_is_lower_case_without_readiness() -> None:
    core = _with(ArkletCore("2025"), "p", "1.0")
    health = run(core, "health").data["healthData"]
    assert list(health) == ["jvm", "cpu", "masterBizInfo", "pluginListInfo", "bizListInfo"]
    assert set(health["jvm"]) == JVM_2025
    assert health["masterBizInfo"]["bizState"] == "activated"
    assert [b["bizState"] for b in health["bizListInfo"]] == ["activated", "activated"]
    core.base_ready = False  # nothing to show: the 2025 base's first answer is the ready one
    assert "masterBizHealth" not in run(core, "health").data["healthData"]


def test_health_types_select_parts() -> None:
    core = ArkletCore("2023")
    assert set(run(core, "health", {"type": "system"}).data["healthData"]) == {
        "jvm", "cpu", "masterBizInfo", "masterBizHealth"}
    assert run(core, "health", {"type": "biz"}).data["healthData"] == {"bizListInfo": [
        {"bizName": "base", "bizState": "ACTIVATED", "bizVersion": "1.0.0",
         "webContextPath": "/"}]}
    assert set(run(core, "health", {"type": "plugin"}).data["healthData"]) == {"pluginListInfo"}


def test_help_lists_every_command_as_recorded() -> None:
    data = run(ArkletCore(), "help").data
    assert [d["id"] for d in data] == ["health", "queryAllBiz", "help", "uninstallBiz",
                                       "switchBiz", "installBiz", "queryBizOps"]
    assert set(COMMANDS) == {d["id"] for d in data}


def test_restart_clears_bizzes_locks_and_ignores_stale_ops() -> None:
    core = ArkletCore()
    install(core, "p", "1.0")
    pending = core.handle("installBiz", {"bizName": "q", "bizVersion": "1", "bizUrl": URL})
    assert isinstance(pending, PendingOp)
    core.restart()
    assert core.bizzes() == [] and core.busy_keys() == frozenset()
    stale = core.unpacked(pending, jar_for(URL))
    assert isinstance(stale, Reply) and "restarted" in stale.data["message"]
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
    reply = run(core, "installBiz", {"bizUrl": URL}, jar=build_biz_jar(name, "1.0"))
    raw = reply.body()
    assert "模块".encode() in raw and b'pro\\"vider' in raw
    assert core.bizzes()[0]["bizName"] == name

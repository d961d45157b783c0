"""Unit tests of the pure protocol module: bodies, envelopes, states, health, addresses."""

from __future__ import annotations

import json

import pytest

from module_controller.api import constants
from module_controller.arklet import (
    ARKLET_PORT_ANNOTATION, ArkletResult, BizInfo, BizRef, Outcome, ProtocolError, arklet_port,
    base_url,
)
from module_controller.arklet import protocol as p

# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "port", "url"), [
    ("::1", 1238, "http://[::1]:1238"),
    ("[::1]", 1238, "http://[::1]:1238"),
    ("0:0:0:0:0:0:0:1", 1239, "http://[::1]:1239"),
    ("fd00:10:244::5", 1238, "http://[fd00:10:244::5]:1238"),
    ("10.244.0.5", 1238, "http://10.244.0.5:1238"),
    ("Base-1.example", 80, "http://base-1.example:80"),
])
def test_base_url_brackets_ipv6(host: str, port: int, url: str) -> None:
    assert base_url(host, port) == url


@pytest.mark.parametrize("port", [0, 65536, -1, True, "1238"])
def test_base_url_rejects_bad_ports(port: object) -> None:
    with pytest.raises(ValueError):
        base_url("10.0.0.1", port)  # type: ignore[arg-type]


def test_command_url() -> None:
    assert p.command_url("::1", 1238, "installBiz") == "http://[::1]:1238/installBiz"
    with pytest.raises(ValueError):
        p.command_url("::1", 1238, "a/b")


def test_port_annotation_key_matches_the_api_constants() -> None:
    assert ARKLET_PORT_ANNOTATION == constants.ANNOTATION_ARKLET_PORT
    assert p.DEFAULT_PORT == constants.DEFAULT_ARKLET_PORT


@pytest.mark.parametrize(("annotations", "expected"), [
    (None, 1238),
    ({}, 1238),
    ({ARKLET_PORT_ANNOTATION: "1240"}, 1240),
    ({ARKLET_PORT_ANNOTATION: " 1337 "}, 1337),
    ({ARKLET_PORT_ANNOTATION: "0"}, 1238),
    ({ARKLET_PORT_ANNOTATION: "65536"}, 1238),
    ({ARKLET_PORT_ANNOTATION: "-5"}, 1238),
    ({ARKLET_PORT_ANNOTATION: "+80"}, 1238),
    ({ARKLET_PORT_ANNOTATION: "12.5"}, 1238),
    ({ARKLET_PORT_ANNOTATION: "abc"}, 1238),
    ({ARKLET_PORT_ANNOTATION: ""}, 1238),
    ({ARKLET_PORT_ANNOTATION: "١٢٣٤"}, 1238),  # Arabic-Indic digits: int() would accept them
    ({"other/arklet-port": "1240"}, 1238),
])
def test_arklet_port_from_annotation(annotations: dict[str, str] | None, expected: int) -> None:
    assert arklet_port(annotations, 1238) == expected


# --- requests --------------------------------------------------------------------------------


def test_bodies_are_json_with_quotes_and_non_ascii_intact() -> None:
    name = 'pro"vider-模块\\'
    body = p.install_body(BizRef(name, "1.0.0", "http://repo/a.jar?x=\"y\""))
    raw = p.encode_body(body)
    raw.decode("ascii")  # ASCII-only on the wire, whatever charset the base decodes with
    assert json.loads(raw) == {"bizName": name, "bizVersion": "1.0.0",
                               "bizUrl": "http://repo/a.jar?x=\"y\""}
    assert json.loads(p.encode_body(p.biz_body(name, "2"))) == {"bizName": name,
                                                                "bizVersion": "2"}
    assert p.encode_body(p.empty_body()) == b"{}"


@pytest.mark.parametrize("biz", [
    BizRef("a", "1.0.0"),  # install needs a URL
    BizRef("", "1.0.0", "http://x/a.jar"),
    BizRef("a", "  ", "http://x/a.jar"),
])
def test_install_body_rejects_incomplete_refs(biz: BizRef) -> None:
    with pytest.raises(ValueError):
        p.install_body(biz)


def test_biz_body_rejects_blank_fields() -> None:
    with pytest.raises(ValueError):
        p.biz_body("a", "")


# --- replies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"",
    b"not json",
    b"{\"code\":",
    b"[1,2]",
    b"{\"message\":\"no code\"}",
    b"{\"code\":7}",
    b"\xff\xfe{}",
])
def test_decode_reply_rejects_what_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        p.decode_reply(raw)


def test_decode_reply_accepts_utf8() -> None:
    envelope = p.decode_reply('{"code":"SUCCESS","message":"模块"}'.encode())
    assert envelope == {"code": "SUCCESS", "message": "模块"}


def _failed(data_code: str, message: str, top: str = "install biz not success!") -> dict:
    return {"code": "FAILED", "message": top, "data": {"code": data_code, "message": message}}


@pytest.mark.parametrize(("command", "envelope", "outcome", "ok"), [
    (p.INSTALL, {"code": "SUCCESS", "data": {"code": "SUCCESS", "message": "done"}},
     Outcome.SUCCESS, True),
    (p.INSTALL, _failed("REPEAT_BIZ", "Biz: a:1 has been installed or registered."),
     Outcome.REPEAT_BIZ, False),
    (p.UNINSTALL, _failed("NOT_FOUND_BIZ", "Uninstall biz: a:1 not found."),
     Outcome.NOT_FOUND_BIZ, True),
    (p.SWITCH, _failed("NOT_FOUND_BIZ", "Switch biz: a:1 not found."),
     Outcome.NOT_FOUND_BIZ, False),
    (p.SWITCH, _failed("ILLEGAL_STATE_BIZ", "illegal state broken"),
     Outcome.ILLEGAL_STATE_BIZ, False),
    (p.INSTALL, _failed("FAILED", "Conflict, exist unfinished command(installBiz) for a:1"),
     Outcome.CONFLICT, False),
    (p.INSTALL, {"code": "FAILED", "message": "conflict, exist unfinished command for a:1"},
     Outcome.CONFLICT, False),
    (p.INSTALL, _failed("FAILED", "download failed"), Outcome.FAILED, False),
    (p.INSTALL, {"code": "CMD_PROCESS_INTERNAL_ERROR", "message": "Internal Error: bad url",
                 "errorStackTrace": "..."}, Outcome.INTERNAL_ERROR, False),
    (p.HEALTH, {"code": "CMD_NOT_FOUND", "message": "please follow the doc"},
     Outcome.CMD_NOT_FOUND, False),
    (p.INSTALL, {"code": "SOMETHING_NEW"}, Outcome.FAILED, False),
])
def test_parse_envelope_outcomes(command: str, envelope: dict, outcome: Outcome,
                                 ok: bool) -> None:
    result = p.parse_envelope(command, envelope)
    assert result.outcome is outcome
    assert result.ok is ok
    assert result.code == envelope["code"]
    assert result.raw == envelope


def test_message_is_the_real_reason() -> None:
    result = p.parse_envelope(p.UNINSTALL, _failed("NOT_FOUND_BIZ", "provider:1 not found.",
                                                   top="uninstall biz not success!"))
    assert result.message == "provider:1 not found."
    assert result.data_code == "NOT_FOUND_BIZ"
    internal = p.parse_envelope(p.INSTALL, {"code": "CMD_PROCESS_INTERNAL_ERROR",
                                            "message": "Internal Error: boom"})
    assert (internal.message, internal.data_code) == ("Internal Error: boom", None)
    assert p.parse_envelope(p.INSTALL, {"code": "FAILED"}).message == ""


@pytest.mark.parametrize(("written", "normal"), [
    ("ACTIVATED", "ACTIVATED"), ("activated", "ACTIVATED"), ("Deactivated", "DEACTIVATED"),
    ("stopped", "STOPPED"), (" broken ", "BROKEN"), (None, "UNKNOWN"), ("", "UNKNOWN"),
    (3, "UNKNOWN"),
])
def test_states_normalise_case_insensitively(written: object, normal: str) -> None:
    assert p.normalise_state(written) == normal


def test_query_all_and_install_biz_infos_both_generations() -> None:
    listed = p.parse_envelope(p.QUERY_ALL, {"code": "SUCCESS", "data": [
        {"bizName": "a", "bizVersion": "1", "bizState": "activated", "bizStateRecords": []},
        {"bizName": "a", "bizVersion": "2", "bizState": "DEACTIVATED"},
    ]})
    assert listed.biz_infos == (BizInfo("a", "1", "ACTIVATED"), BizInfo("a", "2", "DEACTIVATED"))
    assert listed.biz_infos[0].activated and not listed.biz_infos[1].activated
    installed = p.parse_envelope(p.INSTALL, {"code": "SUCCESS", "data": {
        "code": "SUCCESS",
        "bizInfos": [{"bizName": "b", "bizVersion": "1", "bizState": "resolved"}],
    }})
    assert installed.biz_infos == (BizInfo("b", "1", "RESOLVED"),)
    empty = p.parse_envelope(p.QUERY_ALL, {"code": "SUCCESS"})
    assert empty.biz_infos == ()


@pytest.mark.parametrize("data", [{"not": "a list"}, [1], [{"bizName": "a"}]])
def test_query_all_with_impossible_data_is_a_protocol_error(data: object) -> None:
    with pytest.raises(ProtocolError):
        p.parse_envelope(p.QUERY_ALL, {"code": "SUCCESS", "data": data})


def test_arklet_result_is_frozen() -> None:
    result = ArkletResult("installBiz", Outcome.SUCCESS, "SUCCESS", None, "")
    with pytest.raises(AttributeError):
        result.message = "x"  # type: ignore[misc]


# --- health ----------------------------------------------------------------------------------


def _health(state: str | None, readiness: str | None = None, code: str = "SUCCESS") -> dict:
    health: dict = {"jvm": {}, "cpu": {}}
    if state is not None:
        health["masterBizInfo"] = {"bizName": "base", "bizVersion": "1", "bizState": state}
    if readiness is not None:
        health["masterBizHealth"] = {"readinessState": readiness}
    return {"code": code, "data": {"healthData": health}}


@pytest.mark.parametrize(("envelope", "ready", "master", "readiness"), [
    (_health("ACTIVATED", "ACCEPTING_TRAFFIC"), True, "ACTIVATED", "ACCEPTING_TRAFFIC"),  # 2023
    (_health("ACTIVATED", "REFUSING_TRAFFIC"), False, "ACTIVATED", "REFUSING_TRAFFIC"),
    (_health("RESOLVED", "ACCEPTING_TRAFFIC"), False, "RESOLVED", "ACCEPTING_TRAFFIC"),
    (_health("activated"), True, "ACTIVATED", None),  # 2025: no readinessState
    (_health("resolved"), False, "RESOLVED", None),
    (_health("activated", code="FAILED"), False, "ACTIVATED", None),
    (_health(None), False, None, None),
    ({"code": "SUCCESS"}, False, None, None),
    ({"code": "CMD_NOT_FOUND", "message": "please follow the doc"}, False, None, None),
])
def test_health_interpretation(envelope: dict, ready: bool, master: str | None,
                               readiness: str | None) -> None:
    health = p.parse_health(envelope)
    assert (health.ready, health.master_state, health.readiness) == (ready, master, readiness)
    assert health.raw == envelope


def test_normalise_host() -> None:
    assert p.normalise_host("[0::1]") == p.normalise_host("::1") == "::1"
    assert p.normalise_host("10.0.0.1") == "10.0.0.1"
    with pytest.raises(ValueError):
        p.normalise_host(" ")

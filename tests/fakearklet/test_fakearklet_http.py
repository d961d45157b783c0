"""Conformance of the fake Arklet over real HTTP (in-process servers on loopback addresses)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from module_controller.fakearklet import FakeArklet, FaultPlan
from module_controller.modulerepo import ModuleRepository
from module_controller.fakearklet.testing import (
    ArkletHttp,
    MakeArklet,
    build_request,
    raw_exchange,
    wait_until,
)

JAR = "http://repo/provider-1.0.2-ark-biz.jar"


def install_body(name: str = "provider", version: str = "1.0.2", **extra: object) -> dict:
    return {"bizName": name, "bizVersion": version,
            "bizUrl": f"http://repo/{name}-{version}-ark-biz.jar", **extra}


def states(arklet: FakeArklet) -> dict[tuple[str, str], str]:
    return {(b["bizName"], b["bizVersion"]): b["bizState"] for b in arklet.bizzes()}


# ---------------------------------------------------------------- transport quirks


async def test_reply_has_no_headers_and_connection_closes(arklet: FakeArklet) -> None:
    reply = await raw_exchange(arklet.host, arklet.port, build_request("health", {}), timeout=5)
    assert reply.eof, "the server must close the connection after the reply"
    assert reply.head == b"HTTP/1.1 200 OK"
    assert b"content-length" not in reply.data.lower()
    assert b"content-type" not in reply.data.lower()
    assert reply.json()["code"] == "SUCCESS"


async def test_plain_aiohttp_session_reads_reply_to_eof(arklet: FakeArklet) -> None:
    # A default (keep-alive) client must still get whole bodies, call after call.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for _ in range(3):
            async with session.post(f"{arklet.url}/queryAllBiz", json={}) as resp:
                assert resp.status == 200
                assert await resp.json(content_type=None) == {"code": "SUCCESS", "data": []}


async def test_chunked_request_body_is_accepted(arklet: FakeArklet) -> None:
    request = build_request("installBiz", install_body(), chunked=True)
    reply = await raw_exchange(arklet.host, arklet.port, request, timeout=5)
    assert reply.json()["code"] == "SUCCESS"
    assert states(arklet) == {("provider", "1.0.2"): "ACTIVATED"}


async def test_query_string_is_ignored_and_command_is_case_sensitive(
        arklet: FakeArklet, http: ArkletHttp) -> None:
    assert (await http.ok(arklet, "health?verbose=1"))["code"] == "SUCCESS"
    assert (await http.ok(arklet, "Health"))["code"] == "CMD_NOT_FOUND"


async def test_unknown_command_is_cmd_not_found(arklet: FakeArklet, http: ArkletHttp) -> None:
    assert await http.ok(arklet, "deployBiz") == {"code": "CMD_NOT_FOUND",
                                                  "message": "please follow the doc"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_non_post_is_the_recorded_http_500(arklet: FakeArklet, method: str) -> None:
    reply = await raw_exchange(arklet.host, arklet.port,
                               build_request("health", method=method), timeout=5)
    assert reply.eof
    assert reply.data == (b"HTTP/1.1 500 Internal Server Error\r\nContent_Length: 42\r\n\r\n"
                          b"POST http request only supported by arklet")
    assert arklet.requests[-1].http_status == 500 and arklet.requests[-1].method == method


async def test_body_over_one_mib_is_413_and_the_connection_stays_open(
        arklet: FakeArklet) -> None:
    request = build_request("health", b" " * (1024 * 1024 + 1))
    reply = await raw_exchange(arklet.host, arklet.port, request, timeout=0.5)
    assert not reply.eof
    assert reply.data == b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 0\r\n\r\n"
    ok = await raw_exchange(arklet.host, arklet.port,
                            build_request("health", b" " * (1024 * 1024)), timeout=5)
    assert ok.eof and ok.json()["code"] == "SUCCESS"


async def test_malformed_json_gets_no_reply_and_connection_stays_open(
        arklet: FakeArklet, http: ArkletHttp) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await _post_bytes(http, arklet, b'{"bizName": ', timeout=0.3)
    # Raw connection: nothing comes back, and the server keeps the socket open…
    reader, writer = await asyncio.wait_for(asyncio.open_connection(arklet.host, arklet.port), 5)
    try:
        writer.write(build_request("installBiz", "{not json"))
        await writer.drain()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.3)
        await wait_until(lambda: arklet.open_connections == 1, what="one open connection")
        record = arklet.requests[-1]
        assert record.code is None and record.http_status is None
        assert record.body == "{not json" and "malformed JSON" in record.note
    finally:
        writer.close()
    # …until the client closes it.
    await wait_until(lambda: arklet.open_connections == 0, what="connection cleaned up")
    assert arklet.bizzes() == []


async def _post_bytes(http: ArkletHttp, arklet: FakeArklet, data: bytes, *,
                      timeout: float) -> None:
    async with http.session.post(f"{arklet.url}/installBiz", data=data,
                                 timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        await resp.read()


async def test_missing_fields_are_internal_error_with_stack_trace(
        arklet: FakeArklet, http: ArkletHttp) -> None:
    for command, body in (("installBiz", {"bizName": "p", "bizVersion": "1"}),
                          ("installBiz", {"bizUrl": JAR, "bizName": "p"}),
                          ("installBiz", {"bizUrl": "ftp://repo/p-1.0.jar"}),
                          ("uninstallBiz", {"bizName": "p"}),
                          ("switchBiz", {})):
        env = await http.ok(arklet, command, body)
        assert env["code"] == "CMD_PROCESS_INTERNAL_ERROR", (command, body)
        assert env["message"].startswith("Internal Error: ")
        assert env["errorStackTrace"]
        assert "data" not in env


# ---------------------------------------------------------------- commands


@pytest.mark.parametrize(("flavour", "state"), [("2023", "ACTIVATED"), ("2025", "activated")])
async def test_install_success_with_biz_infos(make_arklet: MakeArklet, http: ArkletHttp,
                                              flavour: str, state: str) -> None:
    arklet = await make_arklet(flavour=flavour)
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "SUCCESS"
    assert "message" not in env and "errorStackTrace" not in env
    assert env["data"]["code"] == "SUCCESS"
    assert [(i["bizName"], i["bizVersion"], i["bizState"]) for i in env["data"]["bizInfos"]] == [
        ("provider", "1.0.2", state)]
    assert "baseIdentity" not in env


async def test_install_without_name_derives_it_from_the_jar(arklet: FakeArklet,
                                                            http: ArkletHttp) -> None:
    env = await http.ok(arklet, "installBiz", {"bizUrl": JAR})
    assert env["data"]["bizInfos"][0]["bizName"] == "provider"
    assert states(arklet) == {("provider", "1.0.2"): "ACTIVATED"}


async def test_repeat_install_is_repeat_biz(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "FAILED"
    assert env["message"] == "install biz not success!"
    assert env["data"]["code"] == "REPEAT_BIZ"


async def test_new_version_of_active_name_starts_deactivated(arklet: FakeArklet,
                                                             http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body(version="1.0.1"))
    env = await http.ok(arklet, "installBiz", install_body(version="1.0.2"))
    assert env["data"]["bizInfos"][0]["bizState"] == "DEACTIVATED"
    assert states(arklet) == {("provider", "1.0.1"): "ACTIVATED",
                              ("provider", "1.0.2"): "DEACTIVATED"}


async def test_switch_biz_flips_active_version(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body(version="1.0.1"))
    await http.ok(arklet, "installBiz", install_body(version="1.0.2"))
    env = await http.ok(arklet, "switchBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert env["code"] == "SUCCESS"
    assert states(arklet) == {("provider", "1.0.1"): "DEACTIVATED",
                              ("provider", "1.0.2"): "ACTIVATED"}


async def test_switch_to_broken_biz_is_illegal_state(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    arklet.set_biz_state("provider", "1.0.2", "BROKEN")
    env = await http.ok(arklet, "switchBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert (env["code"], env["data"]["code"]) == ("FAILED", "ILLEGAL_STATE_BIZ")


@pytest.mark.parametrize("command", ["uninstallBiz", "switchBiz"])
async def test_absent_biz_is_not_found_biz(arklet: FakeArklet, http: ArkletHttp,
                                           command: str) -> None:
    env = await http.ok(arklet, command, {"bizName": "provider", "bizVersion": "1.0.1"})
    assert env["code"] == "FAILED"
    assert env["message"].endswith("biz not success!")
    assert env["data"]["code"] == "NOT_FOUND_BIZ"


async def test_uninstall_removes_biz(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    env = await http.ok(arklet, "uninstallBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert (env["code"], env["data"]["code"]) == ("SUCCESS", "SUCCESS")
    assert arklet.bizzes() == []


async def test_query_all_biz_lists_modules_but_not_the_base(make_arklet: MakeArklet,
                                                            http: ArkletHttp) -> None:
    arklet = await make_arklet(base_name="mybase")
    await http.ok(arklet, "installBiz", install_body("a", "1.0"))
    await http.ok(arklet, "installBiz", install_body("b", "2.0"))
    env = await http.ok(arklet, "queryAllBiz")
    assert [(i["bizName"], i["bizVersion"], i["bizState"]) for i in env["data"]] == [
        ("a", "1.0", "ACTIVATED"), ("b", "2.0", "ACTIVATED")]  # by hash bin of the name
    assert all({"mainClass", "webContextPath"} <= set(i) for i in env["data"])
    assert "mybase" not in [i["bizName"] for i in env["data"]]


async def test_query_all_biz_2025_has_lower_case_states_and_records(arklet25: FakeArklet,
                                                                    http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body())
    [item] = (await http.ok(arklet25, "queryAllBiz"))["data"]
    assert item["bizState"] == "activated"
    assert item["bizStateRecords"] == [{}, {}]  # 2.1.6 renders its records as empty objects


async def test_health_2023_shape(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(flavour="2023", base_name="base-a", base_version="3.1")
    env = await http.ok(arklet, "health")
    assert env["code"] == "SUCCESS" and "baseIdentity" not in env
    health = env["data"]["healthData"]
    assert health["masterBizInfo"]["bizName"] == "base-a"
    assert health["masterBizInfo"]["bizVersion"] == "3.1"
    assert health["masterBizInfo"]["bizState"] == "ACTIVATED"
    assert health["masterBizHealth"]["readinessState"] == "ACCEPTING_TRAFFIC"
    assert {"cpu", "jvm", "bizListInfo", "pluginListInfo"} <= set(health)
    arklet.set_base_ready(False)
    health = (await http.ok(arklet, "health"))["data"]["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "REFUSING_TRAFFIC"


async def test_health_2025_shape(arklet25: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body())
    env = await http.ok(arklet25, "health", {"type": "system"})
    assert "baseIdentity" not in env
    health = env["data"]["healthData"]
    assert "masterBizHealth" not in health
    assert health["masterBizInfo"]["bizState"] == "activated"
    full = (await http.ok(arklet25, "health"))["data"]["healthData"]
    assert full["bizListInfo"][0]["bizState"] == "activated"


async def test_uninstall_then_install_strategy_2025(arklet25: FakeArklet,
                                                    http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body(version="1.0.1"))
    env = await http.ok(arklet25, "installBiz",
                        install_body(version="1.0.2", installStrategy="uninstallThenInstall"))
    assert env["data"]["bizInfos"][0]["bizState"] == "activated"
    assert states(arklet25) == {("provider", "1.0.2"): "activated"}


async def test_async_install_and_query_biz_ops(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(flavour="2025", install_latency=30.0)
    env = await http.ok(arklet, "installBiz", install_body(**{"async": True, "requestId": "r1"}))
    assert env["code"] == "SUCCESS" and env["data"]["requestId"] == "r1"
    await wait_until(lambda: _op_status(arklet, "r1") == "EXECUTING", what="EXECUTING")
    ops = await http.ok(arklet, "queryBizOps", {"requestId": "r1"})
    assert ops["data"]["status"] == "EXECUTING"
    # The name:version lock is held by the background install: a second one conflicts even
    # though requests are serialised.
    clash = await http.ok(arklet, "installBiz", install_body())
    assert clash["code"] == "FAILED"
    assert "conflict, exist unfinished command" in clash["message"]
    missing = await http.ok(arklet, "queryBizOps", {"requestId": "nope"})
    assert missing["code"] == "FAILED"


def _op_status(arklet: FakeArklet, request_id: str) -> str | None:
    reply = arklet.core.handle("queryBizOps", {"requestId": request_id})
    return reply.data.get("status") if reply.code == "SUCCESS" else None  # type: ignore[union-attr]


async def test_async_install_completes(arklet25: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body(**{"async": True, "requestId": "r2"}))

    async def done() -> bool:
        env = await http.ok(arklet25, "queryBizOps", {"requestId": "r2"})
        return env["data"]["status"] == "SUCCEEDED"

    await wait_until(done, what="async install SUCCEEDED")
    assert states(arklet25) == {("provider", "1.0.2"): "activated"}


async def test_help_lists_commands(arklet: FakeArklet, http: ArkletHttp) -> None:
    ids = {d["id"] for d in (await http.ok(arklet, "help"))["data"]}
    assert {"installBiz", "uninstallBiz", "switchBiz", "queryAllBiz", "health"} <= ids


async def test_quotes_and_non_ascii_round_trip(arklet: FakeArklet, http: ArkletHttp) -> None:
    name = 'pro"vider-模块'
    env = await http.ok(arklet, "installBiz", install_body(name=name, version="1.0.0"))
    assert env["data"]["bizInfos"][0]["bizName"] == name
    raw = await raw_exchange(arklet.host, arklet.port, build_request("queryAllBiz", {}))
    assert "模块".encode("utf-8") in raw.body
    assert raw.json()["data"][0]["bizName"] == name
    env = await http.ok(arklet, "uninstallBiz", {"bizName": name, "bizVersion": "1.0.0"})
    assert env["code"] == "SUCCESS"


# ---------------------------------------------------------------- concurrency and latency


async def test_concurrent_install_same_name_version_conflicts(make_arklet: MakeArklet,
                                                              http: ArkletHttp) -> None:
    arklet = await make_arklet(install_latency=30.0, serialize_requests=False)
    first = asyncio.create_task(http.ok(arklet, "installBiz", install_body(), timeout=60))
    try:
        await wait_until(lambda: "provider:1.0.2" in arklet.core.busy_keys(), what="lock taken")
        env = await http.ok(arklet, "installBiz", install_body())
        assert env == {"code": "FAILED", "message": "FAILED:provider:1.0.2 installBiz conflict, "
                       "exist unfinished command(installBiz) for this biz"}
        # Another version of the same name is not serialised by Arklet.
        other = asyncio.create_task(
            http.ok(arklet, "installBiz", install_body(version="9.9"), timeout=60))
        await wait_until(lambda: "provider:9.9" in arklet.core.busy_keys(), what="2nd lock")
        assert not first.done() and not other.done()
        other.cancel()
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)


async def test_install_latency_is_honoured(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    latency = 0.3
    arklet = await make_arklet(install_latency=latency)
    loop = asyncio.get_running_loop()
    started = loop.time()
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "SUCCESS"
    assert loop.time() - started >= latency - 0.002
    cost = int(env["data"]["message"].split("cost: ")[1].split(" ms")[0])
    assert cost >= latency * 1000 - 2


async def test_repeat_biz_and_failures_do_not_take_the_install_latency(
        make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(install_latency=0.3)
    await http.ok(arklet, "installBiz", install_body())
    arklet.install_latency = 30.0  # a REPEAT_BIZ or a 404 answering at all proves it is skipped
    repeat = await http.ok(arklet, "installBiz", install_body(), timeout=10)
    assert repeat["data"]["code"] == "REPEAT_BIZ" and "elapsedSpace" in repeat["data"]
    missing = await http.ok(arklet, "installBiz",
                            {"bizName": "x", "bizVersion": "1", "bizUrl": "http://repo/nope.jar"},
                            timeout=10)
    assert missing["message"] == "Internal Error: java.io.FileNotFoundException: " \
                                 "http://repo/nope.jar"


async def test_slow_install_delays_health_on_the_same_event_loop(make_arklet: MakeArklet,
                                                                 http: ArkletHttp) -> None:
    arklet = await make_arklet(install_latency=0.3, event_loops=1)
    install = asyncio.create_task(http.ok(arklet, "installBiz", install_body()))
    await wait_until(lambda: arklet.core.busy_keys(), what="install running")
    health = await http.ok(arklet, "health")
    assert health["code"] == "SUCCESS"
    assert install.done(), "health must wait for the install on a serialised base"
    assert (await install)["code"] == "SUCCESS"
    assert [r.command for r in arklet.requests] == ["installBiz", "health"]


async def test_without_serialisation_health_overtakes_a_slow_install(
        make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(install_latency=30.0, serialize_requests=False)
    install = asyncio.create_task(http.ok(arklet, "installBiz", install_body(), timeout=60))
    try:
        await wait_until(lambda: arklet.core.busy_keys(), what="install running")
        assert (await http.ok(arklet, "health"))["code"] == "SUCCESS"
        assert not install.done()
    finally:
        install.cancel()
        await asyncio.gather(install, return_exceptions=True)


async def test_request_log_records_each_request(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    await http.ok(arklet, "nope")
    await http.call(arklet, "health", method="GET")
    records = [r.to_dict() for r in arklet.requests]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [(r["method"], r["command"], r["httpStatus"], r["code"]) for r in records] == [
        ("POST", "installBiz", 200, "SUCCESS"),
        ("POST", "nope", 200, "CMD_NOT_FOUND"),
        ("GET", "health", 500, None),
    ]
    assert records[0]["body"] == install_body()
    assert all(isinstance(r["time"], float) for r in records)


# ---------------------------------------------------------------- faults


async def test_fault_latency(arklet: FakeArklet, http: ArkletHttp) -> None:
    arklet.faults.set("health", latency=0.25)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await http.ok(arklet, "health"))["code"] == "SUCCESS"
    assert loop.time() - started >= 0.25 - 0.002
    assert "fault latency" in arklet.requests[-1].note


async def test_fault_fail_rate_follows_the_seed(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(seed=42)
    arklet.faults.set("health", fail_rate=0.5, fail_code="FAILED")
    expected_plan = FaultPlan(seed=42)
    expected_plan.set("health", fail_rate=0.5, fail_code="FAILED")
    expected = [expected_plan.decide("health").action or "SUCCESS" for _ in range(12)]
    got = [(await http.ok(arklet, "health"))["code"] for _ in range(12)]
    assert got == expected
    assert {"FAILED", "SUCCESS"} == set(got)


async def test_fault_fail_count_then_success(arklet: FakeArklet, http: ArkletHttp) -> None:
    arklet.faults.set("installBiz", fail_count=2, fail_code="CMD_PROCESS_INTERNAL_ERROR")
    codes = [(await http.ok(arklet, "installBiz", install_body()))["code"] for _ in range(3)]
    assert codes == ["CMD_PROCESS_INTERNAL_ERROR", "CMD_PROCESS_INTERNAL_ERROR", "SUCCESS"]
    assert states(arklet) == {("provider", "1.0.2"): "ACTIVATED"}


async def test_fault_http500(arklet: FakeArklet, http: ArkletHttp) -> None:
    arklet.faults.set("installBiz", fail_count=1, fail_code="http500")
    answer = await http.call(arklet, "installBiz", install_body())
    assert answer.status == 500
    assert answer.headers.get("Content-Type", "").startswith("text/plain")
    assert arklet.bizzes() == [], "a failed call must not install"
    assert arklet.requests[-1].http_status == 500


async def test_fault_failed_envelope(arklet: FakeArklet, http: ArkletHttp) -> None:
    arklet.faults.set("installBiz", fail_count=1, fail_code="FAILED")
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "FAILED"
    assert env["message"] == "install biz not success!"
    assert env["data"]["code"] == "FAILED"
    assert arklet.bizzes() == []


async def test_fault_unlisted_answers_the_install_but_never_lists_it(arklet: FakeArklet,
                                                                      http: ArkletHttp) -> None:
    arklet.faults.set("installBiz", fail_count=1, fail_code="unlisted")
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "SUCCESS"
    claimed = [(b["bizName"], b["bizVersion"], b["bizState"]) for b in env["data"]["bizInfos"]]
    assert claimed == [("provider", "1.0.2", "ACTIVATED")]
    assert arklet.bizzes() == []
    listed = (await http.ok(arklet, "queryAllBiz"))["data"]
    assert listed == []
    assert "fault[installBiz]: unlisted" in arklet.requests[-2].note
    # The count is used up: the next install is kept.
    assert (await http.ok(arklet, "installBiz", install_body()))["code"] == "SUCCESS"
    assert states(arklet) == {("provider", "1.0.2"): "ACTIVATED"}


async def test_fault_internal_error_envelope(arklet25: FakeArklet, http: ArkletHttp) -> None:
    arklet25.faults.set("*", fail_count=1, fail_code="CMD_PROCESS_INTERNAL_ERROR")
    env = await http.ok(arklet25, "queryAllBiz")
    assert env["code"] == "CMD_PROCESS_INTERNAL_ERROR"
    assert env["message"].startswith("Internal Error:") and env["errorStackTrace"]
    assert "baseIdentity" not in env


async def test_fault_close_drops_the_connection_without_reply(arklet: FakeArklet) -> None:
    arklet.faults.set("health", fail_count=1, fail_code="close")
    reply = await raw_exchange(arklet.host, arklet.port, build_request("health", {}), timeout=5)
    assert reply.eof and reply.data == b""
    record = arklet.requests[-1]
    assert record.code is None and "close" in record.note
    again = await raw_exchange(arklet.host, arklet.port, build_request("health", {}), timeout=5)
    assert again.json()["code"] == "SUCCESS"


@pytest.mark.parametrize("how", ["fail_code", "hang_flag"])
async def test_fault_hang_never_answers(arklet: FakeArklet, http: ArkletHttp, how: str) -> None:
    if how == "fail_code":
        arklet.faults.set("installBiz", fail_count=1, fail_code="hang")
    else:
        arklet.faults.set("installBiz", hang=True)
    reply = await raw_exchange(arklet.host, arklet.port,
                               build_request("installBiz", install_body()), timeout=0.3)
    assert not reply.eof and reply.data == b""
    assert arklet.requests[-1].note.startswith("fault[installBiz]: hang")
    # A hang does not block other commands on the same base.
    assert (await http.ok(arklet, "health"))["code"] == "SUCCESS"
    assert arklet.bizzes() == []
    await wait_until(lambda: arklet.open_connections == 0, what="hung connection closed")


async def test_hang_with_aiohttp_times_out(arklet: FakeArklet, http: ArkletHttp) -> None:
    arklet.faults.set("health", hang=True)
    with pytest.raises(asyncio.TimeoutError):
        await http.call(arklet, "health", {}, timeout=0.3)


async def test_refuse_gives_econnrefused_then_accepts_again(arklet: FakeArklet,
                                                            http: ArkletHttp) -> None:
    port = arklet.port
    arklet.refuse(True)
    assert arklet.refusing
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection(arklet.host, port), 5)
    with pytest.raises(aiohttp.ClientConnectorError):
        await http.call(arklet, "health", {})
    arklet.refuse(False)
    assert arklet.port == port and not arklet.refusing
    assert (await http.ok(arklet, "health"))["code"] == "SUCCESS"


async def test_restart_base_forgets_bizzes_and_drops_in_flight_work(
        make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(serialize_requests=False)
    await http.ok(arklet, "installBiz", install_body("a", "1.0"))
    arklet.install_latency = 30.0
    slow = asyncio.create_task(http.ok(arklet, "installBiz", install_body("b", "1.0"), timeout=60))
    await wait_until(lambda: "b:1.0" in arklet.core.busy_keys(), what="slow install running")
    await arklet.restart_base()
    with pytest.raises(aiohttp.ClientError):
        await slow
    assert arklet.bizzes() == [] and arklet.core.busy_keys() == frozenset()
    arklet.install_latency = 0.0
    env = await http.ok(arklet, "installBiz", install_body("b", "1.0"))
    assert env["code"] == "SUCCESS", "the lock must be gone after a restart"


# ---------------------------------------------------------------- lifecycle


async def test_two_bases_share_a_port_on_different_addresses(make_arklet: MakeArklet,
                                                             http: ArkletHttp) -> None:
    first = await make_arklet("127.0.0.1", flavour="2023")
    second = await make_arklet("127.0.0.2", first.port, flavour="2025")
    await http.ok(first, "installBiz", install_body())
    assert (await http.ok(second, "queryAllBiz"))["data"] == []
    assert states(first) == {("provider", "1.0.2"): "ACTIVATED"}
    with pytest.raises(OSError):
        await make_arklet("127.0.0.1", first.port)


async def test_stop_closes_open_connections_and_leaves_no_tasks(repo: ModuleRepository) -> None:
    before = asyncio.all_tasks()
    arklet = FakeArklet("127.0.0.1", 0, install_latency=30.0, serialize_requests=False,
                        module_proxy=repo.proxy)
    await arklet.start()
    arklet.faults.set("health", hang=True)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(arklet.host, arklet.port), 5)
    reader2, writer2 = await asyncio.wait_for(
        asyncio.open_connection(arklet.host, arklet.port), 5)
    try:
        writer.write(build_request("health", {}))
        writer2.write(build_request("installBiz", install_body()))
        await writer.drain()
        await writer2.drain()
        await wait_until(lambda: arklet.open_connections == 2 and arklet.core.busy_keys(),
                         what="hang and install in flight")
        await arklet.stop()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert await asyncio.wait_for(reader2.read(), 5) == b""
        assert arklet.open_connections == 0 and not arklet.running
        assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(asyncio.open_connection(arklet.host, arklet.port), 5)
    finally:
        writer.close()
        writer2.close()
        await arklet.stop()

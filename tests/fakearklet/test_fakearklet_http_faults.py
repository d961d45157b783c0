"""Fault injection of the fake Arklet as a client sees it over real HTTP: latency, failure
envelopes, HTTP 500, closed and hung connections, refused connects, a base restart. The fault
plan's own decisions are unit-tested in test_fakearklet_faults.py."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from module_controller_dev.fakearklet import FakeArklet, FaultPlan
from module_controller_dev.fakearklet.testing import (
    ArkletHttp,
    MakeArklet,
    build_request,
    raw_exchange,
    wait_until,
)

from fake_http_testkit import install_body, states


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

"""The control app over real HTTP, driven by ControlClient."""

from __future__ import annotations

import asyncio
import socket
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from module_controller_dev.fakearklet import (
    ArkletRegistry,
    ControlClient,
    ControlError,
    FakeArklet,
    SingleArklet,
    make_control_app,
)
from module_controller_dev.fakearklet.testing import ArkletHttp, MakeArklet

BODY = {"bizName": "provider", "bizVersion": "1.0.2",
        "bizUrl": "http://repo/provider-1.0.2-ark-biz.jar"}


class Harness:
    def __init__(self, a: FakeArklet, b: FakeArklet, client: ControlClient,
                 base_url: str) -> None:
        self.a, self.b, self.client, self.base_url = a, b, client, base_url


@pytest_asyncio.fixture
async def harness(make_arklet: MakeArklet) -> AsyncIterator[Harness]:
    a = await make_arklet("127.0.0.1", flavour="2023")
    b = await make_arklet("127.0.0.2", a.port, flavour="2025")
    runner = web.AppRunner(make_control_app(ArkletRegistry([a, b])), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base_url = f"http://{host}:{port}"
        async with ControlClient(base_url, timeout=5.0) as client:
            yield Harness(a, b, client, base_url)
    finally:
        await runner.cleanup()


async def test_lists_arklets(harness: Harness) -> None:
    listed = await harness.client.arklets()
    assert [(x["host"], x["port"], x["flavour"], x["refusing"]) for x in listed] == [
        ("127.0.0.1", harness.a.port, "2023", False),
        ("127.0.0.2", harness.a.port, "2025", False),
    ]
    assert all(x["bizzes"] == [] for x in listed)


async def test_requests_and_bizzes(harness: Harness, http: ArkletHttp) -> None:
    await http.ok(harness.a, "installBiz", BODY)
    await http.ok(harness.a, "health")
    page = await harness.client.requests("127.0.0.1")
    assert [r["command"] for r in page["requests"]] == ["installBiz", "health"]
    assert page["requests"][0]["body"] == BODY
    assert page["requests"][0]["httpStatus"] == 200 and page["requests"][0]["code"] == "SUCCESS"
    assert page["next"] == 2
    await http.ok(harness.a, "queryAllBiz")
    later = await harness.client.requests("127.0.0.1", since=page["next"])
    assert [r["seq"] for r in later["requests"]] == [3] and later["next"] == 3
    empty = await harness.client.requests("127.0.0.1", since=3)
    assert empty == {"requests": [], "next": 3}
    bizzes = await harness.client.bizzes("127.0.0.1")
    assert [(b["bizName"], b["bizState"]) for b in bizzes] == [("provider", "ACTIVATED")]
    assert await harness.client.bizzes("127.0.0.2") == []


async def test_fault_fail_count_via_control(harness: Harness, http: ArkletHttp) -> None:
    faults = await harness.client.set_fault("127.0.0.1", "installBiz", fail_count=1,
                                            fail_code="http500")
    assert faults["installBiz"]["failCount"] == 1
    assert (await http.call(harness.a, "installBiz", BODY)).status == 500
    assert (await http.ok(harness.a, "installBiz", BODY))["code"] == "SUCCESS"
    assert harness.b.faults.rules == {}, "faults are per base"


async def test_fault_hang_and_clear_via_control(harness: Harness, http: ArkletHttp) -> None:
    await harness.client.set_fault("127.0.0.2", "health", hang=True)
    with pytest.raises(asyncio.TimeoutError):
        await http.call(harness.b, "health", {}, timeout=0.3)
    await harness.client.clear_faults("127.0.0.2")
    assert await harness.client.faults("127.0.0.2") == {}
    assert (await http.ok(harness.b, "health"))["code"] == "SUCCESS"


async def test_fault_latency_and_rate_via_control(harness: Harness, http: ArkletHttp) -> None:
    await harness.client.set_fault("127.0.0.1", "*", latency=0.2, fail_rate=1.0,
                                   fail_code="FAILED")
    loop = asyncio.get_running_loop()
    started = loop.time()
    env = await http.ok(harness.a, "health")
    assert env["code"] == "FAILED"
    assert loop.time() - started >= 0.2 - 0.002
    await harness.client.clear_faults("127.0.0.1", command="*")
    assert (await http.ok(harness.a, "health"))["code"] == "SUCCESS"


async def test_refuse_via_control(harness: Harness, http: ArkletHttp) -> None:
    await harness.client.refuse("127.0.0.2", True)
    assert [x["refusing"] for x in await harness.client.arklets()] == [False, True]
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.2", harness.b.port), 5)
    assert (await http.ok(harness.a, "health"))["code"] == "SUCCESS"
    await harness.client.refuse("127.0.0.2", False)
    assert (await http.ok(harness.b, "health"))["code"] == "SUCCESS"


async def test_restart_via_control(harness: Harness, http: ArkletHttp) -> None:
    await http.ok(harness.b, "installBiz", BODY)
    assert len(await harness.client.bizzes("127.0.0.2")) == 1
    await harness.client.restart("127.0.0.2")
    assert await harness.client.bizzes("127.0.0.2") == []
    assert (await http.ok(harness.b, "queryAllBiz"))["data"] == []


async def test_install_latency_via_control(harness: Harness, http: ArkletHttp) -> None:
    await harness.client.set_install_latency("127.0.0.1", 0.25)
    assert harness.a.install_latency == 0.25
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await http.ok(harness.a, "installBiz", BODY))["code"] == "SUCCESS"
    assert loop.time() - started >= 0.25 - 0.002


async def test_readiness_via_control(harness: Harness, http: ArkletHttp) -> None:
    await harness.client.set_ready("127.0.0.1", False)
    health = (await http.ok(harness.a, "health"))["data"]["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "REFUSING_TRAFFIC"
    await harness.client.set_ready("127.0.0.1", True)
    health = (await http.ok(harness.a, "health"))["data"]["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "ACCEPTING_TRAFFIC"


async def test_unknown_host_is_404(harness: Harness) -> None:
    with pytest.raises(ControlError) as info:
        await harness.client.bizzes("10.9.9.9")
    assert info.value.status == 404 and "10.9.9.9" in info.value.message
    with pytest.raises(ControlError) as info:
        await harness.client.restart("10.9.9.9")
    assert info.value.status == 404


async def test_bad_bodies_are_400(harness: Harness) -> None:
    for kwargs in ({"fail_code": "boom", "fail_count": 1}, {"fail_rate": 2.0}):
        with pytest.raises(ControlError) as info:
            await harness.client.set_fault("127.0.0.1", "health", **kwargs)
        assert info.value.status == 400
    assert harness.a.faults.rules == {}
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = f"{harness.base_url}/arklets/127.0.0.1"
        async with session.post(f"{url}/faults", json={"failRaet": 0.5}) as resp:
            assert resp.status == 400 and "failRaet" in (await resp.json())["error"]
        async with session.post(f"{url}/refuse", json={"refuse": "yes"}) as resp:
            assert resp.status == 400
        async with session.post(f"{url}/latency", json={"install": -1}) as resp:
            assert resp.status == 400
        async with session.post(f"{url}/latency", data=b"{nope") as resp:
            assert resp.status == 400
        async with session.get(f"{url}/requests", params={"since": "x"}) as resp:
            assert resp.status == 400


async def test_single_arklet_adapter(arklet: FakeArklet) -> None:
    runner = web.AppRunner(make_control_app(SingleArklet(arklet)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        async with ControlClient(f"http://{host}:{port}", timeout=5.0) as client:
            assert [x["host"] for x in await client.arklets()] == ["127.0.0.1"]
            await client.set_fault("127.0.0.1", "health", fail_count=1, fail_code="close")
            assert arklet.faults.rules["health"].fail_code == "close"
            with pytest.raises(ControlError):
                await client.bizzes("127.0.0.2")
    finally:
        await runner.cleanup()


async def test_control_client_times_out() -> None:
    # A "control server" that accepts and never answers: the client must give up.
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        async with ControlClient(f"http://127.0.0.1:{port}", timeout=0.3) as client:
            with pytest.raises(asyncio.TimeoutError):
                await client.arklets()
        assert held, "the request reached the silent server"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_base_and_control_route(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    v6 = await make_arklet("::1", flavour="2025")
    assert v6.url == f"http://[::1]:{v6.port}"
    assert (await http.ok(v6, "installBiz", BODY))["code"] == "SUCCESS"
    runner = web.AppRunner(make_control_app(SingleArklet(v6)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        async with ControlClient(f"http://127.0.0.1:{port}", timeout=5.0) as client:
            assert [b["bizName"] for b in await client.bizzes("::1")] == ["provider"]
    finally:
        await runner.cleanup()

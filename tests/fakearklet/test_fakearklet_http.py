"""Conformance of the fake Arklet over real HTTP (in-process servers on loopback addresses): the
byte-level transport quirks, concurrency and latency, lifecycle. Its commands are in
test_fakearklet_http_commands.py, its faults in test_fakearklet_http_faults.py."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.modulerepo import ModuleRepository
from module_controller_dev.fakearklet.testing import (
    ArkletHttp,
    MakeArklet,
    build_request,
    raw_exchange,
    wait_until,
)

from fake_http_testkit import JAR, install_body, states


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

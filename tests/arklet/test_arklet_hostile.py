"""Hostile things answering on an Arklet port, over real sockets.

Whoever runs an HTTP server on a pod the controller talks to must not be able to make the
controller fetch another address (redirects), buffer an unbounded body, or publish a body that is
not an Arklet reply in its errors (which end up in Module status and Events).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from arklet_testkit import Handler, MakeClient, RawServer, RogueServer

from module_controller.arklet import ArkletUnavailable, BizRef

BIZ = BizRef("provider", "1.0.2", "http://repo/provider-1.0.2-ark-biz.jar")
SECRET = "AKIA-SECRET-DO-NOT-PUBLISH"


def http(status: str, body: bytes = b"", headers: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


@pytest_asyncio.fixture(loop_scope="session")
async def servers() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    started: list[RawServer] = []

    async def make(handler: Handler) -> RawServer:
        server = await RawServer(handler).start()
        started.append(server)
        return server

    yield make
    await asyncio.gather(*(s.stop() for s in started))


def assert_nothing_leaked(caught: ArkletUnavailable, *needles: str) -> None:
    text = f"{caught} {caught.last_error!r} {caught.__cause__!r}"
    for needle in needles:
        assert needle not in text


# --- 1. redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "303 See Other",
                                    "307 Temporary Redirect", "308 Permanent Redirect"])
async def test_redirect_is_refused_and_its_target_never_requested(
        servers, make_client: MakeClient, status: str) -> None:
    async def metadata(reader, writer):  # the "internal endpoint" the redirect points at
        body = json.dumps({"AccessKeyId": SECRET, "SecretAccessKey": SECRET}).encode()
        writer.write(http("200 OK", body, ("Content-Type: application/json",)))
        await writer.drain()

    internal = await servers(metadata)
    location = f"http://127.0.0.1:{internal.port}/latest/meta-data/iam/{SECRET}"

    async def redirect(reader, writer):
        writer.write(http(status, SECRET.encode(), (f"Location: {location}",
                                                    f"Content-Length: {len(SECRET)}")))
        await writer.drain()

    pod = await servers(redirect)
    client, calls = make_client(attempts=2)

    for call in (client.query_all("127.0.0.1", port=pod.port),
                 client.install("127.0.0.1", BIZ, port=pod.port)):  # a 307 would keep the POST
        with pytest.raises(ArkletUnavailable) as caught:
            await call
        assert_nothing_leaked(caught.value, SECRET, location, str(internal.port))
        assert f"HTTP {status.split()[0]} redirect refused" in caught.value.last_error

    assert internal.connections == 0
    assert pod.connections == 2  # one attempt each: a reply that came is never asked again
    assert calls.labels() == ["protocol_error"] * 2


# --- 2. reply size cap -------------------------------------------------------------------------


async def test_endless_body_is_cut_off_at_the_cap(servers, make_client: MakeClient) -> None:
    limit = 64 * 1024
    offered = 256 * 1024 * 1024  # what the server would send if the client kept reading
    sent: list[int] = []

    async def flood(reader, writer):
        writer.write(http("200 OK", b'{"code":"SUCCESS","data":[', ("Content-Type: text/plain",)))
        chunk = b'{"bizName":"x","bizVersion":"1"},' * 2048
        total = 0
        try:
            while total < offered:
                writer.write(chunk)
                await writer.drain()
                total += len(chunk)
        finally:
            sent.append(total)

    server = await servers(flood)
    client, calls = make_client(attempts=1, max_reply_bytes=limit, timeout=30.0)

    with pytest.raises(ArkletUnavailable) as caught:
        await client.query_all("127.0.0.1", port=server.port)

    assert calls.labels() == ["protocol_error"]
    assert f"exceeds {limit} bytes" in caught.value.last_error
    # The client dropped the connection: the server's writes failed long before it was done
    # (what it got out is the cap plus what the loopback socket buffers hold, a few MiB).
    await wait_for(lambda: bool(sent))
    assert sent[0] < offered // 4


async def test_declared_length_over_the_cap_is_refused_unread(
        servers, make_client: MakeClient) -> None:
    async def huge(reader, writer):
        writer.write(http("200 OK", b"{", ("Content-Length: 10000000000",)))
        await writer.drain()

    server = await servers(huge)
    client, calls = make_client(attempts=1, max_reply_bytes=1024)
    with pytest.raises(ArkletUnavailable) as caught:
        await client.health("127.0.0.1", port=server.port)
    assert "10000000000 bytes exceeds 1024" in caught.value.last_error
    assert calls.labels() == ["protocol_error"]


async def test_reply_at_the_cap_is_read(make_client: MakeClient) -> None:
    body = json.dumps({"code": "SUCCESS", "data": [
        {"bizName": f"biz-{i}", "bizVersion": "1.0.0", "bizState": "ACTIVATED"}
        for i in range(50)]}).encode()
    rogue = RogueServer([http("200 OK", body)])
    await rogue.start()
    try:
        client, _ = make_client(max_reply_bytes=len(body))
        assert len(await client.query_all("127.0.0.1", port=rogue.port)) == 50
        client, calls = make_client(attempts=1, max_reply_bytes=len(body) - 1)
        with pytest.raises(ArkletUnavailable):
            await client.query_all("127.0.0.1", port=rogue.port)
        assert calls.labels() == ["protocol_error"]
    finally:
        await rogue.stop()


async def test_compressed_reply_is_not_inflated(make_client: MakeClient) -> None:
    # 1 kB on the wire, 100 MB inflated: counted as it comes off the wire, never decompressed.
    bomb = gzip.compress(b" " * (100 * 1024 * 1024))
    rogue = RogueServer([http("200 OK", bomb, ("Content-Encoding: gzip",))])
    await rogue.start()
    try:
        client, calls = make_client(attempts=1)
        with pytest.raises(ArkletUnavailable):
            await client.query_all("127.0.0.1", port=rogue.port)
        assert calls.labels() == ["protocol_error"]
    finally:
        await rogue.stop()


# --- 2. echo cap: nothing of a non-Arklet reply in the error text ------------------------------


@pytest.mark.parametrize("reply", [
    http("500 Internal Server Error", f"upstream said {SECRET}".encode()),
    http("502 Bad Gateway", f"<html>{SECRET}</html>".encode()),
    http("200 OK", json.dumps({"AccessKeyId": SECRET}).encode()),
    http("200 OK", f"not json {SECRET}".encode()),
    http("200 OK", json.dumps([SECRET]).encode()),
    http("404 Not Found", SECRET.encode()),
], ids=["500-text", "502-html", "200-foreign-json", "200-text", "200-array", "404"])
async def test_body_of_a_non_arklet_reply_is_not_echoed(make_client: MakeClient,
                                                        reply: bytes) -> None:
    rogue = RogueServer([reply])
    await rogue.start()
    try:
        client, calls = make_client(attempts=2)
        with pytest.raises(ArkletUnavailable) as caught:
            await client.install("127.0.0.1", BIZ, port=rogue.port)
        assert_nothing_leaked(caught.value, SECRET)
        assert len(calls.labels()) == 1  # answered: not asked again by the client
    finally:
        await rogue.stop()


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)

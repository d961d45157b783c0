"""Replay the exchanges recorded from real bases against the fake, over real HTTP/TCP.

Every ``.req`` of ``captures/`` is sent, in the recorded order, to one fake Arklet of the same
generation (its base named like the recorded one); the jar server of the recording is replaced
by an in-process module repository. Each answer must have the recorded *shape*: status line,
envelope and result codes, messages (numbers of milliseconds and clock times masked), the keys
of every object, the length of every list (plugin lists excepted), biz names, versions and states.
Timestamps, elapsed figures, JVM numbers, main classes and unpack directories are not compared.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import MakeArklet, RawReply, raw_exchange, wait_until
from module_controller_dev.modulerepo import ModuleRepository

CAPTURES = Path(__file__).parent / "captures"

#: folder → (flavour, recorded base name, recorded jar server)
SEQUENCES = {
    "real-seq": ("2025", "ra-base", "http://127.0.0.1:8765"),
    "real23-seq": ("2023", "ra-base23", "http://127.0.0.1:8766"),
}
PROMOTE = {"real2025-promote": "2025", "real2023-promote": "2023"}
RECORDED_JAR_SERVERS = ("http://127.0.0.1:8765", "http://127.0.0.1:8766")

#: String values compared exactly (after url rewriting); any other string only by type.
EXACT = {"code", "bizName", "bizVersion", "bizState", "status", "identity", "installStrategy",
         "requestId", "readinessState", "webContextPath", "id", "desc", "async"}
#: Lists whose length may differ (the 2023 base carries many adapter plugins).
ANY_LENGTH = {"pluginListInfo"}


@dataclass(frozen=True)
class Exchange:
    name: str
    request: bytes
    response: bytes


def load(folder: str) -> list[Exchange]:
    directory = CAPTURES / folder
    return [Exchange(req.stem, req.read_bytes(), req.with_suffix(".resp").read_bytes())
            for req in sorted(directory.glob("*.req"))]


def rewrite_request(raw: bytes, repo_url: str) -> bytes:
    """Point the recorded jar urls at ``repo_url`` and fix Content-Length."""
    head, _, body = raw.partition(b"\r\n\r\n")
    text = body.decode("utf-8")
    for old in RECORDED_JAR_SERVERS:
        # The recording's server answered "/" with an HTML listing: our "not a jar" path.
        text = text.replace(f'"{old}/"', f'"{repo_url}/not-a-jar/index.html"')
        text = text.replace(old, repo_url)
    payload = text.encode("utf-8")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")]
    if b"Content-Length" in head or payload:
        lines.append(f"Content-Length: {len(payload)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def expected_body(raw: bytes, repo_url: str) -> Any:
    text = raw.partition(b"\r\n\r\n")[2].decode("utf-8")
    for old in RECORDED_JAR_SERVERS:
        text = text.replace(f"{old}/", f"{repo_url}/not-a-jar/index.html", 1) \
            if text.count(f"{old}/\"") else text
        text = text.replace(old, repo_url)
    return json.loads(text)


def mask(message: str) -> str:
    message = re.sub(r"cost: \d+ ms", "cost: N ms", message)
    return re.sub(r"started at: [\d:,]+", "started at: T", message)


def assert_same_shape(expected: Any, actual: Any, path: str = "$", key: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        assert set(actual) == set(expected), \
            f"{path}: keys {sorted(actual)} != recorded {sorted(expected)}"
        for k, value in expected.items():
            assert_same_shape(value, actual[k], f"{path}.{k}", k)
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not a list"
        if key in ANY_LENGTH:
            expected, actual = expected[:1], actual[:1]
        assert len(actual) == len(expected), \
            f"{path}: {len(actual)} items, recorded {len(expected)}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same_shape(e, a, f"{path}[{i}]", key)
    elif key == "message":
        assert mask(actual) == mask(expected), f"{path}: {actual!r} != recorded {expected!r}"
    elif key == "errorStackTrace":
        assert actual.split("\n", 1)[0] == expected.split("\n", 1)[0], path
    elif isinstance(expected, bool) or key in EXACT:
        assert actual == expected, f"{path}: {actual!r} != recorded {expected!r}"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), path
    else:
        assert type(actual) is type(expected), f"{path}: {actual!r} vs recorded {expected!r}"


def assert_matches(exchange: Exchange, reply: RawReply, repo_url: str) -> None:
    recorded = exchange.response
    if not recorded:  # the real base never answered (malformed JSON or a JSON array)
        assert reply.data == b"" and not reply.eof, f"{exchange.name}: {reply.data!r}"
        return
    assert reply.eof, f"{exchange.name}: connection not closed after the answer"
    head = recorded.partition(b"\r\n\r\n")[0]
    assert reply.head == head, f"{exchange.name}: head {reply.head!r} != recorded {head!r}"
    if not head.startswith(b"HTTP/1.1 200"):
        assert reply.data == recorded, exchange.name
        return
    assert_same_shape(expected_body(recorded, repo_url), reply.json(), exchange.name)


async def send(arklet: FakeArklet, exchange: Exchange, repo: ModuleRepository) -> RawReply:
    timeout = 0.3 if not exchange.response else 10.0
    return await raw_exchange(arklet.host, arklet.port,
                              rewrite_request(exchange.request, repo.url), timeout=timeout)


@pytest.mark.parametrize("folder", list(SEQUENCES))
async def test_recorded_sequence_replays_with_the_recorded_shapes(
        make_arklet: MakeArklet, repo: ModuleRepository, folder: str) -> None:
    flavour, base_name, _ = SEQUENCES[folder]
    arklet = await make_arklet(flavour=flavour, base_name=base_name, base_version="1.0.0")
    exchanges = {e.name: e for e in load(folder)}
    assert len(exchanges) == 58
    for name, exchange in exchanges.items():
        if name.startswith(("41b", "41c", "46", "47")):
            continue  # replayed with their partners below
        if name.startswith("41a"):
            await concurrent_install(arklet, repo, exchange, [exchanges[n] for n in exchanges
                                                              if n.startswith(("41b", "41c"))])
            continue
        if name.startswith("45"):
            await async_install(arklet, repo, exchange,
                                next(e for n, e in exchanges.items() if n.startswith("46")),
                                next(e for n, e in exchanges.items() if n.startswith("47")))
            continue
        assert_matches(exchange, await send(arklet, exchange, repo), repo.url)


async def concurrent_install(arklet: FakeArklet, repo: ModuleRepository, first: Exchange,
                             during: list[Exchange]) -> None:
    """An install that runs (module start-up) while the others are sent on other connections."""
    arklet.install_latency = 0.5
    task = asyncio.create_task(send(arklet, first, repo))
    try:
        await wait_until(lambda: any(b["bizState"].upper() == "RESOLVED" for b in arklet.bizzes()),
                         what="install started")
        for exchange in during:
            assert_matches(exchange, await send(arklet, exchange, repo), repo.url)
        assert_matches(first, await task, repo.url)
    finally:
        arklet.install_latency = 0.0
        task.cancel()


async def async_install(arklet: FakeArklet, repo: ModuleRepository, accept: Exchange,
                        running: Exchange, done: Exchange) -> None:
    # Slow enough that the second query finds it running, whether it installs or (2023: the
    # version is still there) ends REPEAT_BIZ.
    arklet.install_latency = arklet.download_latency = 0.5
    try:
        assert_matches(accept, await send(arklet, accept, repo), repo.url)
        assert_matches(running, await send(arklet, running, repo), repo.url)
        request_id = json.loads(running.request.partition(b"\r\n\r\n")[2])["requestId"]
        await wait_until(lambda: (arklet.core.op_record(request_id) or {})["status"] != "EXECUTING",
                         timeout=10, what="async install finished")
        assert_matches(done, await send(arklet, done, repo), repo.url)
    finally:
        arklet.install_latency = arklet.download_latency = 0.0


@pytest.mark.parametrize("folder", list(PROMOTE))
async def test_recorded_promote_and_conflict_cases_replay(
        make_arklet: MakeArklet, repo: ModuleRepository, folder: str) -> None:
    arklet = await make_arklet(flavour=PROMOTE[folder])
    exchanges = load(folder)
    by_name = {e.name: e for e in exchanges}
    for exchange in (e for e in exchanges if e.name.startswith("p")):
        assert_matches(exchange, await send(arklet, exchange, repo), repo.url)
    await concurrent_install(arklet, repo, by_name["c1_install_A"], [by_name["c2_install_B_same_key"]])
    for name in ("c3_uninstall", "c4_query"):
        assert_matches(by_name[name], await send(arklet, by_name[name], repo), repo.url)


async def test_body_over_one_mib_gets_the_recorded_413(arklet: FakeArklet) -> None:
    recorded = (CAPTURES / "real-body-over-1MiB.resp").read_bytes()
    answer = recorded.split(b"<timed out>")[0]
    body = json.dumps({"bizName": "x" * (1024 * 1024)}).encode()
    request = (b"POST /installBiz HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
               + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    reply = await raw_exchange(arklet.host, arklet.port, request, timeout=0.5)
    assert reply.data == answer and not reply.eof  # the connection was left open

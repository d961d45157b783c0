"""Small helpers for tests that drive a fake Arklet (reusable by the controller's tests).

Everything here is bounded by a timeout: a test that waits on a fake must fail, not hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

import aiohttp

if TYPE_CHECKING:
    from .server import FakeArklet

#: Type of a factory fixture that starts a fake: ``await make_arklet(host, port, **kwargs)``.
MakeArklet = Callable[..., Awaitable["FakeArklet"]]


@contextlib.asynccontextmanager
async def fake_arklets(module_proxy: str, *, check_closed: bool = False
                       ) -> AsyncIterator[MakeArklet]:
    """A factory of started fakes (``await make(host="127.0.0.1", port=0, **kwargs)``, seed 1,
    jar downloads through ``module_proxy``), all stopped on exit; ``check_closed`` then asserts
    that no fake still holds a connection."""
    from .server import FakeArklet

    started: list[FakeArklet] = []

    async def make(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> FakeArklet:
        kwargs.setdefault("seed", 1)
        kwargs.setdefault("module_proxy", module_proxy)
        arklet = FakeArklet(host, port, **kwargs)
        await arklet.start()
        started.append(arklet)
        return arklet

    try:
        yield make
    finally:
        await asyncio.gather(*(a.stop() for a in started))
    if check_closed:
        for arklet in started:
            assert arklet.open_connections == 0


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until it is true; raise :class:`TimeoutError` after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class RawReply:
    """What came back on a raw connection before EOF (or before the timeout)."""

    data: bytes
    eof: bool

    @property
    def head(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        parts = self.data.split(b"\r\n\r\n", 1)
        return parts[1] if len(parts) == 2 else b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def build_request(command: str, body: bytes | str | dict[str, Any] | None = None, *,
                  method: str = "POST", host: str = "arklet", chunked: bool = False) -> bytes:
    """Bytes of one HTTP/1.1 request to ``/<command>`` (a dict body is JSON-encoded)."""
    if isinstance(body, dict):
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    elif isinstance(body, str):
        payload = body.encode("utf-8")
    else:
        payload = body or b""
    lines = [f"{method} /{command} HTTP/1.1", f"Host: {host}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        framed = b""
        for i in range(0, len(payload), 7):  # small chunks on purpose
            piece = payload[i:i + 7]
            framed += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        payload = framed + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def raw_exchange(host: str, port: int, request: bytes, *, timeout: float = 5.0) -> RawReply:
    """Send ``request`` on a fresh connection and read until EOF or ``timeout``.

    ``eof`` tells whether the server closed the connection (a timeout gives ``eof=False``).
    """
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(request)
        await writer.drain()
        chunks: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return RawReply(b"".join(chunks), eof=False)
            try:
                chunk = await asyncio.wait_for(reader.read(65536), remaining)
            except asyncio.TimeoutError:
                return RawReply(b"".join(chunks), eof=False)
            except ConnectionResetError:
                return RawReply(b"".join(chunks), eof=True)
            if not chunk:
                return RawReply(b"".join(chunks), eof=True)
            chunks.append(chunk)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), timeout)
        except (ConnectionError, asyncio.TimeoutError):
            pass


@dataclass(frozen=True)
class Answer:
    """One HTTP answer from a fake Arklet, as an ordinary client sees it."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class ArkletHttp:
    """A minimal Arklet client over an aiohttp session; every call has a total timeout."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, arklet: FakeArklet, command: str, body: Any = None, *,
                   method: str = "POST", timeout: float = 5.0) -> Answer:
        """Send ``body`` (JSON-encoded unless ``None``) to ``/<command>``."""
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        async with self.session.request(
            method, f"{arklet.url}/{command}", data=data,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            return Answer(resp.status, dict(resp.headers), await resp.text())

    async def ok(self, arklet: FakeArklet, command: str, body: Any = None, *,
                 timeout: float = 5.0) -> dict[str, Any]:
        """POST (``{}`` by default), require HTTP 200 and return the JSON envelope."""
        answer = await self.call(arklet, command, {} if body is None else body, timeout=timeout)
        assert answer.status == 200, answer
        envelope: dict[str, Any] = answer.json()
        return envelope

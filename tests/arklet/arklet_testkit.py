"""Helpers shared by the Arklet client tests (imported by ``conftest.py`` and the tests)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Awaitable, Callable

from module_controller.arklet import ArkletClient, ArkletSettings
from module_controller_dev.fakearklet.testing import MakeArklet  # noqa: F401 - for the tests

#: Short timeouts and backoffs: a retry path costs tens of milliseconds, a timeout 0.3 s.
FAST = ArkletSettings(connect_timeout=0.5, timeout=0.3, install_timeout=2.0, attempts=4,
                      backoff_initial=0.01, backoff_max=0.05, concurrency=8)


@dataclasses.dataclass
class Attempt:
    command: str
    label: str
    seconds: float


class CallLog:
    """What ``on_call`` reported, in order; may run an action after each attempt."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.after: Callable[[Attempt], None] | None = None

    def __call__(self, command: str, label: str, seconds: float) -> None:
        attempt = Attempt(command, label, seconds)
        self.attempts.append(attempt)
        if self.after is not None:
            self.after(attempt)

    def labels(self, command: str | None = None) -> list[str]:
        return [a.label for a in self.attempts if command is None or a.command == command]


MakeClient = Callable[..., tuple[ArkletClient, CallLog]]


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP request (head and a Content-Length body), as the client sent it."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


class RawServer:
    """An HTTP server on 127.0.0.1 for answers the protocol-faithful fake never gives: each
    connection's request is read, then ``handler`` writes whatever it likes; the connection is
    closed after it."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await read_request(reader)
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


class RogueServer(RawServer):
    """A :class:`RawServer` that answers with scripted raw bytes (e.g. a garbled 200); the last
    scripted reply is repeated once the script runs out."""

    def __init__(self, replies: list[bytes]) -> None:
        super().__init__(self._reply)
        self.replies = replies
        self.requests = 0

    async def _reply(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reply = self.replies[min(self.requests, len(self.replies) - 1)]
        self.requests += 1
        writer.write(reply)
        await writer.drain()

"""The fake Arklet's listening socket and its connections, managed by hand.

The socket is not an ``asyncio.start_server`` one because :meth:`Listener.close` must take effect
at once (``add_reader`` + ``accept``, closed synchronously): while a fake refuses, a connect
really fails with ECONNREFUSED, and turning refusal off rebinds the same address. Every accepted
connection becomes a task that runs ``serve(reader, writer, index)``, where ``index`` counts the
connections accepted (the fake assigns Netty event loops round-robin by it).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

_BACKLOG = 128

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Listener:
    """Accepts connections on ``host:port`` (``port=0``: a free one, known after :meth:`open`)."""

    def __init__(self, host: str, port: int, serve: Serve, *, read_limit: int) -> None:
        self.host = host
        self.port = port
        self._serve = serve
        self._read_limit = read_limit
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepted = 0
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter | None] = {}

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind and listen, accepting on ``loop``; raises :class:`OSError` if the address is
        taken."""
        self._loop = loop
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            # SO_REUSEADDR lets a refusing fake rebind while old connections sit in TIME_WAIT;
            # on Linux it still refuses a second *listener* on the same address (OSError).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(_BACKLOG)
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._on_acceptable, sock)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]

    def close(self) -> None:
        """Stop listening; connections already accepted go on."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(sock.fileno())
        sock.close()

    # ------------------------------------------------------------------ connections

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed (hung or waiting ones included)."""
        return len(self._connections)

    def connection_tasks(self) -> list[asyncio.Task[None]]:
        return list(self._connections)

    def abort(self, task: asyncio.Task[None]) -> None:
        """Drop the connection of ``task`` at once (no flush), if it has one."""
        writer = self._connections.get(task)
        if writer is not None:
            writer.transport.abort()

    def _on_acceptable(self, sock: socket.socket) -> None:
        for _ in range(_BACKLOG):
            try:
                conn, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog
                log.warning("fake arklet %s: accept failed: %s", self.host, exc)
                return
            conn.setblocking(False)
            assert self._loop is not None
            index = self._accepted
            self._accepted += 1
            task = self._loop.create_task(self._connection(conn, index))
            self._connections[task] = None
            task.add_done_callback(self._connection_done)

    def _connection_done(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("fake arklet %s: connection handler failed", self.host,
                      exc_info=task.exception())

    async def _connection(self, conn: socket.socket, index: int) -> None:
        task = asyncio.current_task()
        assert task is not None and self._loop is not None
        writer: asyncio.StreamWriter | None = None
        try:
            reader = asyncio.StreamReader(limit=self._read_limit)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await self._loop.connect_accepted_socket(lambda: protocol, sock=conn)
            writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
            self._connections[task] = writer
            await self._serve(reader, writer, index)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, or sent more head than any Arklet client would
        finally:
            if writer is not None:
                writer.close()  # flushes what was written, then closes: the client reads EOF
            else:
                conn.close()

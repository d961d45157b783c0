"""The fake Arklet's imperative shell: sockets, waiting, fault injection, the request log.

All protocol decisions come from :class:`~.core.ArkletCore`; this module only frames HTTP,
sleeps where the real Arklet would be busy, and applies the :class:`~.faults.FaultPlan`.

It is a raw asyncio TCP server rather than an HTTP framework because Arklet's quirks are at the
byte level: replies carry no headers at all and end by closing the connection, non-POST methods
get a plain-text 500, and a malformed JSON body is never answered.

The listening socket is managed by hand (:mod:`.listener`) so that :meth:`refuse` can close and
reopen it synchronously: while refusing, a connect really fails with ECONNREFUSED.

Event loops: the real Arklet is a Netty server whose worker group has ``2 × cores`` event loops;
each accepted connection is assigned to the next loop, round-robin, and its command (download and
start of a module included) runs on that loop's thread. So a long install blocks only the
requests that land on its loop: recorded, a ``queryAllBiz`` on the installing loop waited 19.5 s
while a ``health`` on another loop took 0.12 s. The fake models exactly that: ``event_loops``
(default 4, a 2-core base) :class:`asyncio.Lock` objects, connection *n* uses lock
``n % event_loops``, held for command processing, download, install latency and fault latency
(not for waiting for a body, hangs, or writing the reply). ``serialize_requests=False`` drops the
locks (every connection runs at once). The per ``name:version`` lock of the core is separate: a
second install of a key whose install runs elsewhere is answered at once with the conflict.

Installs download ``bizUrl`` (:mod:`.download`): over HTTP through ``module_proxy`` (the dev
cluster's module repository, ``host:port``) for non-local hosts, directly for ``127.*`` and
``localhost``, from disk for ``file://``. The install latency is the module's start-up: it is
spent only when the jar was read and the biz registered (not for REPEAT_BIZ or failures).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Coroutine

from . import wire
from .core import ArkletCore
from .download import Downloader, DownloadError
from .faults import UNLISTED, FaultPlan
from .listener import Listener
from .request_stream import read_body, wait_for_eof
from .vocabulary import FAILED, INSTALL, INTERNAL_ERROR, PendingOp, Reply, Started, parse_body

log = logging.getLogger(__name__)


@dataclass
class RequestRecord:
    """One request as the fake saw it, appended to :attr:`FakeArklet.requests`.

    ``seq`` is the position in the log (1, 2, …). A record is appended once the fake has decided
    what to do with the request: when it replies, or when it decides not to (malformed JSON, a
    hang or close fault). ``time`` is when the request arrived (epoch seconds), so a slow install
    can have a later ``seq`` but an earlier ``time`` than a quick call that overtook it.
    ``http_status``/``code`` are ``None`` when no reply was sent.
    """

    seq: int
    time: float
    method: str
    command: str
    body: Any
    http_status: int | None = None
    code: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON shape used by the control app."""
        return {"seq": self.seq, "time": self.time, "method": self.method,
                "command": self.command, "body": self.body, "httpStatus": self.http_status,
                "code": self.code, "note": self.note}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class FakeArklet:
    """One simulated base's Arklet, listening on ``host:port``.

    ``port=0`` picks a free port; :attr:`port` holds the real one after :meth:`start`.
    ``install_latency`` (seconds, settable at any time) is how long a module takes to start once
    its jar was downloaded and read. ``seed`` seeds the fault plan's randomness.
    ``module_proxy`` (``host:port``) is the HTTP proxy jar downloads of non-local urls go
    through; ``download_timeout`` bounds one download; ``download_latency`` (default 0) is extra
    time every download takes (a real base spends ~10 ms fetching and unpacking, which is also
    what every REPEAT_BIZ and download failure costs there). ``event_loops`` is the number of Netty
    event loops modelled (see the module docstring).
    """

    def __init__(
        self,
        host: str,
        port: int = 1238,
        flavour: str = "2023",
        base_name: str = "base",
        base_version: str = "1.0.0",
        install_latency: float = 0.0,
        seed: int | None = None,
        *,
        serialize_requests: bool = True,
        event_loops: int = 4,
        module_proxy: str | None = None,
        download_timeout: float = 10.0,
        download_latency: float = 0.0,
    ) -> None:
        if event_loops < 1:
            raise ValueError("event_loops must be >= 1")
        self.host = host
        self.port = port
        self.flavour = flavour
        self.install_latency = install_latency
        self.serialize_requests = serialize_requests
        self.event_loops = event_loops
        self.module_proxy = module_proxy
        self.download_latency = download_latency
        self.core = ArkletCore(flavour, base_name, base_version)
        self.faults = FaultPlan(seed)
        self.requests: list[RequestRecord] = []
        self.downloader = Downloader(module_proxy, download_timeout)
        self._loop_locks = [asyncio.Lock() for _ in range(event_loops)]
        self._listener = Listener(host, port, self._serve_one, read_limit=wire.MAX_HEAD)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._refusing = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind and listen; raises :class:`OSError` if the address is taken."""
        if self._started:
            raise RuntimeError("FakeArklet already started")
        self._loop = asyncio.get_running_loop()
        self._open_listener()
        self._started = True
        self._refusing = False
        log.debug("fake arklet %s listening on port %s (%s)", self.host, self.port, self.flavour)

    async def stop(self) -> None:
        """Close the listener and every open connection; waits for all tasks to end."""
        self._close_listener()
        await self._drop_all()
        await self.downloader.close()
        self._started = False
        self._refusing = False

    async def __aenter__(self) -> FakeArklet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def restart_base(self) -> None:
        """Simulate a JVM restart: every biz and lock is gone, in-flight connections drop."""
        self.core.restart(time.time())
        await self._drop_all()

    def refuse(self, on: bool) -> None:
        """Refuse TCP connections (close the listening socket) or accept them again.

        Turning refusal off rebinds the same ``host:port`` and may raise :class:`OSError` if
        someone else took the port meanwhile. Open connections are not affected either way.
        """
        if not self._started:
            raise RuntimeError("FakeArklet not started")
        if on and not self._refusing:
            self._close_listener()
            self._refusing = True
        elif not on and self._refusing:
            self._open_listener()
            self._refusing = False

    # ------------------------------------------------------------------ inspection

    @property
    def refusing(self) -> bool:
        return self._refusing

    @property
    def running(self) -> bool:
        return self._started

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed (hung or waiting ones included)."""
        return self._listener.open_connections

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bizzes(self) -> list[dict[str, Any]]:
        """Snapshot of the installed bizzes, rendered as ``queryAllBiz`` shows them."""
        return self.core.bizzes()

    def set_base_ready(self, ready: bool) -> None:
        """Make ``health`` report the base as ready (ACTIVATED master biz) or not."""
        self.core.base_ready = ready

    def set_biz_state(self, name: str, version: str, state: str) -> None:
        """Force a biz into a state, e.g. ``BROKEN`` (raises :class:`KeyError` if absent)."""
        self.core.set_biz_state(name, version, state, now=time.time())

    # ------------------------------------------------------------------ listener

    def _open_listener(self) -> None:
        assert self._loop is not None
        self._listener.port = self.port
        self._listener.open(self._loop)
        self.port = self._listener.port

    def _close_listener(self) -> None:
        self._listener.close()

    # ------------------------------------------------------------------ requests

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         event_loop: int = 0) -> None:
        """One request on one accepted connection; ``event_loop`` is the connection's number
        (its Netty event loop is that number modulo ``event_loops``)."""
        try:
            raw_head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return  # closed before a full request arrived: nothing to log
        received = time.time()
        try:
            head = wire.parse_head(raw_head)
            if head.content_length() > wire.MAX_ARKLET_BODY:
                raise wire.TooLarge()
            if (head.header("expect") or "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            raw_body = await read_body(head, reader)
        except wire.TooLarge:
            # Netty's aggregator: 413 with content-length 0, and the connection stays open.
            self._log(received, "", "", _text(raw_head[:200]), 413, note="body over 1 MiB")
            writer.write(wire.too_large_response())
            await wait_for_eof(reader)
            return
        except (wire.WireError, asyncio.LimitOverrunError) as exc:
            self._log(received, "", "", _text(raw_head[:200]), note=f"malformed HTTP: {exc}")
            return
        command = head.command

        if head.method != "POST":
            record = self._log(received, head.method, command, _text(raw_body), 500,
                               note="non-POST method")
            await self._send(writer, wire.non_post_response(), record)
            return

        body = parse_body(raw_body)
        if body is None:
            # The real Arklet throws while parsing and never answers; the connection stays
            # open until the client gives up.
            self._log(received, head.method, command, _text(raw_body),
                      note="malformed JSON: no reply")
            await wait_for_eof(reader)
            return
        empty = not raw_body.strip()

        decision = self.faults.decide(command)
        if decision.action == "hang":
            self._log(received, head.method, command, body, note=decision.note)
            await wait_for_eof(reader)
            return

        async with self._event_loop(event_loop):
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.action == "close":
                self._log(received, head.method, command, body, note=decision.note)
                return
            if decision.action == "http500":
                payload = wire.error_response("injected fault: internal server error")
                record = self._log(received, head.method, command, body, 500,
                                   note=decision.note)
            else:
                if decision.action in (FAILED, INTERNAL_ERROR):
                    reply = self.core.injected_failure(command, decision.action)
                else:
                    reply = await self._execute(command, body, empty)
                    if decision.action == UNLISTED and reply.code == "SUCCESS":
                        self.core.forget_installed(reply)
                payload = wire.ok_response(reply.body())
                record = self._log(received, head.method, command, body, 200, reply.code,
                                   note=decision.note)
        await self._send(writer, payload, record)

    async def _execute(self, command: str, body: dict[str, Any], empty: bool = False) -> Reply:
        step = self.core.handle(command, body, now=time.time(), empty=empty)
        if isinstance(step, Reply):
            return step
        op = step
        if op.asynchronous:
            reply = self.core.accepted(op)
            self._spawn(self._finish_async(op))
            return reply
        try:
            return await self._run(op)
        except BaseException:
            self.core.abandon(op, now=time.time(), reason="the fake arklet was stopped")
            raise

    async def _run(self, op: PendingOp) -> Reply:
        """Carry a pending op to its answer: download, read, start (install latency), finish."""
        if op.command != INSTALL:
            return self.core.finish(op, now=time.time())
        try:
            if self.download_latency > 0:
                await asyncio.sleep(self.download_latency)
            jar = await self.downloader.fetch(op.biz_url)
        except DownloadError as exc:
            return self.core.download_failed(op, str(exc), now=time.time())
        step = self.core.unpacked(op, jar, now=time.time())
        if not isinstance(step, Started):
            return step
        if self.install_latency > 0:
            await asyncio.sleep(self.install_latency)  # the module starts
        return self.core.finish(op, now=time.time())

    async def _finish_async(self, op: PendingOp) -> None:
        """Run an accepted ``async`` install in the background (on no event loop's lock)."""
        try:
            await asyncio.sleep(0)  # the accepted reply goes out first
            self.core.mark_executing(op)
            await self._run(op)
        except BaseException:
            self.core.abandon(op, now=time.time(), reason="the fake arklet was stopped")
            raise

    @contextlib.asynccontextmanager
    async def _event_loop(self, index: int) -> AsyncIterator[None]:
        if self.serialize_requests:
            async with self._loop_locks[index % len(self._loop_locks)]:
                yield
        else:
            yield

    async def _send(self, writer: asyncio.StreamWriter, payload: bytes,
                    record: RequestRecord) -> None:
        try:
            writer.write(payload)
            await writer.drain()
        except (ConnectionError, OSError):
            record.note = "; ".join(n for n in (record.note, "client gone before the reply") if n)

    def _log(self, received: float, method: str, command: str, body: Any,
             http_status: int | None = None, code: str | None = None,
             note: str = "") -> RequestRecord:
        record = RequestRecord(len(self.requests) + 1, received, method, command, body,
                               http_status, code, note)
        self.requests.append(record)
        return record

    # ------------------------------------------------------------------ task bookkeeping

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drop_all(self) -> None:
        """Abort every connection and background op, and wait until their tasks are gone."""
        current = asyncio.current_task()
        tasks = [t for t in self._listener.connection_tasks() + list(self._background)
                 if t is not current]
        for task in tasks:
            self._listener.abort(task)
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

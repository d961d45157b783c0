"""The Arklet client's imperative shell: HTTP, timeouts, retries, serialisation, concurrency.

Every decision about *what* a reply means is made in :mod:`.protocol`; this module only gets the
bytes there and back, reliably:

* one fresh connection per request (``force_close``): Arklet sends no Content-Length and closes
  after every reply, so the body is read to EOF and a connection is never reused;
* every attempt has a connect timeout and a total timeout (``install_timeout`` for install,
  because Arklet answers only once the module has started);
* redirects are never followed (a 3xx is a protocol error: Arklet is spoken to on the pod's own
  address only, or a pod could make the controller fetch, and then publish, an internal url);
  a body longer than ``max_reply_bytes`` is a protocol error and is not read further; nothing
  of a reply that is not an Arklet envelope is passed on in an error's text (docs/security.md);
* only a connection that could not be made (refused, unreachable, connect timeout) is retried
  here, a few times with a short capped backoff (``runtime/backoff.py``): the request never
  reached the base, so a retry is cheap and cannot act twice. Anything that happens after the
  request was sent (a timeout, HTTP 5xx, a reset, a garbled reply) ends the call at once in
  :class:`ArkletUnavailable`, and the caller's reconcile ends; its work queue retries with its
  own backoff. So a hung base holds a worker for one call's timeout plus the connect retries
  (:meth:`ArkletSettings.longest_call`), never for several timeouts in a row. A business
  answer is returned as an :class:`ArkletResult` and never retried here, because the caller has
  to decide what e.g. REPEAT_BIZ or a conflict means;
* calls that act on one module of one base (install/uninstall/switch of a ``(host, bizName)``)
  are serialised, since Arklet itself only guards ``name:version`` and two versions of one name
  racing on a base is exactly the mess the controller must avoid;
* at most ``concurrency`` requests are in flight across all bases. The slot is taken per
  attempt, not per call, so a call sleeping before its retry does not block others;
* at most ``per_base`` calls are in flight per base, with a short bounded queue behind them
  (:mod:`.base_slots`): a call that finds its base full is refused at once or after
  ``slot_wait`` (:class:`ArkletBusy`, nothing sent), and a call that timed out keeps its base's
  slot until the base answers it, or its own timeout once more (``slot_held``), because the base
  is still working on it. So a slow base is sent what it can serve, not a pile of calls that
  all time out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from . import protocol
from ..runtime.backoff import CappedJitterBackoff
from .base_slots import BaseBusy, BaseSlots
from .errors import ArkletBusy, ArkletError, ArkletUnavailable
from .locks import KeyedLocks
from .protocol import ArkletResult, BizInfo, BizRef, Health, Outcome, ProtocolError
from .settings import ArkletSettings

log = logging.getLogger(__name__)

#: ``on_call(command, result_label, seconds)``: called after every HTTP attempt.
OnCall = Callable[[str, str, float], None]

# Result labels for attempts that produced no business answer (Outcome names are the others).
LABEL_HTTP_5XX = "http_500"
LABEL_TIMEOUT = "timeout"
LABEL_CONNECT_ERROR = "connect_error"  # refused, reset, closed without (complete) reply
LABEL_PROTOCOL_ERROR = "protocol_error"  # an answer that is not an Arklet envelope
LABEL_BUSY = "base_busy"  # not sent: the base's slots and queue are full
#: Commands that change what a base runs: a late answer to one makes earlier listings stale.
_CHANGES = frozenset({protocol.INSTALL, protocol.UNINSTALL, protocol.SWITCH})

# identity: a compressed body could inflate far beyond the reply cap before it is counted.
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept-Encoding": "identity"}
_READ_CHUNK = 64 * 1024


class _Transient(Exception):
    """One attempt got no usable answer. ``reached``: the request may have reached the base
    (False only when no connection could be made)."""

    def __init__(self, label: str, detail: str, *, reached: bool = True) -> None:
        super().__init__(f"{label}: {detail}")
        self.label = label
        self.detail = detail
        self.reached = reached


def _worth_retrying(exc: BaseException) -> bool:
    """Only an attempt that never reached the base is retried inside the call. One that did
    may have cost the base a whole timeout (or still run there: a hung install), and sending it
    again would hold the caller's worker for another timeout; the reconcile's work queue retries
    it instead, after looking at the base and the object again (it may be deleted meanwhile)."""
    return isinstance(exc, _Transient) and not exc.reached


class _Slot:
    """A call's slot of its base: released when the call ends, unless an exchange that outlived
    the call took it over (then released when that exchange ends). Released once."""

    __slots__ = ("slots", "base", "handed", "released")

    def __init__(self, slots: BaseSlots, base: tuple[str, int]) -> None:
        self.slots = slots
        self.base = base
        self.handed = False
        self.released = False

    def hand_over(self) -> None:
        self.handed = True

    def release(self, *, handed: bool = False) -> None:
        if self.released or self.handed != handed:
            return
        self.released = True
        self.slots.release(self.base)


class ArkletClient:
    """Async client for the Arklet of many bases; use as ``async with ArkletClient(...) as c``.

    One instance is meant to be shared by the whole controller: the per-module serialisation and
    the concurrency bound only hold among calls made through the same instance.
    """

    def __init__(self, settings: ArkletSettings | None = None, *,
                 on_call: OnCall | None = None,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.settings = settings if settings is not None else ArkletSettings()
        self._on_call = on_call
        #: Called with the host (as :func:`protocol.normalise_host` spells it) when an install,
        #: uninstall or switch to it has ended, answered or not: what the base runs may differ
        #: from any listing asked for before (the drift check's listings, controllers/listings.py).
        self.on_change = on_change
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        settings = self.settings
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self.slots = BaseSlots(settings.per_base, settings.per_base_queue, settings.slot_wait)
        #: Exchanges whose caller stopped waiting (timed out, cancelled): they hold their base's
        #: slot until the base answers or their bound ends; cancelled on close.
        self._lingering: set[asyncio.Task[ArkletResult]] = set()
        self.wait_policy = CappedJitterBackoff(settings.backoff_initial, settings.backoff_max)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ArkletClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session; the client cannot be used afterwards."""
        self._closed = True
        for task in list(self._lingering):
            task.cancel()
        if self._lingering:
            await asyncio.gather(*self._lingering, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("ArkletClient is closed")
        if self._session is None:
            # Created lazily so the client can be built outside a running loop.
            # limit=0: the semaphore is the bound; a connector limit too would make requests
            # queue inside aiohttp, where the wait would count against the connect timeout.
            connector = aiohttp.TCPConnector(force_close=True, limit=0)
            # trust_env=False: never send pod-IP traffic through an HTTP(S)_PROXY from the env.
            # auto_decompress=False: bytes are counted as they come off the wire (see _HEADERS).
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  auto_decompress=False)
        return self._session

    @property
    def lock_count(self) -> int:
        """(host, bizName) keys currently held or waited for (idle keys are dropped)."""
        return len(self._locks)

    # ------------------------------------------------------------------ commands

    async def install(self, host: str, biz: BizRef, *, port: int | None = None) -> ArkletResult:
        """``installBiz``; waits until Arklet has started the module (``install_timeout``)."""
        body = protocol.install_body(biz)
        return await self._module_call(host, port, protocol.INSTALL, body, biz.name,
                                       self.settings.install_timeout)

    async def uninstall(self, host: str, name: str, version: str, *,
                        port: int | None = None) -> ArkletResult:
        """``uninstallBiz``; ``NOT_FOUND_BIZ`` comes back with ``ok`` true."""
        body = protocol.biz_body(name, version)
        return await self._module_call(host, port, protocol.UNINSTALL, body, name,
                                       self.settings.timeout)

    async def switch(self, host: str, name: str, version: str, *,
                     port: int | None = None) -> ArkletResult:
        """``switchBiz``: activate ``version``, deactivating the other versions of ``name``."""
        body = protocol.biz_body(name, version)
        return await self._module_call(host, port, protocol.SWITCH, body, name,
                                       self.settings.timeout)

    async def query_all(self, host: str, *, port: int | None = None) -> list[BizInfo]:
        """``queryAllBiz``; raises :class:`ArkletError` if Arklet does not answer SUCCESS."""
        result = await self._call(host, port, protocol.QUERY_ALL, protocol.empty_body(),
                                  self.settings.timeout)
        if result.outcome is not Outcome.SUCCESS:
            raise ArkletError(result, host)
        return list(result.biz_infos)

    async def health(self, host: str, *, port: int | None = None) -> Health:
        """``health``, interpreted for either generation (a non-SUCCESS answer is not ready)."""
        result = await self._call(host, port, protocol.HEALTH, protocol.empty_body(),
                                  self.settings.timeout)
        return protocol.parse_health(result.raw or {})

    # ------------------------------------------------------------------ machinery

    async def _module_call(self, host: str, port: int | None, command: str,
                           body: Mapping[str, Any], name: str, timeout: float) -> ArkletResult:
        # The lock covers the retries too: a retry of an install must not interleave with an
        # uninstall of the same module that was queued behind it.
        canonical = protocol.normalise_host(host)
        async with self._locks.hold((canonical, name)):
            try:
                return await self._call(host, port, command, body, timeout)
            finally:
                if self.on_change is not None:
                    self.on_change(canonical)

    async def _call(self, host: str, port: int | None, command: str, body: Mapping[str, Any],
                    timeout: float) -> ArkletResult:
        port = self.settings.port if port is None else port
        url = protocol.command_url(host, port, command)
        payload = protocol.encode_body(body)
        base = (protocol.normalise_host(host), port)  # one Arklet: its address and port
        try:
            await self.slots.acquire(base)
        except BaseBusy as exc:
            self._report(command, LABEL_BUSY, 0.0)
            log.debug("arklet %s %s: %s", command, url, exc)
            raise ArkletBusy(host, command, 0, str(exc)) from None
        slot = _Slot(self.slots, base)
        attempts = self.settings.attempts
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self.wait_policy,
            retry=retry_if_exception(_worth_retrying),
            before_sleep=lambda state: self._warn_retry(command, url, state),
            reraise=True,
        )
        made = 0
        try:
            async for attempt in retrying:
                with attempt:
                    made = attempt.retry_state.attempt_number
                    log.debug("arklet %s %s: attempt %d/%d", command, url, made, attempts)
                    return await self._attempt(url, command, payload, timeout, slot)
        except _Transient as exc:
            raise ArkletUnavailable(host, command, made, str(exc)) from exc
        finally:
            slot.release()  # unless an exchange still running took it over
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(self, url: str, command: str, payload: bytes, timeout: float,
                       slot: _Slot) -> ArkletResult:
        """One HTTP exchange; a business answer or :class:`_Transient`. The exchange runs as a
        task of its own: if the caller stops waiting (its timeout, a cancellation) while the
        request may be at the base, the task keeps the base's slot until the base answers or
        ``slot_held`` ends."""
        session = self._ensure_session()
        loop = asyncio.get_running_loop()
        client_timeout = aiohttp.ClientTimeout(total=self.settings.slot_held(timeout),
                                               connect=None,
                                               sock_connect=self.settings.connect_timeout)
        started = loop.time()
        exchange = asyncio.create_task(self._exchange_limited(
            session, url, command, payload, client_timeout))
        try:
            result = await asyncio.wait_for(asyncio.shield(exchange), timeout)
        except TimeoutError as exc:
            self._linger(exchange, slot, command, url)
            self._report(command, LABEL_TIMEOUT, loop.time() - started)
            log.debug("arklet %s %s: no reply within %gs", command, url, timeout)
            raise _Transient(LABEL_TIMEOUT, f"no reply within the timeout ({timeout:g}s)") \
                from exc
        except _Transient as exc:
            self._report(command, exc.label, loop.time() - started)
            log.debug("arklet %s %s: %s", command, url, exc)
            raise
        except asyncio.CancelledError:
            self._linger(exchange, slot, command, url)
            raise
        self._report(command, result.outcome.name, loop.time() - started)
        log.debug("arklet %s %s: %s %s", command, url, result.outcome.name, result.message)
        return result

    async def _exchange_limited(self, session: aiohttp.ClientSession, url: str, command: str,
                                payload: bytes, client_timeout: aiohttp.ClientTimeout
                                ) -> ArkletResult:
        async with self._semaphore:
            return await self._exchange(session, url, command, payload, client_timeout,
                                        self.settings.max_reply_bytes)

    def _linger(self, exchange: asyncio.Task[ArkletResult], slot: _Slot, command: str,
                url: str) -> None:
        """The caller stopped waiting for ``exchange``: it keeps the base's slot until it ends
        (the base answers, the connection fails, or ``slot_held`` passes)."""
        if exchange.done():
            if not exchange.cancelled():
                exchange.exception()  # retrieved (asyncio would report it unretrieved), not raised
            return
        slot.hand_over()
        self._lingering.add(exchange)
        host = slot.base[0]

        def ended(task: asyncio.Task[ArkletResult]) -> None:
            self._lingering.discard(task)
            slot.release(handed=True)
            error = None if task.cancelled() else task.exception()
            log.debug("arklet %s %s: late %s", command, url,
                      "cancelled" if task.cancelled() else error or task.result().outcome.name)
            if command in _CHANGES and self.on_change is not None:
                self.on_change(host)  # the base may run something else now

        exchange.add_done_callback(ended)

    @staticmethod
    async def _exchange(session: aiohttp.ClientSession, url: str, command: str, payload: bytes,
                        client_timeout: aiohttp.ClientTimeout, limit: int) -> ArkletResult:
        try:
            async with session.post(url, data=payload, headers=_HEADERS, timeout=client_timeout,
                                    allow_redirects=False) as response:
                status = response.status
                if 300 <= status < 400:
                    # Neither the Location nor the body is looked at, let alone followed.
                    response.close()
                    raise _Transient(LABEL_PROTOCOL_ERROR, f"HTTP {status} redirect refused")
                raw = await _read_capped(response, limit)  # to EOF: no Content-Length
        except aiohttp.ConnectionTimeoutError as exc:  # before TimeoutError, which it also is
            raise _Transient(LABEL_TIMEOUT, f"no connection within the connect timeout ({exc!r})",
                             reached=False) from exc
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise _Transient(LABEL_TIMEOUT, f"no reply within the timeout ({exc!r})") from exc
        except aiohttp.ClientConnectorError as exc:  # refused, unreachable: nothing was sent
            raise _Transient(LABEL_CONNECT_ERROR, repr(exc), reached=False) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise _Transient(LABEL_CONNECT_ERROR, repr(exc)) from exc
        except aiohttp.ClientError as exc:  # e.g. a reply that is not valid HTTP
            raise _Transient(LABEL_PROTOCOL_ERROR, repr(exc)) from exc
        if status >= 500:
            # The body is not echoed: whatever answers 5xx on the port (a proxy, a module's own
            # server) is not Arklet, and its text must not reach status or Events.
            raise _Transient(LABEL_HTTP_5XX, f"HTTP {status}")
        if status != 200:
            raise _Transient(LABEL_PROTOCOL_ERROR, f"unexpected HTTP status {status}")
        try:
            return protocol.parse_envelope(command, protocol.decode_reply(raw))
        except ProtocolError as exc:
            raise _Transient(LABEL_PROTOCOL_ERROR, _without_reply(exc, len(raw))) from exc

    def _report(self, command: str, label: str, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(command, label, seconds)
        except Exception:  # a metrics bug must not turn into a failed Arklet call
            log.exception("arklet on_call hook failed for %s/%s", command, label)

    def _warn_retry(self, command: str, url: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning("arklet %s %s failed (%s); retry %d of %d in %.2fs", command, url, error,
                    state.attempt_number, self.settings.attempts - 1, state.upcoming_sleep)


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, read in chunks to EOF; more than ``limit`` bytes is a protocol error, and then
    the connection is dropped instead of being drained."""
    if response.content_length is not None and response.content_length > limit:
        response.close()
        raise _Transient(LABEL_PROTOCOL_ERROR,
                         f"reply of {response.content_length} bytes exceeds {limit}")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await response.content.read(min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            response.close()
            raise _Transient(LABEL_PROTOCOL_ERROR, f"reply exceeds {limit} bytes")
        chunks.append(chunk)


def _without_reply(exc: ProtocolError, size: int) -> str:
    """The protocol module's own words for what is wrong, without the preview of the reply it
    quotes after the colon: a reply that is not an Arklet envelope may be anybody's document."""
    reason = str(exc).split(":", 1)[0].strip() or "not an Arklet reply"
    return f"{reason} ({size} bytes)"

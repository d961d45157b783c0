"""A keyed work queue for level-triggered reconcilers (the shape of client-go's workqueue).

* A key is queued at most once; adding it again while queued is a no-op, adding it while it is
  being processed marks it to run once more afterwards. So a burst of watch events for one
  object costs one reconcile, and no object is ever reconciled by two workers at once.
* ``add(key, delay)`` schedules for later; the earliest requested time wins.
* A handler that raises is retried with capped exponential backoff and jitter, per key; a
  handler returns :class:`Result` to ask for a requeue (e.g. "check again in 5 s").

An optional observer (any object with the methods of :class:`QueueObserver`, e.g. the
controller's work-queue metrics) hears of every add, start and end of a reconcile; the queue
knows nothing of what it does with them.

It holds no state that matters across restarts: after a restart every object is listed again
and queued, and reconcilers read the truth from the cluster and from Arklet.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from dataclasses import dataclass
from typing import Awaitable, Callable, Generic, Hashable, Protocol, TypeVar

from .backoff import CappedJitterBackoff

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


class ReportedFailure(Exception):
    """A failure its reconciler has already reported (status, Event): an expected outcome such as
    Arklet refusing an install. The queue retries it with backoff and logs one WARNING line with
    the message, without a traceback, so that the log says what went wrong and nothing more."""


class QueueObserver(Protocol):
    """Hears what a :class:`WorkQueue` does; ``depth`` is the number of keys waiting (scheduled
    or ready, not being reconciled). Called on the event loop: must be quick, must not block."""

    def added(self, queue: str, depth: int) -> None: ...

    def started(self, queue: str, waited: float, depth: int) -> None: ...

    def finished(self, queue: str, seconds: float, failed: bool) -> None: ...


@dataclass(frozen=True)
class Result:
    """What a reconcile wants next: nothing, or another look after ``requeue_after`` seconds."""

    requeue_after: float | None = None


class WorkQueue(Generic[K]):
    def __init__(
        self,
        name: str,
        handler: Callable[[K], Awaitable[Result | None]],
        *,
        workers: int = 8,
        backoff: CappedJitterBackoff | None = None,
        expected: Callable[[BaseException], bool] = lambda exc: False,
        observer: QueueObserver | None = None,
    ) -> None:
        self.name = name
        self._observer = observer
        self._handler = handler
        self._workers_count = workers
        self.backoff = backoff or CappedJitterBackoff(0.5, 60.0)
        # Failures that are part of normal operation (e.g. an optimistic-concurrency conflict):
        # retried the same way, logged in one line instead of with a traceback.
        self._expected = expected
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}  # key -> time it is scheduled for (heap may hold stale entries)
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()  # in _ready
        self._ready_at: dict[K, float] = {}  # when a key entered _ready (for the DEBUG log)
        self._processing: set[K] = set()
        self._again: dict[K, float] = {}  # added while processing: run again at this time
        self._failures: dict[K, int] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    # ----------------------------------------------------------------- producer side

    def add(self, key: K, delay: float = 0.0) -> None:
        due = asyncio.get_running_loop().time() + max(0.0, delay)
        if key in self._processing:
            self._again[key] = min(self._again.get(key, math.inf), due)
            return
        if key in self._queued:
            return
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._idle.clear()
        self._wake.set()
        if self._observer is not None:
            self._observer.added(self.name, self.depth())

    def depth(self) -> int:
        """Keys waiting: scheduled for later or ready for a worker (not the ones in work)."""
        return len(self._due) + len(self._queued)

    def failures(self, key: K) -> int:
        """How many times in a row the handler failed for ``key`` (0 after a success)."""
        return self._failures.get(key, 0)

    def __len__(self) -> int:
        return len(self._due) + len(self._queued) + len(self._processing)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._schedule(), name=f"{self.name}-scheduler"))
        for i in range(self._workers_count):
            self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-worker-{i}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def wait_idle(self) -> None:
        """Until nothing is scheduled, queued or running (for tests and benchmarks)."""
        while len(self):
            self._idle.clear()
            await self._idle.wait()

    # ----------------------------------------------------------------- internals

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._heap and self._heap[0][0] <= now:
                due, _, key = heapq.heappop(self._heap)
                if self._due.get(key) != due:
                    continue  # superseded by an earlier schedule
                del self._due[key]
                if key in self._processing:
                    self._again[key] = min(self._again.get(key, math.inf), due)
                    continue
                self._queued.add(key)
                self._ready_at[key] = now
                self._ready.put_nowait(key)
            timeout = self._heap[0][0] - now if self._heap else None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._processing.add(key)
            started = loop.time()
            ready_at = self._ready_at.pop(key, started)
            if self._observer is not None:
                self._observer.started(self.name, started - ready_at, self.depth())
            delay: float | None = None
            failed = False
            try:
                result = await self._handler(key)
                self._failures.pop(key, None)
                if result is not None and result.requeue_after is not None:
                    delay = result.requeue_after
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed = True
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                delay = self.backoff.wait(failures)
                if isinstance(exc, ReportedFailure):
                    log.warning("%s: %s: %s; retry %d in %.1fs", self.name, key, exc, failures,
                                delay)
                elif self._expected(exc):
                    delay = min(delay, 0.5)  # a fresh read usually settles it at once
                    log.info("%s: %s: %s; retry in %.1fs", self.name, key, exc.__class__.__name__,
                             delay)
                else:
                    log.exception("%s: reconcile of %s failed (%d in a row); retry in %.1fs",
                                  self.name, key, failures, delay)
            finally:
                self._processing.discard(key)
                if self._observer is not None:
                    self._observer.finished(self.name, loop.time() - started, failed)
                if log.isEnabledFor(logging.DEBUG):
                    # Where a slow flow spends its time: waiting for a worker, or reconciling.
                    log.debug("%s: %s reconciled in %.3fs after %.3fs waiting for a worker%s",
                              self.name, key, loop.time() - started, started - ready_at,
                              f"; again in {delay:.2f}s" if delay is not None else "")
            again = self._again.pop(key, None)
            if again is not None:
                self.add(key, max(0.0, again - loop.time()))
            if delay is not None:
                self.add(key, delay)
            if not len(self):
                self._idle.set()

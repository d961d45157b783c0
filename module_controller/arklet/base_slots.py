"""Per-base admission of Arklet calls: a few calls in flight per base, a short queue behind them.

A base's Arklet serves requests on a few event loops (Netty: 2 x cores); requests beyond that
wait inside the base, time out at the controller, and are sent again while the base is still
working on the first ones. Without a bound per base, 50 modules on a base that answers in 5 s
made 416 queries and 8 installs in 9 minutes and completed none: every call waited behind
calls that had already timed out. With a bound, the base gets what it can serve and each
call it gets completes, so a slow base converges at its own pace (about calls x latency /
``per_base``), and a caller that cannot be served soon is told so at once instead of adding to
the pile.

* at most ``per_base`` calls hold a slot of one base; a slot is released when the base answers
  (or its connection fails), not when the caller stops waiting: a call that timed out still
  occupies the base, so it still counts against it until its late answer or its give-up bound;
* at most ``queue`` callers wait for a slot of one base, each at most ``wait`` seconds; a
  caller beyond either gets :class:`BaseBusy` (nothing was sent).

Entries exist only while a base has a call in flight or waiting, like :mod:`.locks`.
"""

from __future__ import annotations

import asyncio
from typing import Hashable


class BaseBusy(Exception):
    """No slot of the base within the wait, or its queue is full; nothing was sent."""

    def __init__(self, base: Hashable, detail: str) -> None:
        super().__init__(f"base {base} busy: {detail}")
        self.detail = detail


class _Base:
    __slots__ = ("slots", "waiting", "held")

    def __init__(self, per_base: int) -> None:
        self.slots = asyncio.Semaphore(per_base)
        self.waiting = 0
        self.held = 0


class BaseSlots:
    """Slots per base key (the canonical host)."""

    def __init__(self, per_base: int, queue: int, wait: float) -> None:
        if per_base < 1 or queue < 0 or wait < 0:
            raise ValueError(f"need per_base >= 1, queue >= 0, wait >= 0; got {per_base}, "
                             f"{queue}, {wait}")
        self.per_base = per_base
        self.queue = queue
        self.wait = wait
        self._bases: dict[Hashable, _Base] = {}

    def in_flight(self, base: Hashable) -> int:
        """Slots of ``base`` held now (calls sent and not answered, late ones included)."""
        entry = self._bases.get(base)
        return entry.held if entry is not None else 0

    def waiting(self, base: Hashable) -> int:
        entry = self._bases.get(base)
        return entry.waiting if entry is not None else 0

    async def acquire(self, base: Hashable) -> None:
        """Take a slot of ``base`` (pair with :meth:`release`), or raise :class:`BaseBusy`."""
        entry = self._bases.get(base)
        if entry is None:
            entry = self._bases[base] = _Base(self.per_base)
        if entry.slots.locked() and entry.waiting >= self.queue:
            self._drop_if_idle(base, entry)
            raise BaseBusy(base, f"{entry.held} calls in flight and {entry.waiting} waiting")
        if not entry.slots.locked():  # a free slot and nobody before us: no wait
            await entry.slots.acquire()
            entry.held += 1
            return
        entry.waiting += 1
        try:
            await asyncio.wait_for(entry.slots.acquire(), self.wait)
        except BaseException as exc:  # the wait ran out, or the caller was cancelled
            entry.waiting -= 1
            self._drop_if_idle(base, entry)
            if isinstance(exc, TimeoutError):
                raise BaseBusy(base, f"no free slot within {self.wait:g}s ({entry.held} calls "
                                     "in flight)") from None
            raise
        entry.waiting -= 1
        entry.held += 1

    def release(self, base: Hashable) -> None:
        entry = self._bases[base]
        entry.held -= 1
        entry.slots.release()
        self._drop_if_idle(base, entry)

    def _drop_if_idle(self, base: Hashable, entry: _Base) -> None:
        if entry.held == 0 and entry.waiting == 0 and self._bases.get(base) is entry:
            del self._bases[base]

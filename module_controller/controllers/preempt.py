"""Deletion pre-empts in-flight work (docs/security.md).

A Module's install can wait on Arklet for up to the install timeout (minutes on a real base).
The work queue runs one reconcile per key at a time, so without this a deletion that arrives
meanwhile would wait behind that call, and the removal (the thing the user asked for) would
start only when the install gave up. Instead the Arklet call races the deletion: whoever sees a
Module with a deletionTimestamp (the watch, or the answer to one of our own writes) calls
:meth:`DeletionSignals.seen`, and a call running under :meth:`DeletionSignals.unless_deleted`
for that key is cancelled at once.

A cancelled call closes its connection; Arklet may still finish the command on the base. The
removal that follows asks queryAllBiz and takes off whatever it lists; a biz that Arklet
finishes installing only after that is a biz without a Module, which the drift check reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable, Hashable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Deleted(Exception):
    """The object was deleted while its call ran; the call was abandoned."""


class DeletionSignals:
    """One :class:`asyncio.Event` per key that has a call in flight, set when the key's object
    is seen deleting. Entries exist only while a call runs (the queue runs one per key)."""

    def __init__(self) -> None:
        self._events: dict[Hashable, asyncio.Event] = {}

    def seen(self, key: Hashable) -> None:
        """The object of ``key`` has a deletionTimestamp: abandon its call in flight, if any."""
        event = self._events.get(key)
        if event is not None:
            event.set()

    def __len__(self) -> int:
        return len(self._events)

    async def unless_deleted(self, key: Hashable, call: Callable[[], Awaitable[T]],
                             deleting: Callable[[], bool]) -> T:
        """Run ``call()``, unless ``deleting()`` says the object is already being deleted, and
        cancel it when :meth:`seen` is called for ``key`` before it returns.

        Raises :class:`Deleted` in both cases; nothing is sent in the first.
        """
        event = self._events[key] = asyncio.Event()
        try:
            if deleting():  # the deletion was cached before the event existed
                raise Deleted()
            task = asyncio.ensure_future(call())
            waiter = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if task.cancelled():
                raise Deleted()
            return task.result()  # an answer that raced the deletion is still used
        finally:
            if self._events.get(key) is event:
                del self._events[key]

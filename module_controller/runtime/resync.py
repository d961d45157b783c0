"""Catch up with deletions a re-established watch does not report.

kopf re-lists a kind when its watch cannot simply continue (the API server restarted, the
resourceVersion expired with 410). The objects of that list reach our handlers as events of type
``None``; an object deleted while nobody watched is just missing from it, and no DELETED event
ever comes. Left alone, such a ghost stays in the cache for good: a Module counted by its
ModuleReplicaSet, a pod offered to placement.

So a type-``None`` event after start-up asks for a resync of its kind: one list of our own, and
every cached object older than that list and missing from it goes through the same path as a
DELETED event. Resyncs of one kind are at least ``min_interval`` apart (start-up's own listing
falls within that of the priming list), and a request is postponed, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from .store import Obj, Store

log = logging.getLogger(__name__)


class Listing(Protocol):
    """A list answer: the objects and the resourceVersion it was served at (``kube.io.Listing``)."""

    @property
    def items(self) -> list[Obj]: ...

    @property
    def resource_version(self) -> int: ...


@dataclass
class Kind:
    store: Store
    list: Callable[[str | None], Awaitable[Listing]]
    deleted: Callable[[Obj], None]  # what a DELETED watch event of this kind does


class Resync:
    def __init__(self, kinds: dict[str, Kind], namespaces: tuple[str, ...] | list[str],
                 min_interval: float = 10.0):
        self.kinds = kinds
        self.namespaces = tuple(namespaces) or (None,)
        self.min_interval = min_interval
        self._last: dict[str, float] = {}  # kind -> monotonic time its last list was sent
        self._pending: dict[str, asyncio.Task[None]] = {}

    def listed(self, kind: str) -> None:
        """The caches of ``kind`` were just filled from a list (start-up priming)."""
        self._last[kind] = time.monotonic()

    def request(self, kind: str) -> None:
        if kind not in self.kinds or kind in self._pending:
            return  # a pending resync lists after this request was made: it covers it
        self._pending[kind] = asyncio.create_task(self._run(kind), name=f"resync-{kind}")

    async def _run(self, kind: str) -> None:
        try:
            wait = self._last.get(kind, float("-inf")) + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._pending.pop(kind, None)  # requests from now on need a list after this one
            self._last[kind] = time.monotonic()
            await self.resync(kind)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next re-list asks again; the watch keeps going anyway
            log.warning("resync of %s failed: %r", kind, exc)
        finally:
            if self._pending.get(kind) is asyncio.current_task():
                self._pending.pop(kind, None)

    async def resync(self, kind: str) -> int:
        """List ``kind`` now and treat cached objects missing from the list as deleted."""
        spec = self.kinds[kind]
        gone: list[Obj] = []
        for namespace in self.namespaces:
            listing = await spec.list(namespace)
            gone += spec.store.missing_from(listing.items, listing.resource_version, namespace)
        for obj in gone:
            log.info("%s %s/%s was deleted while the watch was down", kind,
                     obj["metadata"].get("namespace"), obj["metadata"]["name"])
            spec.deleted(obj)
        return len(gone)

    async def stop(self) -> None:
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""Keyed asyncio locks that exist only while someone holds or waits for them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # holders + waiters


class KeyedLocks(Generic[K]):
    """One :class:`asyncio.Lock` per key, created on demand and dropped when idle.

    A controller sees an unbounded stream of (base, module) keys over its lifetime (pods come
    and go), so locks must not be kept once nobody uses them. A reference count of holders and
    waiters decides when an entry can go; it is updated without awaiting in between, so no
    other task can observe a half-updated entry.
    """

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    def __len__(self) -> int:
        """Keys currently held or waited for."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def locked(self, key: K) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """``async with locks.hold(key):`` — exclusive for ``key``; cancellation-safe."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            # Runs whether we held the lock or were cancelled while waiting for it.
            entry.users -= 1
            if entry.users == 0 and self._entries.get(key) is entry:
                del self._entries[key]

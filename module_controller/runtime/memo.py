"""What this process has already done once per key, so it is not done again on every reconcile:
an Event already posted, a LIST of Services already made (:class:`Memo`); and what it has
already computed for a key that never changes meaning (:class:`Lru`: a model per object
version).

Bounded, not a cache of the cluster: past ``limit`` keys everything is forgotten at once, and
the price is one repeated Event or LIST per key. Memory stays flat however many objects come and
go, and nothing here is needed to be correct after a restart (it starts empty).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

_NOTHING = object()


class Memo:
    def __init__(self, limit: int = 10_000):
        self._limit = limit
        self._values: dict[Hashable, object] = {}

    def record(self, key: Hashable, value: object = True) -> bool:
        """Remember ``value`` for ``key``; True when that is news (nothing, or something else,
        was remembered), i.e. when the caller should act."""
        if self._values.get(key, _NOTHING) == value:
            return False
        if len(self._values) >= self._limit and key not in self._values:
            self._values.clear()
        self._values[key] = value
        return True

    def forget(self, key: Hashable) -> None:
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)


V = TypeVar("V")


class Lru(Generic[V]):
    """The last ``size`` values computed, by key; the least recently used goes first.

    For keys whose value never changes (an object version's parsed model): unlike
    :class:`Memo`, what is used often stays however many other keys come and go.
    """

    def __init__(self, size: int):
        self._size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for ``key``, computed (and kept) if it is not here. A ``compute`` that
        raises keeps nothing."""
        hit = self._values.get(key)
        if hit is not None:
            self._values.move_to_end(key)
            return hit
        value = compute()
        self._values[key] = value
        if len(self._values) > self._size:
            self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

"""The iteration order of sofa-ark's biz registry, so the fake lists bizzes as real bases do.

sofa-ark keeps bizzes in a ``ConcurrentHashMap`` of name → ``ConcurrentHashMap`` of version → biz
and lists them bin by bin (``getBizInOrder``, then a stable sort by priority, equal here). A map
iterates its table from bin 0 up; a key's bin is ``spread(String.hashCode()) & (size - 1)``; keys
sharing a bin come in insertion order. The table starts at 16 bins and doubles when it holds
three quarters of its size. Neither install order nor "newest first" is what a client sees.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

K = TypeVar("K")

_INITIAL_BINS = 16


def string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as an unsigned 32-bit value."""
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def spread(h: int) -> int:
    """``ConcurrentHashMap.spread``: the high half folded into the low one, sign bit cleared."""
    return (h ^ (h >> 16)) & 0x7FFFFFFF


def table_size(entries: int) -> int:
    """Bins of a default ``ConcurrentHashMap`` holding ``entries`` keys (resized at 3/4 full)."""
    bins = _INITIAL_BINS
    while entries >= bins - (bins >> 2):
        bins <<= 1
    return bins


def iteration_order(keys_in_insertion_order: Iterable[str]) -> list[str]:
    """The keys as the map iterates them: by bin, then by insertion within a bin."""
    keys = list(keys_in_insertion_order)
    bins = table_size(len(keys))
    position = {key: i for i, key in enumerate(keys)}
    return sorted(keys, key=lambda k: (spread(string_hash(k)) & (bins - 1), position[k]))

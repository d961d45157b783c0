"""Loopback addresses for simulated pods.

Every pod gets its own address in 127.0.0.0/8, so each base serves its fake Arklet on the real
port 1238 just as a pod would. A simulator takes its addresses from one /16 block of its own,
``127.B.0.0/16`` with ``B`` in 1..254 (``127.0.0.0/16`` holds 127.0.0.1, where the control plane
and most local servers listen): two simulators on one machine (two dev clusters, parallel test
workers) pick different blocks, so neither finds the other's Arklets on its pods' addresses. The
block is random unless given; an address somebody else already serves is skipped.

Addresses are handed out round-robin: a replacement pod gets a *new* address, and the old one stays
silent for a while, which is what a controller sees in a real cluster.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Iterator

#: addresses in a /16 block once the .0 and .255 ends of every /24 are left out
BLOCK_CAPACITY = 256 * 254


def _addresses(block: int, size: int) -> list[str]:
    if not 1 <= block <= 254:
        raise ValueError(f"address block must be 1..254 (127.B.0.0/16), not {block}")
    if not 1 <= size <= BLOCK_CAPACITY:
        raise ValueError(f"pool size must be 1..{BLOCK_CAPACITY}, not {size}")
    out: list[str] = []
    base = int(ipaddress.IPv4Address(f"127.{block}.0.0"))
    n = 1
    while len(out) < size:
        last = n & 0xFF
        if last not in (0, 255):  # keep clear of network/broadcast-looking addresses
            out.append(str(ipaddress.IPv4Address(base + n)))
        n += 1
    return out


def random_block() -> int:
    return random.randint(1, 254)


class IPPool:
    """Round-robin allocator over ``size`` loopback addresses of block ``127.B.0.0/16``; pure."""

    def __init__(self, size: int = 10_000, block: int | None = None):
        self.block = random_block() if block is None else block
        self._all = _addresses(self.block, size)
        self._index = {ip: i for i, ip in enumerate(self._all)}
        self._used: set[str] = set()
        self._broken: set[str] = set()  # taken by someone outside this process
        self._cursor = 0

    def candidates(self) -> Iterator[str]:
        """Free addresses in allocation order, starting after the last one handed out."""
        n = len(self._all)
        for i in range(n):
            ip = self._all[(self._cursor + i) % n]
            if ip not in self._used and ip not in self._broken:
                yield ip

    def take(self, ip: str) -> None:
        self._used.add(ip)
        if ip in self._index:
            self._cursor = (self._index[ip] + 1) % len(self._all)

    def mark_broken(self, ip: str) -> None:
        self._broken.add(ip)

    def release(self, ip: str) -> None:
        self._used.discard(ip)

    def in_use(self, ip: str) -> bool:
        return ip in self._used

    @property
    def used(self) -> int:
        return len(self._used)

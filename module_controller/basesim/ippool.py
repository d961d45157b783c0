"""Loopback addresses for simulated pods.

Every pod gets its own address in 127.0.0.0/8 (127.0.0.2 upwards, then 127.0.1.1 …), so each base
serves its fake Arklet on the real port 1238 just as a pod would. Addresses are handed out
round-robin: a replacement pod gets a *new* address, and the old one stays silent for a while,
which is what a controller sees in a real cluster.
"""

from __future__ import annotations

import ipaddress
from typing import Iterator


def _addresses(size: int) -> list[str]:
    out: list[str] = []
    base = int(ipaddress.IPv4Address("127.0.0.0"))
    n = 2
    while len(out) < size:
        last = n & 0xFF
        if last not in (0, 255):  # keep clear of network/broadcast-looking addresses
            out.append(str(ipaddress.IPv4Address(base + n)))
        n += 1
    return out


class IPPool:
    """Round-robin allocator over ``size`` loopback addresses; pure, no sockets."""

    def __init__(self, size: int = 1000):
        self._all = _addresses(size)
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
        if ip in self._all:
            self._cursor = (self._all.index(ip) + 1) % len(self._all)

    def mark_broken(self, ip: str) -> None:
        self._broken.add(ip)

    def release(self, ip: str) -> None:
        self._used.discard(ip)

    def in_use(self, ip: str) -> bool:
        return ip in self._used

    @property
    def used(self) -> int:
        return len(self._used)

"""Ports for dev-cluster components are picked outside the kernel's ephemeral range, where no
outgoing connection can take them between the pick and the component's bind."""

from __future__ import annotations

import random
import socket

from module_controller_dev.devcluster import processes


def test_a_port_outside_the_ephemeral_range_that_can_be_bound():
    low, high = processes._ephemeral_range()
    for seed in range(20):
        port = processes.free_port(rng=random.Random(seed))
        assert not low <= port <= high, port
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_port_in_use_is_not_given():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", processes.free_port()))
        taken.listen()
        busy = taken.getsockname()[1]

        class Always(random.Random):
            """Offers the busy port first, then others."""
            offered = 0

            def choice(self, seq):
                self.offered += 1
                return busy if self.offered == 1 else super().choice(seq)

        rng = Always(1)
        assert processes.free_port(rng=rng) != busy
        assert rng.offered == 2


def test_no_room_outside_the_range_falls_back_to_the_kernels_choice(monkeypatch):
    monkeypatch.setattr(processes, "_ephemeral_range", lambda: (1024, 65535))
    port = processes.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))

"""When the drift check looks at each base (behaviour §7.5): spread over its period.

Asking every base at once every period made a burst of queryAllBiz calls that, at 2,000 bases,
held up installs for seconds (issue 17). Instead each round gives every base a slot of its own:
``n`` bases over ``period`` seconds are ``period / n`` apart, each at a random point of its slot,
so calls arrive one at a time at a steady rate, no base is checked twice in a round, and two
controllers (or two rounds) do not fall into step.
"""

from __future__ import annotations

import random


def spread(n: int, period: float, rng: random.Random) -> list[float]:
    """Offsets (seconds from the round's start) at which to check ``n`` bases: one in each of
    ``n`` equal slots of ``period``, increasing, all in ``[0, period)``."""
    if n <= 0:
        return []
    slot = period / n
    return [min((i + rng.random()) * slot, period * (1 - 1e-9)) for i in range(n)]


def share(concurrency: int, fraction: float = 1 / 16) -> int:
    """How many drift queries may be in flight at once: a small share of the Arklet client's
    bound, so installs of a running release always find room (at least 1)."""
    return max(1, int(concurrency * fraction))

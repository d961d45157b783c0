"""When the drift check looks at each base (behaviour §7.5): spread over its period.

Asking every base at once every period would make a burst of queryAllBiz calls that, at 2,000
bases, holds up installs for seconds. Instead each round gives every base a slot of its own:
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


#: ``lastTransitionTime`` is written in whole seconds: a Module that became Available in the
#: same second a listing was asked for may have done so after it.
TIME_RESOLUTION = 1.0


def judged(available_since: float | None, listed_at: float) -> bool:
    """Whether a listing asked for at ``listed_at`` (epoch seconds) can say that a Module's biz
    is missing: only if the Module was Available before the listing was asked for. Otherwise its
    install may have ended after the base answered, and "missing" would be a false alarm (a
    release's Module turns Available while a listing of its base is on the way). A Module with no
    transition time is judged."""
    return available_since is None or available_since + TIME_RESOLUTION <= listed_at


def reusable(listed_at: float | None, now: float, period: float) -> bool:
    """Whether a listing that a Module reconcile took at ``listed_at`` can stand in for the
    drift check's own query of the base now: taken within the last period. Each such listing
    is used once (the caller takes it), so every look at a base reads a listing newer than the
    previous look, and a base is still looked at once per round."""
    return listed_at is not None and now - period <= listed_at <= now

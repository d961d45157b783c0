"""The one retry wait policy of the controller: capped exponential backoff with jitter.

Used three ways: as a tenacity wait strategy by the Arklet client and by the Kubernetes I/O
(``kube/io.py``), and by the work queue (``wait(failures)``) between failed reconciles of a key.
One policy, so every retry in the process spreads and caps the same way."""

from __future__ import annotations

import random

from tenacity import RetryCallState
from tenacity.wait import wait_base


class CappedJitterBackoff(wait_base):
    """Wait before retry ``n`` (1 = the wait after the first failed attempt).

    The window doubles each time and is capped: ``upper(n) = min(maximum, initial * 2**n)``,
    ``lower(n) = max(initial, upper(n) / 2)``, and the wait is drawn uniformly from it. So the
    first wait is in ``[initial, 2*initial]``, every wait is in ``[initial, maximum]``, and once
    capped the waits still spread over ``[maximum/2, maximum]``: many controllers retrying the
    same failed base do not come back in lock-step (which a plain capped exponential would do).
    """

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if not 0 <= initial <= maximum:
            raise ValueError(f"need 0 <= initial <= maximum, got {initial!r}, {maximum!r}")
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()

    def bounds(self, retry: int) -> tuple[float, float]:
        """``(lower, upper)`` of the wait before retry number ``retry`` (>= 1)."""
        retry = max(1, retry)
        # min() before the power would overflow: 2**retry is exact for ints, floats may inf.
        upper = min(self.maximum, self.initial * 2.0 ** min(retry, 64))
        lower = min(upper, max(self.initial, upper / 2))
        return lower, upper

    def wait(self, retry: int) -> float:
        lower, upper = self.bounds(retry)
        return self._rng.uniform(lower, upper)

    def __call__(self, retry_state: RetryCallState) -> float:
        # attempt_number is the attempt that just failed, i.e. the retry about to happen.
        return self.wait(retry_state.attempt_number)

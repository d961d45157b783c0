"""Base pods (pure): module counts for the labels on the base Deployment (behaviour §1), and how
long a NotReady base still counts as a base."""

from __future__ import annotations

import datetime as dt

from ..api import constants as c


def count_labels(per_pod: list[int]) -> dict[str, str]:
    """max / min / average (2 decimals) Module count over a Deployment's live pods."""
    if not per_pod:
        per_pod = [0]
    return {
        c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE: str(max(per_pod)),
        c.LABEL_MIN_MODULE_INSTANCE_COUNT_ON_BASE: str(min(per_pod)),
        c.LABEL_AVERAGE_MODULE_INSTANCE_COUNT_ON_BASE: f"{sum(per_pod) / len(per_pod):.2f}",
    }


def not_ready_tolerance(ready: bool, not_ready_since: dt.datetime | None, hosts_instance: bool,
                        now: dt.datetime, grace: float) -> tuple[bool, float | None]:
    """Does a base pod still count as a base (peer mode: one instance per base), and when to
    look again: (counts, seconds until the grace ends or None).

    NotReady is not gone: a readiness probe that fails for a moment must not cost the module an
    uninstall and a reinstall, so a pod that hosts an instance keeps counting for ``grace``
    seconds after its Ready condition turned False (like the node controller's eviction delay).
    A pod that never hosted one (a new pod still starting) does not count before it is Ready:
    nothing would be placed on it anyway. A pod without the time it turned NotReady counts as
    NotReady since forever (the grace is over).
    """
    if ready:
        return True, None
    if not hosts_instance or not_ready_since is None:
        return False, None
    left = grace - (now - not_ready_since).total_seconds()
    return (True, left) if left > 0 else (False, None)

"""Per-base-Deployment module counts, for the labels on the base Deployment (pure; SPEC §1)."""

from __future__ import annotations

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

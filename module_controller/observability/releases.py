"""Per-ModuleDeployment series, one set per object (the ``rollout_info`` style of Argo Rollouts).

At every scrape the collector asks a provider for the ModuleDeployments the controller holds in
memory (:func:`release_samples` turns their status into plain samples), so the series follow
the objects: a deleted ModuleDeployment's series are gone at the next scrape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: ``state`` label of ``moduledeployment_replicas`` -> the status field it reads.
REPLICA_STATES: dict[str, str] = {
    "desired": "desiredReplicas",
    "total": "replicas",
    "ready": "readyReplicas",
    "available": "availableReplicas",
    "unavailable": "unavailableReplicas",
    "updated": "updatedReplicas",
    "updated_available": "updatedAvailableReplicas",
}


@dataclass(frozen=True)
class ReleaseSample:
    """What the metrics say about one ModuleDeployment."""

    namespace: str
    name: str
    progress: str
    paused: bool
    revision: int | None
    stable_revision: int | None
    current_batch: int | None
    batch_count: int | None
    replicas: dict[str, int] = field(default_factory=dict)
    #: (type, status, reason) of each condition.
    conditions: tuple[tuple[str, str, str], ...] = ()
    #: When ``progress`` last changed (Unix seconds), when known.
    progress_since: float | None = None


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def release_sample(md: dict[str, Any]) -> ReleaseSample:
    """The sample of one ModuleDeployment as read from the API (camelCase keys)."""
    meta = md.get("metadata") or {}
    spec = md.get("spec") or {}
    status = md.get("status") or {}
    release = status.get("releaseStatus") or {}
    replicas = {state: count for state, key in REPLICA_STATES.items()
                if (count := _int(status.get(key))) is not None}
    if "desired" not in replicas and _int(spec.get("replicas")) is not None:
        replicas["desired"] = spec["replicas"]
    conditions = tuple(
        (str(c.get("type", "")), str(c.get("status", "")), str(c.get("reason") or ""))
        for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type"))
    return ReleaseSample(
        namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        progress=str(release.get("progress") or "Unknown"), paused=bool(spec.get("pause")),
        revision=_int(release.get("updateRevision")),
        stable_revision=_int(release.get("stableRevision")),
        current_batch=_int(release.get("currentBatch")),
        batch_count=_int(release.get("realBatchCount")),
        replicas=replicas, conditions=conditions,
        progress_since=_timestamp(release.get("lastTransitionTime")))


def release_samples(mds: Iterable[dict[str, Any]]) -> list[ReleaseSample]:
    return [release_sample(md) for md in mds]


class ReleasesCollector(Collector):
    """The per-ModuleDeployment families, from ``provider`` at collect time."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.provider: Callable[[], Iterable[ReleaseSample]] | None = None

    def _families(self) -> dict[str, GaugeMetricFamily]:
        p = f"{self.prefix}_moduledeployment"
        key = ["namespace", "name"]
        return {
            "info": GaugeMetricFamily(
                f"{p}_info", "One per ModuleDeployment: its release progress and pause flag.",
                labels=key + ["progress", "paused"]),
            "revision": GaugeMetricFamily(
                f"{p}_revision", "The revision being released (status.releaseStatus."
                "updateRevision).", labels=key),
            "stable": GaugeMetricFamily(
                f"{p}_stable_revision", "The last revision released completely.", labels=key),
            "batch": GaugeMetricFamily(
                f"{p}_release_batch", "The group being executed, from 1.", labels=key),
            "batches": GaugeMetricFamily(
                f"{p}_release_batches", "How many groups the current release has.", labels=key),
            "replicas": GaugeMetricFamily(
                f"{p}_replicas", "Module instances by state (desired, total, ready, available, "
                "unavailable, updated, updated_available).", labels=key + ["state"]),
            "condition": GaugeMetricFamily(
                f"{p}_condition", "One per condition of a ModuleDeployment.",
                labels=key + ["type", "status", "reason"]),
            "since": GaugeMetricFamily(
                f"{p}_progress_transition_timestamp_seconds", "When the release progress last "
                "changed (Unix time).", labels=key),
        }

    def describe(self) -> list[Metric]:
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        provider = self.provider
        if provider is None:
            return
        try:
            samples = list(provider())
        except Exception:  # a broken provider must not break the whole scrape
            log.exception("metrics provider of the ModuleDeployment series failed")
            return
        f = self._families()
        for s in samples:
            key = [s.namespace, s.name]
            f["info"].add_metric(key + [s.progress, "true" if s.paused else "false"], 1)
            for family, number in (("revision", s.revision), ("stable", s.stable_revision),
                                   ("batch", s.current_batch), ("batches", s.batch_count),
                                   ("since", s.progress_since)):
                if number is not None:
                    f[family].add_metric(key, float(number))
            for state, count in s.replicas.items():
                f["replicas"].add_metric(key + [state], float(count))
            for type_, status, reason in s.conditions:
                f["condition"].add_metric(key + [type_, status, reason], 1)
        yield from f.values()

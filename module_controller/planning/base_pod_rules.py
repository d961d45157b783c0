"""Base pods (pure): when a pod is usable, which Deployments are bases and which pods their
owners want removed (behaviour §6), module counts for the labels on the base Deployment
(behaviour §1), and how long a NotReady base still counts as a base."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ..api import constants as c
from ..api.objects import Obj, parse_time
from .placement import selector_matches


def _labels(obj: Obj) -> Mapping[str, str]:
    labels: Mapping[str, str] = obj["metadata"].get("labels") or {}
    return labels


def pod_ip(pod: Obj) -> str | None:
    ip: str | None = (pod.get("status") or {}).get("podIP")
    return ip


def pod_ready(pod: Obj) -> bool:
    """Running, with an address, and its Ready condition True."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    return any(cond.get("type") == "Ready" and cond.get("status") == "True"
               for cond in status.get("conditions") or [])


def not_ready_since(pod: Obj) -> dt.datetime | None:
    """When the pod's Ready condition last changed, if it says NotReady (None: no such time)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            try:
                return parse_time(cond.get("lastTransitionTime"))
            except ValueError:
                return None
    return None


def wants_removal(pod: Obj) -> bool:
    """The pod carries delete-pod=true or delete-pod-directly=true (behaviour §6)."""
    labels = _labels(pod)
    return c.LABEL_TRUE in (labels.get(c.LABEL_DELETE_POD), labels.get(c.LABEL_DELETE_POD_DIRECTLY))


def skip_uninstall(pod: Obj | None) -> bool:
    """Modules on a pod labelled delete-pod-directly=true are dropped without asking Arklet."""
    return pod is not None and _labels(pod).get(c.LABEL_DELETE_POD_DIRECTLY) == c.LABEL_TRUE


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


def is_base_deployment(named: bool, template_labels: Mapping[str, str],
                       unnamed_selectors: Iterable[Mapping[str, Any] | None]) -> bool:
    """A Deployment is a base when a ModuleDeployment (``spec.baseDeploymentName``) or a
    ModuleReplicaSet (its deployment-name label) names it (``named``), or a ModuleReplicaSet
    made by hand without that label has a non-empty selector that matches the Deployment's pod
    template (``unnamed_selectors``). The delete-pod labels act on base pods only: the right to
    label a pod must not become the right to have the controller delete any pod."""
    return named or any(bool(selector) and selector_matches(selector, template_labels)
                        for selector in unnamed_selectors)

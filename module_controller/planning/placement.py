"""Which base pod gets the next module instance, and which instance goes first (pure; behaviour §3).

Bases are described by :class:`Base`, plain data built by the shell from pods and Modules.
Ties are always broken by pod name, so the same inputs give the same answer on every replica of
the controller and after every restart.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..api.common import SchedulingPolicy


@dataclass(frozen=True)
class Base:
    name: str
    ip: str | None
    ready: bool
    deleting: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    module_count: int = 0                      # Module objects bound to this pod
    modules: frozenset[str] = frozenset()      # module names bound to this pod
    max_modules: int | None = None             # None: unlimited
    # Module names whose instances here belong to an older revision of the same
    # ModuleDeployment and may be replaced in place (install_then_uninstall,
    # uninstall_then_install): such a pod is eligible, preferred, and the old instance does not
    # count against its capacity because it leaves when the new one is up.
    replaceable: frozenset[str] = frozenset()
    # The Deployment that owns the pod through its ReplicaSet (None: a pod no Deployment owns).
    deployment: str | None = None


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector (``matchLabels`` + ``matchExpressions``) against labels."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_max_module_count(pod_value: str | None, deployment_value: str | None
                           ) -> tuple[int | None, str | None]:
    """The capacity of a base: the pod's label, else the Deployment's, else unlimited.

    Returns (capacity, problem). A value that is not a whole number >= 0 counts as 0 (no new
    module is placed there) and is described in ``problem`` so the caller can report it once:
    a typo in a limit must not lift the limit.
    """
    for source, raw in (("pod", pod_value), ("deployment", deployment_value)):
        if raw is None:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            return 0, (f"invalid max-module-count {raw!r} on the {source} (a whole number >= 0 "
                       "is expected): treated as 0, no new module is placed on this base until "
                       "it is fixed")
        return value, None
    return None, None


def on_base_deployment(owner: str | None, named: str | None) -> bool:
    """A pod owned (through its ReplicaSet) by Deployment ``owner`` may host instances of a
    ModuleReplicaSet that names base Deployment ``named`` (None: one made by hand that names
    none, placed by its selector alone).

    Ownership, not labels: pods of two Deployments may share every label, and a bare pod can
    copy them; only the Deployment the user named makes a pod a base (docs/security.md).
    """
    return named is None or owner == named


def misplaced(owner: str | None, named: str | None) -> bool:
    """An instance on a pod owned by ``owner`` does not belong there any more: its
    ModuleReplicaSet names another base Deployment (``baseDeploymentName`` changed), or the pod
    belongs to no Deployment at all. ``owner`` is read from the pod's owner reference, so a
    Deployment the cache does not know yet still counts as an owner."""
    return named is not None and owner != named


def has_room(base: Base, module_name: str = "") -> bool:
    leaving = 1 if module_name and module_name in base.replaceable else 0
    return base.max_modules is None or base.module_count - leaving < base.max_modules


def eligible(base: Base, module_name: str, selector: Mapping[str, Any] | None,
             deployment: str | None = None) -> bool:
    return (
        on_base_deployment(base.deployment, deployment)
        and base.ready
        and bool(base.ip)
        and not base.deleting
        and has_room(base, module_name)
        and (module_name not in base.modules or module_name in base.replaceable)
        and selector_matches(selector, base.labels)
    )


def _order(policy: SchedulingPolicy, module_name: str) -> Callable[[Base], tuple[bool, int, str]]:
    """Sort key of a candidate: pods where an old instance can be replaced in place first
    (behaviour §2.4), then the fewest (scatter) or most (stacking) modules, then the name."""
    if policy is SchedulingPolicy.STACKING:
        return lambda b: (module_name not in b.replaceable, -b.module_count, b.name)
    return lambda b: (module_name not in b.replaceable, b.module_count, b.name)


def choose(bases: Iterable[Base], module_name: str, selector: Mapping[str, Any] | None,
           policy: SchedulingPolicy, deployment: str | None = None) -> Base | None:
    """The pod for one more instance of ``module_name``, or None if no pod is eligible.
    ``deployment``: only pods of that base Deployment (see :func:`on_base_deployment`)."""
    candidates = [b for b in bases if eligible(b, module_name, selector, deployment)]
    if not candidates:
        return None
    return min(candidates, key=_order(policy, module_name))


def place(bases: Iterable[Base], module_name: str, selector: Mapping[str, Any] | None,
          policy: SchedulingPolicy, count: int, deployment: str | None = None) -> list[Base]:
    """Pods for ``count`` new instances (fewer if bases run out).

    The same answer as calling :func:`choose` ``count`` times and counting each placement,
    without rescanning every base per instance (instances x bases at 10,000 modules): a pod
    that gets an instance of ``module_name`` then hosts that name and is no longer eligible
    for it, so no pod is chosen twice and the picks are the ``count`` first eligible pods in
    :func:`choose`'s order. One filter and one partial sort per scale.
    """
    if count <= 0:
        return []
    candidates = [b for b in bases if eligible(b, module_name, selector, deployment)]
    return heapq.nsmallest(count, candidates, key=_order(policy, module_name))

"""Decisions of the ModuleReplicaSet controller (pure): how many to add or remove, and which;
what a new Module looks like; what the status says.

Instances are described by :class:`Instance`; bases by :class:`placement.Base`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api import ModuleReplicaSet
from ..api import constants as c
from ..api.common import SchedulingPolicy, UpgradePolicy
from ..api.objects import owner_reference
from .conditions import get_condition, set_condition
from .module_lifecycle import supersedes

Obj = dict[str, Any]

# Labels a ModuleReplicaSet passes on to its Modules (behaviour §1).
INHERITED_LABELS = (c.LABEL_MODULE_DEPLOYMENT, c.LABEL_MODULE_NAME,
                    c.LABEL_MODULE_REPLICASET_REVISION, c.LABEL_DEPLOYMENT_NAME,
                    c.LABEL_MODULE_SCHEDULING_STRATEGY)


@dataclass(frozen=True)
class Instance:
    name: str
    pod: str | None           # base pod it is bound to
    available: bool
    deleting: bool = False
    version: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Counts:
    replicas: int             # instances that are not being deleted
    available: int
    ready: int                # installed and active (Available, even before minReadySeconds)
    updated: int              # running the template's version and url


def scale_down_order(instances: list[Instance], pod_load: dict[str, int],
                     policy: SchedulingPolicy, superseded: set[str] | frozenset[str] = frozenset(),
                     leaving: set[str] | frozenset[str] = frozenset()) -> list[Instance]:
    """Instances in the order they should be removed (behaviour §3, mirror of the policy).

    Instances whose base is leaving (pod gone, being deleted or not ready: ``leaving``) go first:
    they are lost anyway, and removing an instance from a healthy base instead would uninstall
    and reinstall the module there (a peer-mode scale-down of the base Deployment took the only
    surviving base's instance off that way). Then instances already replaced in place by a newer
    revision, then not-Available ones. Then scatter removes from the most loaded pod (undoing
    the spread last), stacking from the least loaded one (keeping the packed pods full). Ties:
    pod name, then instance name, so the choice is the same on every run.
    """
    def load(i: Instance) -> int:
        return pod_load.get(i.pod or "", 0)

    def first(i: Instance) -> tuple[bool, bool, bool]:
        return i.name not in leaving, i.name not in superseded, i.available

    if policy is SchedulingPolicy.STACKING:
        key = lambda i: (first(i), load(i), i.pod or "", i.name)  # noqa: E731
    else:
        key = lambda i: (first(i), -load(i), i.pod or "", i.name)  # noqa: E731
    return sorted((i for i in instances if not i.deleting), key=key)


def counts(instances: list[Instance], version: str, url: str, ready_names: set[str]) -> Counts:
    live = [i for i in instances if not i.deleting]
    return Counts(
        replicas=len(live),
        available=sum(1 for i in live if i.available),
        ready=sum(1 for i in live if i.name in ready_names or i.available),
        updated=sum(1 for i in live if i.version == version and i.url == url),
    )


def follows_template(module_spec: dict[str, Any], template_module: dict[str, Any],
                     upgrade_policy: str) -> bool:
    """A Module's spec (API JSON) is its ModuleReplicaSet's template: same module (name,
    version, url, ...) and upgrade policy. One that differs was edited by hand, or is about to
    be brought to a new template by its owner; either way nothing is installed from it until
    the owner has written the template into it (docs/security.md)."""
    return (module_spec.get("module") == template_module
            and module_spec.get("upgradePolicy") == upgrade_policy)


def delta(desired: int, instances: list[Instance]) -> int:
    """Positive: instances to add; negative: instances to remove."""
    return desired - sum(1 for i in instances if not i.deleting)


def replaceable_for(policy: UpgradePolicy, deployment: str | None,
                    replicaset: str) -> tuple[str, str] | None:
    """Whose instances a new one may replace in place on their pod (handed to placement as
    (ModuleDeployment, this ModuleReplicaSet)): the other revisions of the same
    ModuleDeployment, under an in-place policy; None: it takes pods without the module."""
    in_place = policy in (UpgradePolicy.INSTALL_THEN_UNINSTALL, UpgradePolicy.UNINSTALL_THEN_INSTALL)
    return (deployment, replicaset) if in_place and deployment else None


def replaces_bases(policy: UpgradePolicy, pod_deletion: bool, update_revision: int | None,
                   revision: str | None) -> bool:
    """An old revision (``revision``, its label) of a ModuleDeployment whose release targets
    ``update_revision`` (None: no release, or no ModuleDeployment) scales down under
    scaleup_then_scaledown: the base of a removed instance is recreated clean. Unless the
    operator disabled pod deletion: then its instances are just uninstalled, and the
    ModuleDeployment says so (condition Restricted)."""
    return (policy is UpgradePolicy.SCALEUP_THEN_SCALEDOWN and pod_deletion
            and update_revision is not None and revision != str(update_revision))


@dataclass(frozen=True)
class PodModule:
    """A Module as its pod's neighbours see it."""

    name: str
    module: str                       # spec.module.name
    rank: tuple[bool, str, str]       # planning.module_lifecycle.supersedes
    available: bool


def replaced_in_place(own: Iterable[tuple[PodModule, str | None]],
                      on_pod: Mapping[str, list[PodModule]]) -> set[str]:
    """Own Modules (each with its pod) that a Module of the same name ranking above it has
    joined on their pod, Available: the in-place replacement is done there, so these go first
    on scale down."""
    out = set()
    for mine, pod in own:
        for other in on_pod.get(pod or "", []):
            if other.module == mine.module and other.name != mine.name and other.available \
                    and supersedes(other.rank, mine.rank):
                out.add(mine.name)
    return out


def module_body(owner: Obj, model: ModuleReplicaSet, pod: str, ip: str | None,
                pod_uid: str) -> Obj:
    """A new Module of ``owner`` already bound to base pod ``pod``: labels, the finalizer and
    the owner references (the ModuleReplicaSet, controller; the pod, for garbage collection)
    in the create itself, so the Module controller does not patch them again."""
    meta = owner["metadata"]
    info = model.spec.template.spec.module
    template_meta = model.spec.template.metadata
    labels = dict((template_meta.labels or {}) if template_meta else {})
    labels.update({k: v for k, v in (meta.get("labels") or {}).items() if k in INHERITED_LABELS})
    labels.update({
        c.LABEL_MODULE_REPLICASET: meta["name"],
        c.LABEL_MODULE_NAME: info.name,
        c.LABEL_MODULE_VERSION: info.version,
        c.LABEL_BASE_INSTANCE_NAME: pod,
        c.LABEL_BASE_INSTANCE_IP: ip or "",
    })
    # A listed object may lack apiVersion and kind: they are this API's, and v1 for the pod.
    owners = [owner_reference({**owner, "apiVersion": c.API_VERSION,
                               "kind": c.MODULE_REPLICA_SET.kind}),
              owner_reference({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": pod, "uid": pod_uid}},
                              controller=False, block_owner_deletion=False)]
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.MODULE.kind,
        "metadata": {
            "generateName": c.module_generate_name(meta["name"], info.name),
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict((template_meta.annotations or {}) if template_meta else {}),
            "finalizers": [c.FINALIZER_ALLOCATE_POD],
            "ownerReferences": owners,
        },
        "spec": {
            "selector": model.spec.selector.model_dump(by_alias=True, exclude_none=True),
            "module": info.model_dump(by_alias=True, exclude_none=True),
            "upgradePolicy": model.spec.operation_strategy.upgrade_policy,
        },
    }


@dataclass
class StatusUpdate:
    status: dict[str, Any] | None                  # the status to write; None: unchanged
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def replicaset_status(current: Obj, counts: Counts, bound: int, wanted: int, placed_all: bool,
                      base_missing: str | None, generation: int | None) -> StatusUpdate:
    """The status of a ModuleReplicaSet (``current`` is the status now): the counts, and
    ReplicaFailure while not all ``wanted`` replicas could be placed, for want of eligible base
    pods or because the base Deployment named ``base_missing`` does not exist (reported, never
    guessed: no pod is a base of a Deployment that does not exist). ``bound``: instances on a
    pod, not being deleted."""
    conditions = current.get("conditions")
    failure = get_condition(conditions, c.CONDITION_REPLICA_FAILURE)
    out = StatusUpdate(status=None)
    if base_missing:
        reason = c.REASON_BASE_NOT_FOUND
        message = (f"{counts.replicas} of {wanted} Modules placed: base Deployment "
                   f"{base_missing} (label {c.LABEL_DEPLOYMENT_NAME}) not found; the rest are "
                   "placed when it exists")
    else:
        reason = c.REASON_INSUFFICIENT_BASES
        message = (f"{counts.replicas} of {wanted} Modules placed: not enough eligible base "
                   "pods; the rest are placed as soon as bases appear")
    if not placed_all:
        conditions = set_condition(conditions, c.CONDITION_REPLICA_FAILURE, True, reason, message)
        if not failure or failure.get("status") != "True" or failure.get("reason") != reason:
            out.events.append(("Warning", reason, message))
    elif failure and failure.get("status") == "True":
        conditions = set_condition(conditions, c.CONDITION_REPLICA_FAILURE, False, "AllPlaced",
                                   "every Module is placed")
        out.events.append(("Normal", "AllPlaced", "every Module is placed"))
    status = {
        "observedGeneration": generation,
        "replicas": counts.replicas,
        "currentReplicas": bound,
        "readyReplicas": counts.ready,
        "availableReplicas": counts.available,
        "updatedReplicas": counts.updated,
        "conditions": conditions,
    }
    if not all(current.get(k) == v for k, v in status.items()):
        out.status = {k: v for k, v in status.items() if v is not None}
    return out

"""What a change of each watched kind wakes, per reconciler (the ``keys`` of :class:`.routes.Watch`).

Each function answers, for one reconciler and one watched kind: given this change, which of
the reconciler's objects may decide differently now? Fewer keys, fewer reconciles; a key left
out is a reconcile that does not happen, so each rule says why it is enough. The table that
pairs them with reconcilers is :mod:`.wiring`.

A base pod is deleted (the whole path; the pod's watchers are the ``pod_*`` functions below):

1. The pod's DELETED event (or a resync that finds it missing, or a Module reconciler that
   confirmed it gone with a live read: :meth:`.writer.Writer.gone`) removes it from the cache and wakes
   the Modules bound to it, the ModuleReplicaSets and ModuleDeployments that own those Modules
   or place on the pod's Deployment, and that Deployment's count labels.
2. Each bound Module sees its base gone (the "base gone" rows of ``planning/module_table.py``;
   executed by ``module_removal.py``): it reads the pod live (``read_pod``; deleting a Module is
   not undoable), posts ``BaseGone`` and deletes itself (``base_gone``).
3. Its removal (the "deleting" rows; ``module_removal.py`` ``begin``, then the uninstall through
   ``module_calls.py`` ``send``, then ``drop_finalizer``) asks Arklet only if the pod still
   answers, then drops the finalizer, and the Module is gone.
4. Meanwhile the garbage collector deletes the Modules this process has not got to (each has a
   non-controller ownerReference to its pod, written when it is bound: ``modulereplicaset.py``
   ``_create_module``, ``module_writes.py`` ``bind``); their finalizer still runs step 3.
5. Each Module's deletion wakes its ModuleReplicaSet, which places a replacement on another base
   of the Deployment (``modulereplicaset.py``, ``_scale``); in peer mode the ModuleDeployment
   counts the Deployment's pods again (``planning/base_pod_rules.not_ready_tolerance``).
"""

from __future__ import annotations

from typing import Iterable

from ..api import constants as c
from ..planning import placement
from ..planning.templates import template_refs
from ..runtime.store import Key, Obj, key_of
from ..planning.conditions import get_condition
from ..planning.base_pod_rules import pod_ip, pod_ready, wants_removal
from ..planning.ownership import controller_ref, owned_by
from .caches import APPS, BY_HAND, DELETING, OWNER_REPLICASET, Caches, deleting, labels_of
from .routes import Change

# Fields whose change means an object needs another look by its own reconciler; status-only
# changes are our own writes (or a report of the object's state that its reconciler wrote).
META_TRIGGERS = ("generation", "labels", "annotations", "finalizers", "deletionTimestamp",
                 "ownerReferences")


def meta_changed(old: Obj, new: Obj, fields: tuple[str, ...] = META_TRIGGERS) -> bool:
    return any(old["metadata"].get(f) != new["metadata"].get(f) for f in fields)


def itself_when_meta_changed(caches: Caches, change: Change) -> Iterable[Key]:
    """The object's own reconciler: when it is new, or its spec or metadata changed."""
    if not change.gone and (change.old is None or meta_changed(change.old, change.new)):
        yield change.key


def _labelled(obj: Obj, label: str) -> Iterable[Key]:
    name = labels_of(obj).get(label)
    if name:
        yield key_of(obj)[0], name


def _unbound_modules(caches: Caches, namespace: str) -> Iterable[Obj]:
    return caches.modules.list(namespace,
                            lambda m: not labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME))


# ----------------------------------------------------------------- a Module changed


def module_owner_replicaset(caches: Caches, change: Change) -> Iterable[Key]:
    """Any change, status included, may move the owner's counts."""
    return _labelled(change.new, c.LABEL_MODULE_REPLICASET)


def module_owner_deployment(caches: Caches, change: Change) -> Iterable[Key]:
    """The release reads its instances' phases."""
    return _labelled(change.new, c.LABEL_MODULE_DEPLOYMENT)


def _bound_pod(caches: Caches, change: Change) -> Obj | None:
    """The pod of a Module that was bound to it, left it or changed there."""
    if change.old is not None and not meta_changed(change.old, change.new):
        return None
    name = labels_of(change.new).get(c.LABEL_BASE_INSTANCE_NAME)
    return caches.pods.get(change.key[0], name) if name else None


def module_base_pod(caches: Caches, change: Change) -> Iterable[Key]:
    """A pod labelled for removal waits for its Modules to go."""
    pod = _bound_pod(caches, change)
    if pod is not None and wants_removal(pod):
        yield key_of(pod)


def module_base_deployment(caches: Caches, change: Change) -> Iterable[Key]:
    """The count labels of the pod's Deployment follow its Modules."""
    pod = _bound_pod(caches, change)
    deployment = caches.deployment_of(pod) if pod is not None else None
    if deployment is not None:
        yield key_of(deployment)


def _freed_pod(caches: Caches, change: Change) -> Obj | None:
    """The pod a Module stopped taking room on: it is gone, its deletion began (a live copy
    before, a deleting one now), or it was bound to another pod. Placement counts only live
    Modules (``PlacementBases.base``), so each of these frees a slot there."""
    old = change.old
    if change.gone:
        left = change.new
    elif old is not None and not deleting(old) and (
            deleting(change.new) or labels_of(old).get(c.LABEL_BASE_INSTANCE_NAME)
            != labels_of(change.new).get(c.LABEL_BASE_INSTANCE_NAME)):
        left = old
    else:
        return None
    name = labels_of(left).get(c.LABEL_BASE_INSTANCE_NAME)
    return caches.pods.get(change.key[0], name) if name else None


def _waits_for_room(caches: Caches, mrs: Obj) -> bool:
    """A ModuleReplicaSet with fewer live Modules than ``replicas``, or that reported it could
    not place them all (ReplicaFailure): room on a base may let it place one."""
    states = caches.revision_states(mrs)
    live = sum(states.values()) - states.get(DELETING, 0)
    wanted = (mrs.get("spec") or {}).get("replicas")
    failure = get_condition((mrs.get("status") or {}).get("conditions"), "ReplicaFailure")
    return (isinstance(wanted, int) and live < wanted) or \
        (failure is not None and failure.get("status") == "True")


def module_freed_room(caches: Caches, change: Change) -> Iterable[Key]:
    """A Module left a pod (deleted, or bound elsewhere): every ModuleReplicaSet that may place
    on that pod's Deployment and waits for room looks again, not only the Module's own owner.
    Without this, a revision short of bases stayed unplaced until something else woke it (the
    pod's instance-count label is our own write and wakes nobody: ``pod_signature``)."""
    pod = _freed_pod(caches, change)
    if pod is None:
        return
    namespace = change.key[0]
    owner = caches.deployment_name_of(pod)
    named = caches.replicasets.by_label(namespace, c.LABEL_DEPLOYMENT_NAME, owner) if owner else []
    for mrs in [*named, *caches.replicasets.by_index(BY_HAND, namespace, "")]:
        if _may_place_on(mrs, owner, [pod]) and not deleting(mrs) and _waits_for_room(caches, mrs):
            yield key_of(mrs)


def module_pod_siblings(caches: Caches, change: Change) -> Iterable[Key]:
    """The other Modules of the same module on the same pod: one installed there (another
    revision, in place) deactivates their version, and one taken off may leave theirs to switch
    back; without this wake they would read Available until a drift check looked."""
    for obj in _copies(change):
        pod = labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME)
        name = ((obj.get("spec") or {}).get("module") or {}).get("name")
        if not pod or not name:
            continue
        for other in caches.modules_on_pod(change.key[0], pod, include_deleting=True):
            if key_of(other) != change.key and \
                    ((other.get("spec") or {}).get("module") or {}).get("name") == name:
                yield key_of(other)


def preempt_deleted_module(caches: Caches, change: Change) -> None:
    """Before anything else: an Arklet call in flight for a Module being deleted is abandoned
    now (preempt.py), not when its reconcile next looks."""
    if deleting(change.new):
        caches.deletions.seen(change.key)


# ----------------------------------------------------------------- a ModuleReplicaSet changed


def replicaset_owner_deployment(caches: Caches, change: Change) -> Iterable[Key]:
    return _labelled(change.new, c.LABEL_MODULE_DEPLOYMENT)


# ----------------------------------------------------------------- a ModuleDeployment changed


def module_deployment_itself(caches: Caches, change: Change) -> Iterable[Key]:
    yield from itself_when_meta_changed(caches, change)
    if change.old is not None and change.old.get("spec") != change.new.get("spec"):
        # Another ModuleDeployment may be waiting on this one for its module name.
        yield from (key_of(md) for md in caches.module_deployments.list(change.key[0]))


def module_deployment_templates(caches: Caches, change: Change) -> Iterable[Key]:
    """``status.usedBy`` of the templates it named before and names now."""
    if change.gone:
        names = template_refs(change.new)
    elif change.old is None or template_refs(change.old) != template_refs(change.new):
        names = template_refs(change.old, change.new)
    else:
        return ()
    return ((change.key[0], name) for name in names)


# ----------------------------------------------------------------- a ModuleTemplate changed


def template_itself(caches: Caches, change: Change) -> Iterable[Key]:
    if not change.gone and (change.old is None
                            or meta_changed(change.old, change.new, ("generation",))):
        yield change.key


def template_users(caches: Caches, change: Change) -> Iterable[Key]:
    namespace, name = change.key
    return (key_of(md) for md in caches.module_deployments.list(namespace)
            if ((md.get("spec") or {}).get("templateRef") or {}).get("name") == name)


# ----------------------------------------------------------------- a Deployment changed


def _based_on(caches: Caches, namespace: str, deployment: str) -> Iterable[Key]:
    return (key_of(md) for md in caches.module_deployments.list(namespace)
            if (md.get("spec") or {}).get("baseDeploymentName") == deployment)


def deployment_users(caches: Caches, change: Change) -> Iterable[Key]:
    """The ModuleDeployments that name it as their base (BaseNotFound resumes on its creation)."""
    return _based_on(caches, *change.key)


def deployment_itself(caches: Caches, change: Change) -> Iterable[Key]:
    """A new Deployment may be a base whose count labels are due."""
    if not change.gone and change.old is None:
        yield change.key


def _capacity_changed(change: Change) -> bool:
    return not change.gone and change.old is not None and \
        labels_of(change.old).get(c.LABEL_MAX_MODULE_COUNT) != \
        labels_of(change.new).get(c.LABEL_MAX_MODULE_COUNT)


def _may_place_on(obj: Obj, deployment: str | None, pods: list[Obj]) -> bool:
    """A ModuleReplicaSet or Module may place instances on these pods of ``deployment``: it names
    that Deployment (its deployment-name label; one naming another never places here), or names
    none and its selector matches one of them (``planning.placement.eligible``)."""
    named = labels_of(obj).get(c.LABEL_DEPLOYMENT_NAME)
    if named is not None:
        return named == deployment
    selector = (obj.get("spec") or {}).get("selector")
    return any(placement.selector_matches(selector, labels_of(p)) for p in pods)


def _capacity_waiters(caches: Caches, change: Change, candidates: Iterable[Obj]) -> Iterable[Key]:
    """The room on its pods changed: the candidates that may place on those pods look again.
    No pod, no room to change: a pod that comes later wakes them itself (``pod_*`` below)."""
    if not _capacity_changed(change):
        return
    namespace, name = change.key
    pods = caches.pods_of(namespace, name)
    if pods:
        yield from (key_of(obj) for obj in candidates if _may_place_on(obj, name, pods))


def capacity_unbound_modules(caches: Caches, change: Change) -> Iterable[Key]:
    """The unbound Modules that wait for room on its pods (bound ones keep their place)."""
    return _capacity_waiters(caches, change, _unbound_modules(caches, change.key[0]))


def capacity_replicasets(caches: Caches, change: Change) -> Iterable[Key]:
    """The revisions that place on its pods."""
    return _capacity_waiters(caches, change, caches.replicasets.list(change.key[0]))


# ----------------------------------------------------------------- a pod changed


def pod_signature(pod: Obj) -> tuple[bool, str | None, bool, tuple[tuple[str, str], ...]]:
    """What of a pod matters to placement and to its Modules. The labels we write ourselves
    (Service label, instance count) are left out: otherwise every Module that becomes Available
    would wake the reconcilers of its pod's neighbours."""
    labels = tuple(sorted((k, v) for k, v in labels_of(pod).items()
                          if not k.startswith(c.MODULE_LABEL_PREFIX)
                          and k != c.LABEL_MODULE_INSTANCE_COUNT))
    return pod_ready(pod), pod_ip(pod), deleting(pod), labels


def pod_significant(old: Obj | None, new: Obj) -> bool:
    return old is None or pod_signature(old) != pod_signature(new)


def _copies(change: Change) -> list[Obj]:
    """Both copies of a changed object: a relabel can make a pod match a selector, or stop
    matching; a Module can leave a pod."""
    return [p for p in (change.old, change.new) if p is not None]


def _modules_on(caches: Caches, change: Change) -> list[Obj]:
    return caches.modules_on_pod(*change.key, include_deleting=True)


def pod_modules(caches: Caches, change: Change) -> Iterable[Key]:
    """The Modules bound to it (their base came, went, or changed readiness), and, when it
    became usable, the unbound Modules whose selector it matches (they may be placed there)."""
    yield from (key_of(m) for m in _modules_on(caches, change))
    pod = change.new
    if not change.gone and pod_ready(pod) and not deleting(pod):
        for module in _unbound_modules(caches, change.key[0]):
            selector = (module.get("spec") or {}).get("selector")
            if placement.selector_matches(selector, labels_of(pod)):
                yield key_of(module)


def pod_replicasets(caches: Caches, change: Change) -> Iterable[Key]:
    """The revisions with an instance on it (counts, ``_leaving``, base retirement) and those
    that may place on it: the ones naming its Deployment, or, made by hand without that name,
    whose selector matches it (``planning.placement.eligible``)."""
    namespace = change.key[0]
    for module in _modules_on(caches, change):
        yield from _labelled(module, c.LABEL_MODULE_REPLICASET)
    owner = caches.deployment_name_of(change.new)
    copies = _copies(change)
    for mrs in caches.replicasets.list(namespace):
        if _may_place_on(mrs, owner, copies):
            yield key_of(mrs)


def pod_module_deployments(caches: Caches, change: Change) -> Iterable[Key]:
    """The ModuleDeployments with an instance on it, and those whose base Deployment owns it
    (peer mode counts that Deployment's pods)."""
    for module in _modules_on(caches, change):
        yield from _labelled(module, c.LABEL_MODULE_DEPLOYMENT)
    owner = caches.deployment_name_of(change.new)
    if owner is not None:
        yield from _based_on(caches, change.key[0], owner)


def pod_retirement(caches: Caches, change: Change) -> Iterable[Key]:
    """A delete-pod label: its modules are taken off, then it is deleted (bases.py)."""
    if not change.gone and wants_removal(change.new):
        yield change.key


def pod_deployment(caches: Caches, change: Change) -> Iterable[Key]:
    """The count labels of its Deployment."""
    deployment = caches.deployment_of(change.new)
    if deployment is not None:
        yield key_of(deployment)


# ----------------------------------------------------------------- an apps/v1 ReplicaSet changed
#
# A pod is a base only through its ReplicaSet's uid (Caches.deployment_of), and the pod's watch
# event may come before its new ReplicaSet's: the ReplicaSet's arrival (or a change of its
# owner) wakes what its Deployment's pods would wake.


def pod_replicaset_significant(old: Obj | None, new: Obj) -> bool:
    """Only its identity and ownership matter (its status counts change all the time)."""
    return old is None or old["metadata"].get("ownerReferences") != \
        new["metadata"].get("ownerReferences")


def _replicaset_deployment(caches: Caches, change: Change) -> Obj | None:
    ref = controller_ref(change.new, APPS, "Deployment")
    deployment = caches.deployments.get(change.key[0], ref["name"]) if ref else None
    return deployment if owned_by(change.new, APPS, "Deployment", deployment) else None


def _replicaset_pods(caches: Caches, change: Change) -> list[Obj]:
    return caches.pods.by_index(OWNER_REPLICASET, change.key[0], change.key[1])


def pod_replicaset_module_deployments(caches: Caches, change: Change) -> Iterable[Key]:
    deployment = _replicaset_deployment(caches, change)
    if deployment is not None:
        yield from _based_on(caches, *key_of(deployment))


def pod_replicaset_replicasets(caches: Caches, change: Change) -> Iterable[Key]:
    deployment = _replicaset_deployment(caches, change)
    pods = _replicaset_pods(caches, change)
    if deployment is not None and pods:
        name = deployment["metadata"]["name"]
        yield from (key_of(mrs) for mrs in caches.replicasets.list(change.key[0])
                    if _may_place_on(mrs, name, pods))


def pod_replicaset_retirements(caches: Caches, change: Change) -> Iterable[Key]:
    return (key_of(pod) for pod in _replicaset_pods(caches, change) if wants_removal(pod))


def pod_replicaset_deployment(caches: Caches, change: Change) -> Iterable[Key]:
    deployment = _replicaset_deployment(caches, change)
    if deployment is not None:
        yield key_of(deployment)

"""Taking over objects another controller left, as Kubernetes' own controllers adopt pods (pure;
behaviour §9.5).

Upstream's Go v1 controller (same group, kinds and finalizer names) leaves objects that differ
from ours in three ways this module decides about; the reconcilers write what it returns:

* **ownership**: a Module it made has no owner reference to its ModuleReplicaSet (only the
  ``module-replicaset`` label), and its pod reference blocks the pod's deletion. A
  ModuleReplicaSet adopts the Modules labelled with its name that have no controlling owner
  (:func:`module_adoption`), before it counts them, so it never places a second instance for a
  Module that runs. (The ModuleDeployment's owner reference to its base Deployment goes with
  :func:`planning.moduledeployment_rules.metadata_patch`.)
* **the release**: its ``status.releaseStatus`` has no ``updateRevision`` (a string in its
  schema), and its ``currentBatch`` counts the group to start next, so a release it paused after
  group 1 of 2 reads ``currentBatch: 2``. :func:`adopted_release` reads that as the state of our
  release machine: the same revision, the same group, Completed or Paused as it was. Nothing is
  started, nothing installed: the revisions and their counts stay as they are.
* **conditions**: ``last_transition_time`` in snake case (pruned by the API server once this
  project's CRDs serve, so the time is usually gone), no reason; :func:`adopted_conditions`
  rewrites them into metav1.Condition's shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..api import constants as c
from ..api.moduledeployment import ReleaseProgress as P
from ..api.objects import parse_time
from .deployment_status import release_status
from .release import ReleaseState

Obj = dict[str, Any]

#: Reason of the conditions and the Event an adoption writes.
REASON_ADOPTED = "AdoptedFromUpstream"


def needs_release_adoption(status: Obj) -> bool:
    """The recorded release is upstream's: a ``releaseStatus`` without an integer
    ``updateRevision`` (ours records one with every release) and with upstream's kind of
    ``batchProgress``, a phase name such as Completed or Executing (ours is always "a/b").

    The first alone would also take our own status before any release (a default
    ``releaseStatus`` with no revision yet) for upstream's."""
    rs = status.get("releaseStatus")
    if not isinstance(rs, dict) or not rs:
        return False
    revision = rs.get("updateRevision")
    if isinstance(revision, int) and not isinstance(revision, bool):
        return False
    return rs.get("batchProgress") in UPSTREAM_BATCH_PROGRESS


#: Values of upstream's ``batchProgress`` (its release phases); ours is "<group>/<groups>".
UPSTREAM_BATCH_PROGRESS = frozenset(p.value for p in P)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def adopted_release(rs: Obj, revisions: list[int], replicas: int, pause: bool) -> ReleaseState:
    """Our release state for upstream's ``releaseStatus`` ``rs``, given the revision numbers of
    the ModuleDeployment's ModuleReplicaSets and its spec's ``replicas`` and ``pause``.

    Upstream's newest revision is the one it released (it never goes back to an older one). Its
    ``currentBatch`` is one past the group last applied: Completed is the last group, Paused (or
    a paused spec) the group before the one to start, Executing the group being applied.
    """
    update = max(revisions) if revisions else None
    real = max(1, _int(rs.get("realBatchCount"), 1))
    upstream_next = _int(rs.get("currentBatch"), 1)
    progress = str(rs.get("progress") or "")
    if progress == P.COMPLETED:
        state, batch = P.COMPLETED, real
    elif progress == P.PAUSED or pause:
        state, batch = P.PAUSED, min(real, max(1, upstream_next - 1))
    else:
        state, batch = P.EXECUTING, min(real, max(1, upstream_next - 1))
    older = [r for r in revisions if update is not None and r < update]
    return ReleaseState(
        update_revision=update, current_batch=batch, real_batch_count=real,
        original_delta=_int(rs.get("originalDeltaReplicas"), 0), progress=state,
        desired=replicas,
        last_transition=_time(rs.get("lastTransitionTime")),
        stable_revision=update if state is P.COMPLETED else (max(older) if older else None))


def _time(value: Any) -> dt.datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def adopted_conditions(conditions: Any, now: str) -> list[Obj]:
    """Upstream's conditions in metav1.Condition's shape: one per type (upstream appends a new
    one for every group; the last one of a type is the current one), ``lastTransitionTime`` in
    camel case, a reason."""
    out: dict[str, Obj] = {}
    for cond in conditions if isinstance(conditions, list) else []:
        if not isinstance(cond, dict) or not cond.get("type"):
            continue
        since = cond.get("lastTransitionTime") or cond.get("last_transition_time")
        status = cond.get("status") if cond.get("status") in ("True", "False") else "Unknown"
        out[str(cond["type"])] = {
            "type": str(cond["type"]), "status": status,
            "reason": cond.get("reason") or REASON_ADOPTED,
            "message": str(cond.get("message") or ""),
            "lastTransitionTime": since if _time(since) else now}
    return list(out.values())


def adopted_status(status: Obj, state: ReleaseState, generation: int | None, now: str) -> Obj:
    """The status patch that makes upstream's status ours (counts follow in the same reconcile,
    from the release planner)."""
    return {"observedGeneration": generation, "desiredReplicas": state.desired,
            "conditions": adopted_conditions(status.get("conditions"), now),
            "releaseStatus": {**{k: None for k in status.get("releaseStatus") or {}},
                              **release_status(state)}}


def describe(state: ReleaseState) -> str:
    """The adopted release, for the Event."""
    return (f"release of revision {state.update_revision} taken over from upstream's "
            f"controller: {state.progress} at group {state.current_batch}/"
            f"{state.real_batch_count}; no module was installed or removed")


# ---------------------------------------------------------------- Modules


def _controller_ref(meta: Obj) -> Obj | None:
    return next((r for r in meta.get("ownerReferences") or []
                 if isinstance(r, dict) and r.get("controller")), None)


def adopts(replicaset: Obj) -> bool:
    """The ModuleReplicaSet may take in Modules nobody controls: not on its way out (the running
    Modules would go with it), and only before this controller first wrote its status
    (``observedGeneration``): from then on a labelled Module nobody controls was made by hand,
    or by someone who may create Modules posing as an instance, and is never taken in."""
    return not replicaset["metadata"].get("deletionTimestamp") and \
        "observedGeneration" not in (replicaset.get("status") or {})


def module_adoption(module: Obj, replicaset: Obj) -> Obj | None:
    """The metadata patch by which ``replicaset`` adopts ``module`` (None: nothing to do).

    Only a Module labelled with the ModuleReplicaSet's name and controlled by nobody is adopted
    (a Module another object controls is never taken), only by a ModuleReplicaSet whose status
    this controller has not written yet (upstream's: no ``observedGeneration``), and never by a
    ModuleReplicaSet being deleted. Its pod reference is kept, as the
    garbage collector's way to take Modules of a deleted pod, but no longer blocks the pod's
    deletion (as the references this controller writes).
    """
    meta = module.get("metadata") or {}
    rs_meta = replicaset["metadata"]
    if (meta.get("labels") or {}).get(c.LABEL_MODULE_REPLICASET) != rs_meta["name"]:
        return None
    if meta.get("deletionTimestamp") or _controller_ref(meta) is not None:
        return None
    if not adopts(replicaset):
        return None
    refs = []
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == "Pod" and ref.get("blockOwnerDeletion"):
            ref = {**ref, "blockOwnerDeletion": False}
        refs.append(ref)
    refs.append({"apiVersion": c.API_VERSION, "kind": c.MODULE_REPLICA_SET.kind,
                 "name": rs_meta["name"], "uid": rs_meta["uid"], "controller": True,
                 "blockOwnerDeletion": True})
    return {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                         "ownerReferences": refs}}


def status_unread(module: Obj) -> bool:
    """The Module still carries the status another controller wrote (a phase, no
    ``observedGeneration``): this controller has not read its base yet."""
    status = module.get("status")
    meta = module.get("metadata") or {}
    return isinstance(status, dict) and bool(status.get("status")) \
        and "observedGeneration" not in status and not meta.get("deletionTimestamp")


# ---------------------------------------------------------------- the wait for unread Modules


@dataclass(frozen=True)
class Hold:
    """Whether a ModuleDeployment waits for its adopted Modules to be read before it judges its
    release: ``since`` when the wait began (monotonic; None: no wait to remember), ``left`` the
    seconds still to wait (None: go on)."""
    since: float | None
    left: float | None


def hold_for_unread(unread: int, since: float | None, now: float, grace: float) -> Hold:
    """The wait while ``unread`` of its Modules still carry upstream's status: they would count
    as not Available and a Completed release would start again for nothing. It lasts at most
    ``grace`` from ``since`` (a Module whose reconcile waits, e.g. for its owner to restore its
    spec, writes no status and must not hold the release for good).

    ======  =============  =====================================
    unread  since          decision
    ======  =============  =====================================
    0       any            no wait, forget ``since``
    > 0     None           wait ``grace``, from ``now``
    > 0     set            wait what is left of ``grace``; then go on
    ======  =============  =====================================
    """
    if unread <= 0:
        return Hold(None, None)
    began = now if since is None else since
    left = grace - (now - began)
    return Hold(began, left if left > 0 else None)

"""The objects as upstream's Go v1 controller needs them (pure): the way back.

Each function takes an object as this controller keeps it and returns the JSON merge patches
(metadata/spec, and status) that make it one upstream's controller reads and goes on with, or
raises :class:`NotConvertible` saying why it cannot. What upstream's controller relies on (read
from its code and CRDs):

* a ModuleDeployment has labels (it copies them into a new ModuleReplicaSet's, a nil map there
  panics), is owned (as controller) by its base Deployment, and its ``releaseStatus`` has its
  own shape: ``currentBatch`` is the group to start next, ``batchProgress`` ``Completed`` once
  a group is done, no integer ``updateRevision`` (a string in its
  schema; its Go types fail to decode an integer), a Paused release resumes when
  ``spec.pause`` is false;
* its schema has ``maxUnavailable`` as an int32 and ``schedulingPolicy`` lower case only, no
  ``templateRef``;
* conditions carry ``last_transition_time`` (snake case), a Module's status is
  ``{status, last_transition_time}``;
* a Module is found by its labels and owned only by its pod (``blockOwnerDeletion: true``).
"""

from __future__ import annotations

from typing import Any

from ..api import constants as c
from ..planning.adoption import needs_release_adoption

Obj = dict[str, Any]

#: Label given to a ModuleDeployment without any (upstream's controller needs a label map).
DEFAULT_LABEL = ("app.kubernetes.io/name", "moduledeployment")

#: The progress of a release (ours) that upstream's controller can go on with. Not Executing:
#: whether upstream's controller continues a group another controller began (or waits out a
#: grayscale interval it did not start) is not established, so such a release is refused until
#: it completes or is paused (spec.pause: true).
_GOES_ON = {"Completed", "Paused"}


class NotConvertible(ValueError):
    """An object upstream's controller could not continue (the message says which and why)."""


def _name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('namespace')}/{meta.get('name')}"


def _snake_conditions(conditions: Any) -> list[Obj] | None:
    if not isinstance(conditions, list):
        return None
    out = []
    for cond in conditions:
        if not isinstance(cond, dict):
            continue
        entry = {k: cond[k] for k in ("type", "status", "reason", "message") if k in cond}
        since = cond.get("lastTransitionTime") or cond.get("last_transition_time")
        if since:
            entry["last_transition_time"] = since
        out.append(entry)
    return out


def _strategy_patch(ops: Any) -> Obj:
    """operationStrategy fields upstream's schema and Go types cannot hold."""
    patch: Obj = {}
    if isinstance(ops, dict) and isinstance(ops.get("maxUnavailable"), str):
        patch["maxUnavailable"] = None  # a percentage: not an int32; upstream ignores it
    return patch


def _spec_patch(spec: Obj) -> Obj:
    patch: Obj = {}
    ops = _strategy_patch(spec.get("operationStrategy"))
    if ops:
        patch["operationStrategy"] = ops
    policy = (spec.get("schedulingStrategy") or {}).get("schedulingPolicy")
    if isinstance(policy, str) and policy != policy.lower():
        patch["schedulingStrategy"] = {"schedulingPolicy": policy.lower()}
    return patch


def deployment(md: Obj, base: Obj | None) -> tuple[Obj | None, Obj]:
    """(metadata/spec patch or None, status patch) of a ModuleDeployment; ``base`` is its base
    Deployment (None: not found, no owner reference can be written)."""
    spec = md.get("spec") or {}
    if spec.get("templateRef"):
        raise NotConvertible(f"{_name(md)}: spec.templateRef: upstream's controller has no "
                             "ModuleTemplate references; write the template inline first")
    status = md.get("status") or {}
    rs = status.get("releaseStatus") or {}
    progress = rs.get("progress")
    if progress and progress not in _GOES_ON:
        raise NotConvertible(f"{_name(md)}: status.releaseStatus.progress: {progress!r}: "
                             "upstream's controller cannot go on with it; wait until the "
                             "release is Completed, or pause it (spec.pause: true)")
    meta = md.get("metadata") or {}
    patch: Obj = {}
    if not meta.get("labels"):
        patch.setdefault("metadata", {})["labels"] = {DEFAULT_LABEL[0]: DEFAULT_LABEL[1]}
    refs = meta.get("ownerReferences") or []
    if base is not None and not any(r.get("name") == spec.get("baseDeploymentName")
                                    for r in refs):
        patch.setdefault("metadata", {})["ownerReferences"] = refs + [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": base["metadata"]["name"],
            "uid": base["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    spec_patch = _spec_patch(spec)
    if spec_patch:
        patch["spec"] = spec_patch
    if patch:
        patch.setdefault("metadata", {})["resourceVersion"] = meta.get("resourceVersion")
    return patch or None, _deployment_status(status, rs)


def _deployment_status(status: Obj, rs: Obj) -> Obj:
    out: Obj = {"conditions": _snake_conditions(status.get("conditions"))}
    if not rs or needs_release_adoption(status):
        return out  # none, or upstream's already (a second run changes nothing)
    batch = int(rs.get("currentBatch") or 1)
    progress = rs.get("progress")
    ours = ("stableRevision", "abortedRevision", "abortedModule", "updateRevision")
    out["releaseStatus"] = {
        **{k: None for k in ours},
        # upstream's currentBatch is the group it starts next; Completed and Paused (the only
        # progress let through) both mean the group is done
        "currentBatch": batch + 1,
        "batchProgress": "Completed",
        "progress": progress,
    }
    return out


def replicaset(mrs: Obj) -> Obj | None:
    """The metadata/spec patch of a ModuleReplicaSet (None: none needed)."""
    spec_patch = _spec_patch(mrs.get("spec") or {})
    if not spec_patch:
        return None
    return {"metadata": {"resourceVersion": (mrs.get("metadata") or {}).get("resourceVersion")},
            "spec": spec_patch}


def replicaset_status(mrs: Obj) -> Obj:
    # Upstream's controller never writes observedGeneration here, and this controller adopts
    # a revision's Modules only while it is absent (planning/adoption.py): without it, the way
    # forth again takes the Modules back in.
    return {"conditions": _snake_conditions((mrs.get("status") or {}).get("conditions")),
            "observedGeneration": None}


def module(mod: Obj) -> Obj | None:
    """The metadata patch of a Module: owned by its pod only, as upstream's controller writes
    it (None: it is already)."""
    meta = mod.get("metadata") or {}
    refs = meta.get("ownerReferences") or []
    wanted = []
    for ref in refs:
        if ref.get("kind") == c.MODULE_REPLICA_SET.kind and ref.get("apiVersion") == c.API_VERSION:
            continue
        if ref.get("kind") == "Pod":
            ref = {**ref, "blockOwnerDeletion": True}
        wanted.append(ref)
    if wanted == refs:
        return None
    return {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                         "ownerReferences": wanted}}


def module_status(mod: Obj, now: str) -> Obj:
    """``last_transition_time`` of the phase (``now`` when none was recorded)."""
    status = mod.get("status") or {}
    if not status.get("status"):
        return {}
    since = status.get("lastTransitionTime") or status.get("last_transition_time")
    return {"last_transition_time": since or now}

"""Typed reads of raw Kubernetes objects (the JSON dicts the cache holds).

The reconcilers work on the dicts the watch delivers (validating every cached object into a
pydantic model would cost more than the rest of a reconcile). These small functions are the one
place that knows where a field sits, so that ``(m.get("status") or {}).get("status")`` and the
owner-reference and timestamp idioms are not repeated in every file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Obj = dict[str, Any]

#: The API server's timestamp format (RFC 3339, whole seconds, UTC).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def phase(module: Obj) -> str | None:
    """A Module's phase (``status.status``), or None before the controller wrote one."""
    status = module.get("status") or {}
    value = status.get("status")
    return value if isinstance(value, str) else None


def phase_since(module: Obj) -> dt.datetime | None:
    """When the Module's phase last changed (``status.lastTransitionTime``; None before the
    controller wrote one). Raises ValueError for a time that is not RFC 3339."""
    return parse_time((module.get("status") or {}).get("lastTransitionTime"))


def owner_uids(obj: Obj) -> set[str]:
    return {ref["uid"] for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
            if isinstance(ref, dict) and "uid" in ref}


def owned_by(obj: Obj, uid: str) -> bool:
    return uid in owner_uids(obj)


def owner_ref(obj: Obj, kind: str, *, controller: bool = False) -> Obj | None:
    """The first ownerReference of ``obj`` to a ``kind``; with ``controller``, only one that
    marks its owner as the controller. None if there is none."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind \
                and (not controller or ref.get("controller")):
            return ref
    return None


def owner_reference(owner: Obj, *, controller: bool = True,
                    block_owner_deletion: bool = True) -> Obj:
    """An ownerReference to ``owner`` (its apiVersion, kind, name and uid)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": controller,
            "blockOwnerDeletion": block_owner_deletion}


def parse_time(value: str | None) -> dt.datetime | None:
    """An API timestamp as an aware datetime; None for a missing one."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def format_time(when: dt.datetime, *, ceil: bool = False) -> str:
    """RFC 3339 in whole seconds, as Kubernetes writes times. ``ceil`` rounds up, for a time that
    must not come early (the end of a gray time)."""
    if ceil and when.microsecond:
        when = when.replace(microsecond=0) + dt.timedelta(seconds=1)
    return when.astimezone(dt.timezone.utc).strftime(TIME_FORMAT)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def status_of(obj: Obj) -> Obj:
    """An object's status ({} before anything wrote one)."""
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def update_revision(module_deployment: Obj) -> int | None:
    """The revision a ModuleDeployment's release moves instances to
    (``status.releaseStatus.updateRevision``), None before its first release."""
    value = (status_of(module_deployment).get("releaseStatus") or {}).get("updateRevision")
    return value if isinstance(value, int) else None

"""The writing commands (promote, pause, resume, undo): the merge patch to send, or why nothing
needs to change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...api import constants as c
from ...api.moduledeployment import ReleaseProgress as P
from .reading import ViewError, current_revision, module_of_template, name_of, revision_of
from .status import waiting_group


@dataclass(frozen=True)
class Change:
    """What a writing command does: a merge patch for the ModuleDeployment (None: nothing to
    change) and the line to print."""

    patch: dict | None
    message: str


def promote(md: dict) -> Change:
    """Confirm exactly the group that waits, through ``spec.confirmBatchNum`` (idempotent: a
    second promote of the same pause finds it confirmed and changes nothing)."""
    name = name_of(md)
    waiting = waiting_group(md)
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    if waiting is None:
        if rs.get("progress") == P.PAUSED.value:
            return Change(None, f"moduledeployment {name}: the pause after group "
                          f"{rs.get('currentBatch')} is already confirmed; nothing to promote")
        where = f" (progress {rs.get('progress')}, group {rs.get('batchProgress')})" \
            if rs.get("progress") else ""
        return Change(None, f"moduledeployment {name}: no group waits for confirmation{where}; "
                      "nothing to promote")
    total = rs.get("realBatchCount")
    done = waiting - 1
    return Change(
        {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion")},
         "spec": {"confirmBatchNum": done}},
        f"moduledeployment {name} promoted: group {waiting} of {total} starts "
        f"(confirmBatchNum={done})")


def set_pause(md: dict, pause: bool) -> Change:
    name = name_of(md)
    if bool((md.get("spec") or {}).get("pause")) == pause:
        return Change(None, f"moduledeployment {name} is already {'paused' if pause else 'resumed'}")
    return Change({"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion")},
                   "spec": {"pause": pause}},
                  f"moduledeployment {name} {'paused' if pause else 'resumed'}")


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (None where a key goes)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch = {k: None for k in old if k not in new}
    for k, v in new.items():
        if k not in old:
            patch[k] = v
        elif old[k] != v:
            patch[k] = merge_patch(old[k], v)
    return patch


def undo(md: dict, replicasets: list[dict], to_revision: int | None = None) -> Change:
    """Put the template of revision ``to_revision`` (default: the highest revision other than the
    current one, which is where ``kubectl rollout undo`` goes too) back into the spec."""
    name = name_of(md)
    ns = (md.get("metadata") or {}).get("namespace")
    spec = md.get("spec") or {}
    if spec.get("templateRef"):
        raise ViewError(f'moduledeployment "{name}" uses moduletemplate '
                        f'"{spec["templateRef"].get("name")}": undo changes an inline template '
                        "only; change the ModuleTemplate instead")
    current = current_revision(md, replicasets)
    current_number = revision_of(current) if current is not None else None
    by_number = {revision_of(m): m for m in replicasets if revision_of(m) is not None}
    if to_revision is None:
        older = sorted(n for n in by_number if n != current_number)
        if not older:
            raise ViewError(f'moduledeployment "{name}" in namespace "{ns}" has no previous '
                            "revision")
        to_revision = older[-1]
    target = by_number.get(to_revision)
    if target is None:
        raise ViewError(f'revision {to_revision} of moduledeployment "{name}" not found in '
                        f'namespace "{ns}"')
    template = (target.get("spec") or {}).get("template") or {}
    module = module_of_template(template)
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    if to_revision == current_number and spec.get("template") == template and \
            rs.get("abortedRevision") == to_revision:
        # The spec names it already, but it was given up: going back to it is a retry.
        return Change(
            {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion"),
                          "annotations": {c.ANNOTATION_RETRY_REVISION: str(to_revision)}}},
            f"moduledeployment {name}: revision {to_revision} ({module.get('version')}) is the "
            f"spec's but was given up (revision {rs.get('stableRevision')} runs); wrote "
            f"{c.ANNOTATION_RETRY_REVISION}={to_revision}: the controller releases it again")
    if to_revision == current_number and spec.get("template") == template:
        return Change(None, f"moduledeployment {name} is already at revision {to_revision} "
                      f"({module.get('version')}); nothing to undo")
    return Change(
        {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion")},
         "spec": {"template": merge_patch(spec.get("template") or {}, template)}},
        f"moduledeployment {name} rolled back to revision {to_revision} "
        f"({module.get('name')}:{module.get('version')})")

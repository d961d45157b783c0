"""The writing commands (promote, pause, resume, undo): the merge patch to send, or why nothing
needs to change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...api import constants as c
from ...api.moduledeployment import ReleaseProgress as P
from .reading import ViewError, current_revision, module_of_template, name_of, revision_of
from .status import progress_phrase, waiting_group


@dataclass(frozen=True)
class Change:
    """What a writing command does: a merge patch for the ModuleDeployment (None: nothing to
    change) and the line to print."""

    patch: dict[str, Any] | None
    message: str


def _rv(md: dict[str, Any]) -> dict[str, Any]:
    return {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion")}


def promote(md: dict[str, Any], full: bool = False) -> Change:
    """Confirm exactly the group that waits, through ``spec.confirmBatchNum`` (idempotent: a
    second promote of the same pause finds it confirmed and changes nothing). With group k done
    and group k+1 waiting, ``confirmBatchNum = k`` (behaviour §2.3.4). ``full``: confirm every
    pause still to come as well (``confirmBatchNum`` = the last group that can pause) and clear
    ``spec.pause``, so the release runs to its end; the controller sets ``confirmBatchNum``
    back to 0 when it completes."""
    name = name_of(md)
    waiting = waiting_group(md)
    spec = md.get("spec") or {}
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    total = int(rs.get("realBatchCount") or 0)
    where = progress_phrase(rs.get("progress"), rs.get("currentBatch"), total)
    if full:
        running = rs.get("progress") not in (None, P.COMPLETED.value, P.TERMINATED.value,
                                             P.ABORTED.value)
        confirm = max(total - 1, int(spec.get("confirmBatchNum") or 0))
        if not running or total < 1:
            return Change(None, f"moduledeployment {name}: no release is running ({where}); "
                          "nothing to promote")
        if not spec.get("pause") and int(spec.get("confirmBatchNum") or 0) >= total - 1:
            return Change(None, f"moduledeployment {name}: every pause of the release is "
                          f"confirmed already ({where}); nothing to promote")
        return Change({"metadata": _rv(md), "spec": {"confirmBatchNum": confirm, "pause": False}},
                      f"moduledeployment {name}: wrote spec.confirmBatchNum={confirm} and "
                      f"spec.pause=false (confirms the pauses after groups 1 to {confirm} of "
                      f"{total}; {where})")
    if waiting is None:
        if rs.get("progress") == P.PAUSED.value:
            return Change(None, f"moduledeployment {name}: the pause after group "
                          f"{rs.get('currentBatch')} is already confirmed; nothing to promote")
        return Change(None, f"moduledeployment {name}: no group waits for confirmation ({where}); "
                      "nothing to promote")
    done = waiting - 1
    return Change(
        {"metadata": _rv(md), "spec": {"confirmBatchNum": done}},
        f"moduledeployment {name}: wrote spec.confirmBatchNum={done} (confirms the pause after "
        f"group {done} of {total}: group {waiting} may start)")


def set_pause(md: dict[str, Any], pause: bool) -> Change:
    name = name_of(md)
    if bool((md.get("spec") or {}).get("pause")) == pause:
        return Change(None, f"moduledeployment {name}: spec.pause is {str(pause).lower()} "
                      "already; nothing to write")
    what = "the release stops after the running group" if pause else "the release may go on"
    return Change({"metadata": _rv(md), "spec": {"pause": pause}},
                  f"moduledeployment {name}: wrote spec.pause={str(pause).lower()} ({what})")


def set_version(md: dict[str, Any], version: str, url: str | None, keep_url: bool) -> Change:
    """Write the inline template's module version (and url). A url that names the old version
    is not kept silently: the jar it points at is the old one."""
    name = name_of(md)
    spec = md.get("spec") or {}
    if spec.get("templateRef"):
        raise ViewError(f'moduledeployment "{name}" uses moduletemplate '
                        f'"{spec["templateRef"].get("name")}": change the version in the '
                        "ModuleTemplate")
    module = module_of_template(spec.get("template"))
    old_version, old_url = module.get("version"), module.get("url") or ""
    new_url = url if url is not None else old_url
    if url is None and not keep_url and old_version and old_version != version \
            and old_version in old_url:
        raise ViewError(f'moduledeployment "{name}": spec.template.spec.module.url '
                        f'"{old_url}" names version {old_version}: pass --url with the jar of '
                        f"{version}, or --keep-url to keep it")
    if old_version == version and new_url == old_url:
        return Change(None, f"moduledeployment {name}: the spec's module is "
                      f"{module.get('name')}:{version} already; nothing to write")
    changed: dict[str, Any] = {"version": version}
    wrote = f"spec.template.spec.module.version={version}"
    if new_url != old_url:
        changed["url"] = new_url
        wrote += f" and url={new_url}"
    return Change({"metadata": _rv(md),
                   "spec": {"template": {"spec": {"module": changed}}}},
                  f"moduledeployment {name}: wrote {wrote} (was {old_version})")


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


def undo(md: dict[str, Any], replicasets: list[dict[str, Any]], to_revision: int | None = None) -> Change:
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
    by_number: dict[int, dict[str, Any]] = {}
    for mrs in replicasets:
        number = revision_of(mrs)
        if number is not None:
            by_number[number] = mrs
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
            f"{c.ANNOTATION_RETRY_REVISION}={to_revision} (asks the controller to release it "
            "again)")
    if to_revision == current_number and spec.get("template") == template:
        return Change(None, f"moduledeployment {name}: the spec names revision {to_revision} "
                      f"({module.get('version')}) already; nothing to undo")
    return Change(
        {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion")},
         "spec": {"template": merge_patch(spec.get("template") or {}, template)}},
        f"moduledeployment {name}: wrote the template of revision {to_revision} "
        f"({module.get('name')}:{module.get('version')}) into the spec (the controller rolls "
        "back to it in groups)")

"""The two listings: a ModuleDeployment's revisions (``history``) and the Modules on one base
(``base``)."""

from __future__ import annotations

from typing import Any

import datetime as dt
import ipaddress
from dataclasses import dataclass

from ...api import constants as c
from ...api import objects
from ...api.moduledeployment import ReleaseProgress as P
from .status import progress_phrase
from .reading import current_revision, labels_of, module_of_template, name_of, parse_time, revision_of


@dataclass(frozen=True)
class HistoryRow:
    revision: int | None
    name: str
    module: str | None
    version: str | None
    url: str | None
    created: dt.datetime | None
    current: bool
    #: True: the current release of this revision completed; False: it has not (yet); None: not
    #: recorded (an older revision: the API keeps no record of how its release ended).
    completed: bool | None
    state: str


def history(md: dict[str, Any], replicasets: list[dict[str, Any]]) -> tuple[HistoryRow, ...]:
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    update = rs.get("updateRevision")
    current = current_revision(md, replicasets)
    current_number = revision_of(current) if current is not None else None
    rows = []
    for mrs in sorted(replicasets, key=lambda m: revision_of(m) or 0):
        number = revision_of(mrs)
        module = module_of_template((mrs.get("spec") or {}).get("template"))
        completed: bool | None = None
        if number is not None and number == rs.get("abortedRevision"):
            # Given up: by the user (abort) or by the controller (rollbackOnFailure).
            rolled: dict[str, Any] = next((x for x in (md.get("status") or {}).get("conditions") or []
                           if x.get("type") == "RolledBack"), {})
            completed = False
            state = "aborted" if rolled.get("reason") == "Aborted" else "failed, rolled back"
        elif number == update and number is not None:
            # Aborted: the revision released back to (the stable one) runs to its end.
            completed = rs.get("progress") in (P.COMPLETED.value, P.ABORTED.value)
            state = "completed" if completed else \
                f"{rs.get('progress') or 'unknown'} {rs.get('batchProgress') or ''}".strip()
        elif number == current_number:
            completed, state = False, "not started"
        else:
            replicas = int(((mrs.get("status") or {}).get("replicas")) or 0)
            state = f"superseded, {replicas} instance(s) left" if replicas else "superseded"
        rows.append(HistoryRow(number, name_of(mrs), module.get("name"), module.get("version"),
                               module.get("url"),
                               parse_time((mrs.get("metadata") or {}).get("creationTimestamp")),
                               number == current_number, completed, state))
    return tuple(rows)


@dataclass(frozen=True)
class DeploymentRow:
    """One line of ``kubectl module list``."""

    namespace: str
    name: str
    module: str | None           # None: the module comes from a ModuleTemplate
    version: str | None          # the spec's
    running_version: str | None  # what the Available instances run (status.version)
    progress: str                # progress_phrase
    desired: int | None
    available: int | None
    updated: int | None
    revision: int | None         # releaseStatus.updateRevision
    template_ref: str | None
    url: str | None
    created: dt.datetime | None


def deployments(items: list[dict[str, Any]]) -> tuple[DeploymentRow, ...]:
    rows = []
    for md in items:
        meta = md.get("metadata") or {}
        spec = md.get("spec") or {}
        status = md.get("status") or {}
        rs = status.get("releaseStatus") or {}
        module = module_of_template(spec.get("template"))
        rows.append(DeploymentRow(
            meta.get("namespace") or "", meta.get("name") or "", module.get("name"),
            module.get("version"), status.get("version"),
            progress_phrase(rs.get("progress"), rs.get("currentBatch"), rs.get("realBatchCount")),
            status.get("desiredReplicas", spec.get("replicas")), status.get("availableReplicas"),
            status.get("updatedAvailableReplicas"), rs.get("updateRevision"),
            (spec.get("templateRef") or {}).get("name"), module.get("url"),
            parse_time(meta.get("creationTimestamp"))))
    return tuple(sorted(rows, key=lambda r: (r.namespace, r.name)))


@dataclass(frozen=True)
class BaseModuleRow:
    name: str
    module: str | None
    version: str | None
    installed_version: str | None
    phase: str | None
    deployment: str | None
    revision: int | None
    base_pod: str | None
    base_ip: str | None
    created: dt.datetime | None


def base_selector(base: str) -> str:
    """The label selector of the Modules on a base given by pod name or IP."""
    try:
        ipaddress.ip_address(base)
    except ValueError:
        return f"{c.LABEL_BASE_INSTANCE_NAME}={base}"
    return f"{c.LABEL_BASE_INSTANCE_IP}={base}"


def base_modules(modules: list[dict[str, Any]]) -> tuple[BaseModuleRow, ...]:
    rows = []
    for m in modules:
        spec_module = ((m.get("spec") or {}).get("module")) or {}
        status = m.get("status") or {}
        rows.append(BaseModuleRow(
            name_of(m), spec_module.get("name"), spec_module.get("version"),
            status.get("installedVersion"), objects.phase(m),
            labels_of(m).get(c.LABEL_MODULE_DEPLOYMENT), revision_of(m),
            labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME), labels_of(m).get(c.LABEL_BASE_INSTANCE_IP),
            parse_time((m.get("metadata") or {}).get("creationTimestamp"))))
    return tuple(sorted(rows, key=lambda r: (r.module or "", r.name)))

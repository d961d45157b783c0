"""Reading API objects as the plugin finds them: tolerant of missing fields and odd values
(a ``kubectl module`` command shows what is there rather than failing on it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...api import constants as c
from ...api import objects


class ViewError(Exception):
    """A command cannot do what was asked; the message names the object (exit code 1)."""


def parse_time(value: Any) -> dt.datetime | None:
    """An API time as an aware datetime; None for a missing or unreadable one."""
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    try:
        return objects.parse_time(str(value))
    except ValueError:
        return None


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def revision_of(obj: dict[str, Any]) -> int | None:
    """The revision number of a ModuleReplicaSet or Module (label module-replicaset-revision)."""
    try:
        return int(labels_of(obj).get(c.LABEL_MODULE_REPLICASET_REVISION) or "")
    except ValueError:
        return None


def module_of_template(template: dict[str, Any] | None) -> dict[str, Any]:
    return (((template or {}).get("spec") or {}).get("module")) or {}


def name_of(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def current_revision(md: dict[str, Any], replicasets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ModuleReplicaSet of the spec's module name and version (the controller keys
    revisions by them), else the release's update revision."""
    module = module_of_template((md.get("spec") or {}).get("template"))
    for mrs in replicasets:
        m = module_of_template((mrs.get("spec") or {}).get("template"))
        if module and (m.get("name"), m.get("version")) == (module.get("name"), module.get("version")):
            return mrs
    update = (((md.get("status") or {}).get("releaseStatus")) or {}).get("updateRevision")
    return next((m for m in replicasets if revision_of(m) == update), None)

"""Which Events of a release's Modules are told once per revision and group on their
ModuleDeployment (the rule: :func:`planning.event_series.release_series`): the Event recorder's
summariser, built by the operator and handed to the recorder when it is made."""

from __future__ import annotations

from ..api import constants as c, objects
from ..kube.events import Summary
from ..planning.event_series import release_series
from ..runtime.store import Obj
from .caches import Caches, labels_of


class ReleaseEvents:
    def __init__(self, caches: Caches) -> None:
        self.caches = caches

    def __call__(self, obj: Obj, type_: str, reason: str, message: str) -> Summary | None:
        """A release's Modules tell their Normal transitions once per revision and group on
        their ModuleDeployment; everything else stays on its object (None)."""
        if obj.get("kind") != c.MODULE.kind:
            return None
        md = self.caches.release_of(obj)  # not by label: a Module made by hand tells on itself
        if md is None:
            return None
        series = release_series(type_, labels_of(obj),
                                objects.status_of(md).get("releaseStatus") or {})
        if series is None:
            return None
        target = {"apiVersion": md.get("apiVersion") or c.API_VERSION,
                  "kind": md.get("kind") or c.MODULE_DEPLOYMENT.kind, "metadata": md["metadata"]}
        return Summary(target, series)

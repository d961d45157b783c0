"""The pods as placement sees them (:class:`planning.placement.Base`), and the one report of a
bad ``max-module-count`` label, on the object that carries it.

Shared by every placer (a ModuleReplicaSet's scale-up, a hand-made Module's binding), so all of
them see bases the same way.
"""

from __future__ import annotations

from ..runtime.store import Obj
from ..api import constants as c
from ..kube.events import WARNING, EventRecorder
from ..planning import placement
from ..runtime.memo import Memo
from ..planning.base_pod_rules import pod_ip, pod_ready, wants_removal
from .caches import Caches, deleting, labels_of


class PlacementBases:
    def __init__(self, caches: Caches, events: EventRecorder) -> None:
        self.caches = caches
        self.events = events
        self._reported = Memo()  # (namespace, kind, name, problem) already told

    def max_modules(self, pod: Obj) -> int | None:
        deployment = self.caches.deployment_of(pod)
        on_pod = labels_of(pod).get(c.LABEL_MAX_MODULE_COUNT)
        value, problem = placement.parse_max_module_count(
            on_pod, labels_of(deployment).get(c.LABEL_MAX_MODULE_COUNT) if deployment else None)
        if problem:
            # Reported on the object that carries the label (the pod's wins when it has one).
            if on_pod is None and deployment is not None:
                culprit = {**deployment, "apiVersion": deployment.get("apiVersion") or "apps/v1",
                           "kind": deployment.get("kind") or "Deployment"}
            else:
                culprit = pod
            marker = (culprit["metadata"]["namespace"], culprit["kind"] if "kind" in culprit
                      else "Pod", culprit["metadata"]["name"], problem)
            if self._reported.record(marker):  # once, not on every reconcile
                self.events.record(culprit, WARNING, "InvalidMaxModuleCount", problem)
        return value

    def base(self, pod: Obj, replacing: tuple[str, str] | None = None) -> placement.Base:
        """``replacing`` = (ModuleDeployment, ModuleReplicaSet) placing new instances: names whose
        instances here are all of other revisions of that ModuleDeployment are replaceable."""
        meta = pod["metadata"]
        bound = self.caches.modules_on_pod(meta["namespace"], meta["name"])
        owner = self.caches.deployment_of(pod)
        replaceable: set[str] = set()
        if replacing is not None:
            by_name: dict[str, list[Obj]] = {}
            for m in bound:
                by_name.setdefault(m["spec"]["module"]["name"], []).append(m)
            deployment, replicaset = replacing
            for name, ms in by_name.items():
                if all((self.caches.release_of(m) or {}).get("metadata", {}).get("name") == deployment
                       and labels_of(m).get(c.LABEL_MODULE_REPLICASET) != replicaset for m in ms):
                    replaceable.add(name)
        return placement.Base(
            name=meta["name"],
            ip=pod_ip(pod),
            ready=pod_ready(pod),
            # A pod on its way out takes no new modules.
            deleting=deleting(pod) or wants_removal(pod),
            labels=labels_of(pod),
            module_count=len(bound),
            modules=frozenset(m["spec"]["module"]["name"] for m in bound),
            max_modules=self.max_modules(pod),
            replaceable=frozenset(replaceable),
            deployment=owner["metadata"]["name"] if owner else None,
        )

    def bases(self, namespace: str, replacing: tuple[str, str] | None = None,
              deployment: str | None = None) -> list[placement.Base]:
        """The pods of ``namespace`` as planner bases; only those of base Deployment
        ``deployment`` when one is named (placement takes no other: an index, not a scan)."""
        pods = self.caches.pods.list(namespace) if deployment is None else \
            self.caches.pods_of(namespace, deployment)
        return [self.base(p, replacing) for p in pods]

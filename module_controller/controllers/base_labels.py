"""Base pods and base Deployments (behaviour §6): the delete-pod labels and the count labels.

* A pod labelled ``delete-pod=true`` has its Modules taken off (uninstalled), then is deleted;
  ``delete-pod-directly=true`` does the same without uninstalling (the Module reconciler skips
  Arklet for Modules on such a pod). Only base pods (:meth:`Caches.base_deployment_of`): on any
  other pod the labels are ignored with one Event, since whoever may label a pod must not get
  the controller to delete it (docs/security.md).
* With ``--no-pod-deletion`` the modules are still taken off, but the pod is left (one Event):
  the cluster admin has taken pod deletion from the controller (docs/security.md, item 4).
* A base Deployment carries max/min/average module counts over its pods, derived from the
  Module objects every time, never accumulated.
"""

from __future__ import annotations

from typing import Any

from ..api import constants as c
from ..kube.events import NORMAL, WARNING
from ..observability.decisions import decided
from ..planning.base_pod_rules import count_labels
from ..planning.base_pod_rules import wants_removal
from .caches import deleting, labels_of
from .context import Context
from ..runtime.memo import Memo
from ..runtime.queue import Result
from ..runtime.store import Key, Obj
from .wake import BASE_DEPLOYMENTS



class BasePodReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._ignored = Memo()  # pod uids already told that the label is ignored
        self._kept = Memo()  # pod uids already told that they are not deleted

    async def reconcile(self, key: Key) -> Result | None:
        pod = self.ctx.caches.pods.get(*key)
        if pod is None or deleting(pod) or not wants_removal(pod):
            return None
        if self.ctx.caches.base_deployment_of(pod) is None:
            self._ignore(pod)
            return None
        modules = self.ctx.caches.modules_on_pod(key[0], key[1], include_deleting=True)
        for module in modules:
            if not deleting(module):
                decided("BasePod", key, "delete module", "the pod is labelled for removal",
                        module=module["metadata"]["name"])
                await self.ctx.writer.delete(c.MODULE.kind, key[0], module["metadata"]["name"])
        if modules:
            decided("BasePod", key, "wait", "its Modules are being taken off", changed=False,
                    modules=len(modules))
            return None  # their removal (module events) brings us back
        if not self.ctx.settings.pod_deletion:
            decided("BasePod", key, "keep pod", "pod deletion is disabled (--no-pod-deletion)",
                    changed=False)
            self._keep(pod)
            return None
        decided("BasePod", key, "delete pod", "modules taken off as the delete-pod label asked")
        self.ctx.events.record(pod, NORMAL, "BaseRemoved",
                               "modules taken off as the delete-pod label asked; deleting the pod")
        await self.ctx.writer.delete_pod(key[0], key[1])
        return None

    def _keep(self, pod: Obj) -> None:
        """--no-pod-deletion: the modules are off, the pod is its owner's to delete (once)."""
        if not self._kept.record(pod["metadata"].get("uid") or pod["metadata"]["name"]):
            return
        self.ctx.events.record(pod, WARNING, "PodDeletionDisabled",
                               "modules taken off as the delete-pod label asked; the pod is not "
                               "deleted: the operator disabled pod deletion (--no-pod-deletion)")

    def _ignore(self, pod: Obj) -> None:
        if not self._ignored.record(pod["metadata"].get("uid") or pod["metadata"]["name"]):
            return
        decided("BasePod", (pod["metadata"]["namespace"], pod["metadata"]["name"]),
                "ignore label", "labelled for removal but no base pod")
        self.ctx.events.record(pod, WARNING, "NotABasePod",
                               "delete-pod label ignored: the pod belongs to no base Deployment "
                               "that a ModuleDeployment or ModuleReplicaSet names")


class BaseDeploymentCountsReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def reconcile(self, key: Key) -> Result | None:
        deployment = self.ctx.caches.deployments.get(*key)
        if deployment is None or deleting(deployment):
            return None
        per_pod = [
            self.ctx.caches.live_module_count(key[0], pod["metadata"]["name"])
            for pod in self.ctx.caches.pods_of(*key) if not deleting(pod)
        ]
        current = labels_of(deployment)
        if not any(per_pod) and c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE not in current:
            return None  # not a base (yet): leave other Deployments untouched
        wanted = count_labels(per_pod)
        if all(current.get(k) == v for k, v in wanted.items()):
            return None
        counts: dict[str, Any] = {k.rsplit("/", 1)[-1]: v for k, v in wanted.items()}
        decided("BaseDeployment", key, "label counts", "module counts over its pods changed",
                **counts)
        await self.ctx.writer.patch_deployment_labels(key[0], key[1], wanted,
                                                      skip=BASE_DEPLOYMENTS)
        return None

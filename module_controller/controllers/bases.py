"""Base pods and base Deployments (SPEC §6): the delete-pod labels and the count labels.

* A pod labelled ``delete-pod=true`` has its Modules taken off (uninstalled), then is deleted;
  ``delete-pod-directly=true`` does the same without uninstalling (the Module reconciler skips
  Arklet for Modules on such a pod).
* A base Deployment carries max/min/average module counts over its pods, derived from the
  Module objects every time, never accumulated.
"""

from __future__ import annotations

from ..api import constants as c
from ..kube.events import NORMAL
from ..planning.bases import count_labels
from .context import Context, deleting, labels_of, wants_removal
from .queue import Result
from .store import Key


class BasePodReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def reconcile(self, key: Key) -> Result | None:
        pod = self.ctx.pods.get(*key)
        if pod is None or deleting(pod) or not wants_removal(pod):
            return None
        modules = self.ctx.modules_on_pod(key[0], key[1], include_deleting=True)
        for module in modules:
            if not deleting(module):
                await self.ctx.kube.delete(c.MODULE.plural, key[0], module["metadata"]["name"])
        if modules:
            return None  # their removal (module events) brings us back
        self.ctx.events.record(pod, NORMAL, "BaseRemoved",
                               "modules taken off as the delete-pod label asked; deleting the pod")
        await self.ctx.kube.delete_pod(key[0], key[1])
        return None


class BaseDeploymentReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def reconcile(self, key: Key) -> Result | None:
        deployment = self.ctx.deployments.get(*key)
        if deployment is None or deleting(deployment):
            return None
        per_pod = [
            len(self.ctx.modules_on_pod(key[0], pod["metadata"]["name"]))
            for pod in self.ctx.pods.list(key[0])
            if not deleting(pod) and self.ctx.deployment_of(pod) is deployment
        ]
        current = labels_of(deployment)
        if not any(per_pod) and c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE not in current:
            return None  # not a base (yet): leave other Deployments untouched
        wanted = count_labels(per_pod)
        if all(current.get(k) == v for k, v in wanted.items()):
            return None
        updated = await self.ctx.kube.patch_deployment_labels(key[0], key[1], wanted)
        if updated is not None:
            self.ctx.deployments.upsert(updated)
        return None

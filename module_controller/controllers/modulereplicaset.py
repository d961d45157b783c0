"""The ModuleReplicaSet reconciler: keep ``replicas`` Modules of one template placed (behaviour §3).

Scale up creates Modules already bound to the pods :func:`placement.place` chose (labels,
finalizer and owner references in the create itself, so the Module controller does not have to
patch them again). Scale down deletes in :func:`replicaset.scale_down_order`. A template change
is applied to existing Modules in place (the Module controller performs the upgrade under the
policy). Status counts and the ReplicaFailure condition are written only when they change.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from ..api import ModulePhase, ModuleReplicaSet, UpgradePolicy
from ..api import constants as c
from ..kube.events import NORMAL, WARNING
from ..planning import placement
from ..planning import replicaset as plan
from ..planning.conditions import get_condition, set_condition
from ..planning.module_lifecycle import observed_current, serving, supersedes
from .context import Context, deleting, labels_of, owner_deployment_name, pod_ready
from ..runtime.queue import Result
from ..runtime.store import Key, key_of

log = logging.getLogger(__name__)
PLURAL = c.MODULE_REPLICA_SET.plural
MODULES = c.MODULE.plural

# Labels a ModuleReplicaSet passes on to its Modules (behaviour §1).
INHERITED_LABELS = (c.LABEL_MODULE_DEPLOYMENT, c.LABEL_MODULE_NAME,
                    c.LABEL_MODULE_REPLICASET_REVISION, c.LABEL_DEPLOYMENT_NAME,
                    c.LABEL_MODULE_SCHEDULING_STRATEGY)


def owned_by(mrs: dict):
    name, uid = mrs["metadata"]["name"], mrs["metadata"]["uid"]

    def check(module: dict) -> bool:
        if labels_of(module).get(c.LABEL_MODULE_REPLICASET) != name:
            return False
        return any(ref.get("uid") == uid for ref in module["metadata"].get("ownerReferences") or [])
    return check


def instance(module: dict) -> plan.Instance:
    spec = module.get("spec", {}).get("module", {})
    return plan.Instance(
        name=module["metadata"]["name"],
        pod=labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME),
        available=serving(module),
        deleting=deleting(module),
        version=spec.get("version"),
        url=spec.get("url"),
    )


class ReplicaSetReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def reconcile(self, key: Key) -> Result | None:
        obj = self.ctx.replicasets.get(*key)
        if obj is None:
            return None
        try:
            mrs = ModuleReplicaSet.from_api(obj)
        except ValidationError as exc:
            self.ctx.events.record(obj, WARNING, "InvalidSpec", str(exc).splitlines()[0])
            return None
        modules = self._owned(key, obj)
        if deleting(obj):
            return await self._finalize(key, obj, modules)
        obj = await self._ensure_finalizer(key, obj)
        await self._remove_misplaced(key, obj, modules)
        await self._update_templates(obj, mrs, modules)
        placed_all = await self._scale(key, obj, mrs, modules)
        modules = self._owned(key, obj)
        await self._write_status(key, mrs, modules, placed_all)
        return None

    def _owned(self, key: Key, obj: dict) -> list[dict]:
        check = owned_by(obj)
        return [m for m in self.ctx.modules.by_label(key[0], c.LABEL_MODULE_REPLICASET, key[1])
                if check(m)]

    # ----------------------------------------------------------------- steps

    async def _ensure_finalizer(self, key: Key, obj: dict) -> dict:
        finalizers = obj["metadata"].get("finalizers") or []
        if c.FINALIZER_MODULE_EXISTED in finalizers:
            return obj
        obj = await self.ctx.kube.patch(PLURAL, key[0], key[1], {"metadata": {
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "finalizers": finalizers + [c.FINALIZER_MODULE_EXISTED]}})
        self.ctx.remember_own(self.ctx.replicasets, obj, self.ctx.wake.replicaset)
        return obj

    async def _update_templates(self, obj: dict, mrs: ModuleReplicaSet, modules: list[dict]) -> None:
        """Bring existing Modules to the template: the Module controller upgrades in place."""
        wanted = mrs.spec.template.spec.module.model_dump(by_alias=True, exclude_none=True)
        policy = mrs.spec.operation_strategy.upgrade_policy
        for module in modules:
            if deleting(module):
                continue
            spec = module.get("spec", {})
            if plan.follows_template(spec, wanted, policy):
                continue
            meta = module["metadata"]
            updated = await self.ctx.kube.patch(MODULES, meta["namespace"], meta["name"], {
                "metadata": {"labels": {c.LABEL_MODULE_VERSION: wanted["version"]}},
                "spec": {"module": wanted, "upgradePolicy": policy},
            })
            self.ctx.remember_module(updated, wake_self=True)

    async def _scale(self, key: Key, obj: dict, mrs: ModuleReplicaSet, modules: list[dict]) -> bool:
        """Create or delete Modules toward ``replicas``; False if bases ran out."""
        instances = [self._instance(key, m) for m in modules]
        change = plan.delta(mrs.spec.replicas, instances)
        name = mrs.spec.template.spec.module.name
        policy = mrs.spec.scheduling_strategy.policy
        if change > 0:
            selector = mrs.spec.selector.model_dump(by_alias=True, exclude_none=True)
            in_place = mrs.spec.operation_strategy.policy in (
                UpgradePolicy.INSTALL_THEN_UNINSTALL, UpgradePolicy.UNINSTALL_THEN_INSTALL)
            deployment = labels_of(obj).get(c.LABEL_MODULE_DEPLOYMENT)
            replacing = (deployment, key[1]) if in_place and deployment else None
            async with self.ctx.placement_lock(key[0]):
                chosen = placement.place(self.ctx.bases(key[0], replacing), name, selector,
                                         policy, change, deployment=self._named(obj))
                # Concurrent creates: a group of 25 costs one round trip, not 25. The lock is
                # held until all of them are in the cache.
                limit = asyncio.Semaphore(16)

                async def create(base: placement.Base) -> None:
                    async with limit:
                        await self._create_module(obj, mrs, base)

                await asyncio.gather(*(create(b) for b in chosen))
            if len(chosen) < change:
                return False
        elif change < 0:
            load = {b.name: b.module_count for b in self.ctx.bases(key[0])}
            superseded = self._superseded(key, obj, modules)
            order = plan.scale_down_order(instances, load, policy, superseded,
                                          self._leaving(key[0], instances))
            replace_bases = self._replaces_bases(obj, mrs)
            for victim in order[:-change]:
                pod = self.ctx.pods.get(key[0], victim.pod) if victim.pod else None
                if replace_bases and pod is not None and self.ctx.base_deployment_of(pod):
                    # scaleup_then_scaledown ("1:1 base"): the base that hosted the replaced
                    # instance is recreated clean by its Deployment (behaviour §2.4); the base pod
                    # reconciler takes its modules off and deletes it.
                    await self._retire_base(key[0], victim.pod)
                else:
                    await self.ctx.kube.delete(MODULES, key[0], victim.name)
                    self._mark_deleting(key[0], victim.name)
        return True

    def _leaving(self, namespace: str, instances: list[plan.Instance]) -> set[str]:
        """Instances whose base pod is gone, being deleted or not ready: removed first."""
        out = set()
        for item in instances:
            pod = self.ctx.pods.get(namespace, item.pod) if item.pod else None
            if pod is None or deleting(pod) or not pod_ready(pod):
                out.add(item.name)
        return out

    @staticmethod
    def _named(obj: dict) -> str | None:
        """The base Deployment this ModuleReplicaSet places on (None: made by hand without the
        label; its selector alone decides)."""
        return labels_of(obj).get(c.LABEL_DEPLOYMENT_NAME)

    def _misplaced(self, key: Key, pod: dict | None) -> bool:
        obj = self.ctx.replicasets.get(*key)
        return pod is not None and obj is not None and placement.misplaced(
            owner_deployment_name(pod), self._named(obj))

    async def _remove_misplaced(self, key: Key, obj: dict, modules: list[dict]) -> None:
        """Instances on pods of another Deployment than the one named (baseDeploymentName was
        changed, or they were placed by labels before placement went by ownership) are taken
        off; :meth:`_scale` places their replacements on the named base in the same pass."""
        for module in modules:
            pod_name = labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME)
            pod = self.ctx.pods.get(key[0], pod_name) if pod_name else None
            if deleting(module) or not self._misplaced(key, pod):
                continue
            self.ctx.events.record(obj, NORMAL, "MisplacedInstance", (
                f"{module['metadata']['name']} is on pod {pod_name}, which is no pod of base "
                f"Deployment {self._named(obj)}; removing it"))
            await self.ctx.kube.delete(MODULES, key[0], module["metadata"]["name"])
            self._mark_deleting(key[0], module["metadata"]["name"])

    def _instance(self, key: Key, module: dict) -> plan.Instance:
        """An instance on a base that is being retired, or on a pod of another Deployment than
        the named one, counts as going already."""
        item = instance(module)
        pod = self.ctx.pods.get(key[0], item.pod or "") if item.pod else None
        if pod is not None and (self.ctx.retiring(pod) or self._misplaced(key, pod)) \
                and not item.deleting:
            item = plan.Instance(item.name, item.pod, item.available, True, item.version, item.url)
        return item

    def _replaces_bases(self, obj: dict, mrs: ModuleReplicaSet) -> bool:
        """An old revision of a ModuleDeployment scaling down under scaleup_then_scaledown
        (unless the operator disabled pod deletion: then its instances are just uninstalled,
        and the ModuleDeployment says so, condition Restricted)."""
        if mrs.spec.operation_strategy.policy is not UpgradePolicy.SCALEUP_THEN_SCALEDOWN or \
                not self.ctx.settings.pod_deletion:
            return False
        md = self.ctx.module_deployments.get(obj["metadata"]["namespace"],
                                             labels_of(obj).get(c.LABEL_MODULE_DEPLOYMENT) or "")
        if md is None or deleting(md):
            return False
        update = ((md.get("status") or {}).get("releaseStatus") or {}).get("updateRevision")
        return update is not None and labels_of(obj).get(c.LABEL_MODULE_REPLICASET_REVISION) != str(update)

    async def _retire_base(self, namespace: str, pod_name: str) -> None:
        updated = await self.ctx.kube.patch_pod_labels(namespace, pod_name,
                                                       {c.LABEL_DELETE_POD: c.LABEL_TRUE})
        if updated is not None:
            self.ctx.pods.upsert(updated)
            self.ctx.wake.base_pod((namespace, pod_name))

    def _superseded(self, key: Key, obj: dict, modules: list[dict]) -> set[str]:
        """Own Modules that the release's target revision has joined on their pod, Available:
        the in-place replacement is done there, so these go first on scale down."""
        out = set()
        for module in modules:
            pod = labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME)
            name = module["spec"]["module"]["name"]
            rank = self.ctx.replacement_rank(module)
            for other in self.ctx.modules_on_pod(key[0], pod or ""):
                if (other["spec"]["module"]["name"] == name
                        and other["metadata"]["name"] != module["metadata"]["name"]
                        and supersedes(self.ctx.replacement_rank(other), rank)
                        and (other.get("status") or {}).get("status") == ModulePhase.AVAILABLE):
                    out.add(module["metadata"]["name"])
        return out

    def _mark_deleting(self, namespace: str, name: str) -> None:
        # The delete only sets deletionTimestamp (the finalizer holds the object); mark the cached
        # copy at once so the next reconcile does not pick the same victim twice.
        module = self.ctx.modules.get(namespace, name)
        if module is not None and not deleting(module):
            copy = {**module, "metadata": {**module["metadata"], "deletionTimestamp": "pending"}}
            self.ctx.modules.upsert(copy)

    async def _create_module(self, obj: dict, mrs: ModuleReplicaSet, base: placement.Base) -> None:
        meta = obj["metadata"]
        info = mrs.spec.template.spec.module
        pod = self.ctx.pods.get(meta["namespace"], base.name)
        assert pod is not None
        template_meta = mrs.spec.template.metadata
        labels = dict((template_meta.labels or {}) if template_meta else {})
        labels.update({k: v for k, v in labels_of(obj).items() if k in INHERITED_LABELS})
        labels.update({
            c.LABEL_MODULE_REPLICASET: meta["name"],
            c.LABEL_MODULE_NAME: info.name,
            c.LABEL_MODULE_VERSION: info.version,
            c.LABEL_BASE_INSTANCE_NAME: base.name,
            c.LABEL_BASE_INSTANCE_IP: base.ip or "",
        })
        body = {
            "apiVersion": c.API_VERSION,
            "kind": c.MODULE.kind,
            "metadata": {
                "generateName": c.module_generate_name(meta["name"], info.name),
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": dict((template_meta.annotations or {}) if template_meta else {}),
                "finalizers": [c.FINALIZER_ALLOCATE_POD],
                "ownerReferences": [
                    {"apiVersion": c.API_VERSION, "kind": c.MODULE_REPLICA_SET.kind,
                     "name": meta["name"], "uid": meta["uid"], "controller": True,
                     "blockOwnerDeletion": True},
                    {"apiVersion": "v1", "kind": "Pod", "name": base.name,
                     "uid": pod["metadata"]["uid"], "controller": False,
                     "blockOwnerDeletion": False},
                ],
            },
            "spec": {
                "selector": mrs.spec.selector.model_dump(by_alias=True, exclude_none=True),
                "module": info.model_dump(by_alias=True, exclude_none=True),
                "upgradePolicy": mrs.spec.operation_strategy.upgrade_policy,
            },
        }
        created = await self.ctx.kube.create(MODULES, meta["namespace"], body)
        # Cached at once (no second Module for the same slot); the Module reconciler starts now.
        self.ctx.remember_module(created, wake_self=True)

    async def _finalize(self, key: Key, obj: dict, modules: list[dict]) -> Result | None:
        if c.FINALIZER_MODULE_EXISTED not in (obj["metadata"].get("finalizers") or []):
            return None
        for module in modules:
            if not deleting(module):
                await self.ctx.kube.delete(MODULES, key[0], module["metadata"]["name"])
                self._mark_deleting(key[0], module["metadata"]["name"])
        if modules:
            return None  # Module events bring us back when they are gone
        removed = await self.ctx.kube.remove_finalizer(PLURAL, obj, c.FINALIZER_MODULE_EXISTED)
        if removed is not None:
            self.ctx.remember_own(self.ctx.replicasets, removed, self.ctx.wake.replicaset)
        return None

    async def _write_status(self, key: Key, mrs: ModuleReplicaSet, modules: list[dict],
                            placed_all: bool) -> None:
        obj = self.ctx.replicasets.get(*key)
        if obj is None:
            return
        instances = [self._instance(key, m) for m in modules]
        info = mrs.spec.template.spec.module
        ready = {m["metadata"]["name"] for m in modules
                 if serving(m) or ((m.get("status") or {}).get("status") == ModulePhase.COMPLETING
                                   and observed_current(m))}
        counts = plan.counts(instances, info.version, info.url, ready)
        current = obj.get("status") or {}
        conditions = current.get("conditions")
        failure = get_condition(conditions, c.CONDITION_REPLICA_FAILURE)
        named = self._named(obj)
        if not placed_all and named and self.ctx.deployments.get(key[0], named) is None:
            # Reported, never guessed: no pod is a base of a Deployment that does not exist.
            reason = c.REASON_BASE_NOT_FOUND
            message = (f"{counts.replicas} of {mrs.spec.replicas} Modules placed: base "
                       f"Deployment {named} (label {c.LABEL_DEPLOYMENT_NAME}) not found; the "
                       "rest are placed when it exists")
        else:
            reason = c.REASON_INSUFFICIENT_BASES
            message = (f"{counts.replicas} of {mrs.spec.replicas} Modules placed: not enough "
                       "eligible base pods; the rest are placed as soon as bases appear")
        if not placed_all:
            conditions = set_condition(conditions, c.CONDITION_REPLICA_FAILURE, True,
                                       reason, message)
            if not failure or failure.get("status") != "True" or failure.get("reason") != reason:
                self.ctx.events.record(obj, WARNING, reason, message)
        elif failure and failure.get("status") == "True":
            conditions = set_condition(conditions, c.CONDITION_REPLICA_FAILURE, False,
                                       "AllPlaced", "every Module is placed")
            self.ctx.events.record(obj, NORMAL, "AllPlaced", "every Module is placed")
        status = {
            "observedGeneration": obj["metadata"].get("generation"),
            "replicas": counts.replicas,
            "currentReplicas": sum(1 for i in instances if i.pod and not i.deleting),
            "readyReplicas": counts.ready,
            "availableReplicas": counts.available,
            "updatedReplicas": counts.updated,
            "conditions": conditions,
        }
        if all(current.get(k) == v for k, v in status.items()):
            return
        updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1],
                                                   {k: v for k, v in status.items() if v is not None})
        self.ctx.remember_own(self.ctx.replicasets, updated, self.ctx.wake.replicaset)


def owner_replicaset(module: dict) -> Key | None:
    """The ModuleReplicaSet a Module belongs to, from its label."""
    name = labels_of(module).get(c.LABEL_MODULE_REPLICASET)
    return (key_of(module)[0], name) if name else None

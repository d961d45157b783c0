"""The ModuleReplicaSet reconciler: keep ``replicas`` Modules of one template placed (behaviour §3).

Scale up creates Modules already bound to the pods :func:`placement.place` chose
(:func:`replicaset.module_body`: labels, finalizer and owner references in the create itself,
so the Module controller does not have to patch them again). Scale down deletes in
:func:`replicaset.scale_down_order`. A template change is applied to existing Modules in place
(the Module controller performs the upgrade under the policy). Status counts and the
ReplicaFailure condition (:func:`replicaset.replicaset_status`) are written only when they
change. Each decision is one log line (observability.decisions).
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from ..api import ModulePhase, ModuleReplicaSet
from ..api import constants as c
from ..api.objects import owned_by, phase, status_of, update_revision
from ..api.errors import describe
from ..api.parsed import parsed
from ..kube.events import NORMAL, WARNING
from ..observability.decisions import decided
from ..planning import placement
from ..planning.conditions import set_condition
from ..planning import replicaset as plan
from ..planning.module_lifecycle import observed_current, serving
from ..runtime.queue import Result
from ..runtime.store import Key, Obj, key_of
from .adoption import adopt_modules
from ..planning.base_pod_rules import pod_ready
from .caches import deleting, labels_of
from .context import Context
from .wake import REPLICASETS as QUEUE

KIND = c.MODULE_REPLICA_SET.kind
MODULE = c.MODULE.kind


def instance(module: Obj) -> plan.Instance:
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
        obj = self.ctx.caches.replicasets.get(*key)
        if obj is None:
            return None
        try:
            model = parsed(ModuleReplicaSet, obj)
        except ValidationError as exc:
            await self._invalid(key, obj, describe(exc))
            return None
        if deleting(obj):
            # Never adopt into a ModuleReplicaSet on its way out: the adopted Modules would be
            # removed with it (uninstalled from bases that upstream left running them).
            return await self._finalize(key, obj, self._owned(key, obj))
        await adopt_modules(self.ctx, key, obj)  # upstream's v1 Modules, before they are counted
        modules = self._owned(key, obj)
        listed = obj
        obj = await self._ensure_finalizer(key, obj)
        wrote = int(obj is not listed) + await self._remove_misplaced(key, obj, modules)
        wrote += await self._update_templates(obj, model, modules)
        instances = [self._instance(key, m) for m in modules]
        placed_all, scaled = await self._scale(key, obj, model, modules, instances)
        if wrote or scaled:
            # Its Modules may have changed: counted again. Most wakes (a Module's status changed)
            # write nothing here, and then nothing was awaited since the list was built (no
            # await happens on that path), so it still holds.
            modules = self._owned(key, obj)
            instances = [self._instance(key, m) for m in modules]
        await self._write_status(key, model, modules, instances, placed_all)
        return None

    async def _invalid(self, key: Key, obj: Obj, message: str) -> None:
        """ReplicaFailure (reason InvalidSpec) and one Event name the field and its value; a
        valid spec later clears it (AllPlaced)."""
        now = status_of(obj).get("conditions")
        conditions = set_condition(now, c.CONDITION_REPLICA_FAILURE, True, "InvalidSpec", message)
        decided(KIND, key, "blocked", "InvalidSpec", changed=conditions != now, message=message)
        if conditions == now:
            return
        self.ctx.events.record(obj, WARNING, "InvalidSpec", message)
        await self.ctx.writer.patch_status(KIND, key[0], key[1], {
            "conditions": conditions, "observedGeneration": obj["metadata"].get("generation")},
            skip=QUEUE)

    def _owned(self, key: Key, obj: Obj) -> list[Obj]:
        """Its Modules: labelled with its name and owned by it (this uid, not a namesake's)."""
        uid = obj["metadata"]["uid"]
        return [m for m in self.ctx.caches.modules.by_label(key[0], c.LABEL_MODULE_REPLICASET, key[1])
                if owned_by(m, uid)]

    # ----------------------------------------------------------------- steps

    async def _ensure_finalizer(self, key: Key, obj: Obj) -> Obj:
        finalizers = obj["metadata"].get("finalizers") or []
        if c.FINALIZER_MODULE_EXISTED in finalizers:
            return obj
        return await self.ctx.writer.patch(KIND, key[0], key[1], {"metadata": {
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "finalizers": finalizers + [c.FINALIZER_MODULE_EXISTED]}}, skip=QUEUE)

    async def _update_templates(self, obj: Obj, model: ModuleReplicaSet, modules: list[Obj]) -> int:
        """Bring existing Modules to the template: the Module controller upgrades in place.
        How many Modules were patched."""
        wanted = model.spec.template.spec.module.model_dump(by_alias=True, exclude_none=True)
        policy = model.spec.operation_strategy.upgrade_policy
        patched = 0
        for module in modules:
            if deleting(module):
                continue
            spec = module.get("spec", {})
            if plan.follows_template(spec, wanted, policy):
                continue
            meta = module["metadata"]
            await self.ctx.writer.patch(MODULE, meta["namespace"], meta["name"], {
                "metadata": {"labels": {c.LABEL_MODULE_VERSION: wanted["version"]}},
                "spec": {"module": wanted, "upgradePolicy": policy},
            }, skip=None)
            patched += 1
            decided(KIND, (meta["namespace"], obj["metadata"]["name"]), "module updated",
                    "the template changed", module=meta["name"], version=wanted["version"])
        return patched

    async def _scale(self, key: Key, obj: Obj, model: ModuleReplicaSet, modules: list[Obj],
                     instances: list[plan.Instance]) -> tuple[bool, bool]:
        """Create or delete Modules toward ``replicas``: (False if bases ran out, whether any
        Module was created or deleted)."""
        change = plan.delta(model.spec.replicas, instances)
        name = model.spec.template.spec.module.name
        policy = model.spec.scheduling_strategy.policy
        if change > 0:
            selector = model.spec.selector.model_dump(by_alias=True, exclude_none=True)
            replacing = plan.replaceable_for(model.spec.operation_strategy.policy,
                                             labels_of(obj).get(c.LABEL_MODULE_DEPLOYMENT), key[1])
            async with self.ctx.locks.placement(key[0]):
                named = self._named(obj)
                chosen = placement.place(self.ctx.placement.bases(key[0], replacing, deployment=named),
                                         name, selector, policy, change, deployment=named)
                # Concurrent creates: a group of 25 costs one round trip, not 25. The lock is
                # held until all of them are in the cache.
                limit = asyncio.Semaphore(16)

                async def create(base: placement.Base) -> None:
                    async with limit:
                        await self._create_module(obj, model, base)

                await asyncio.gather(*(create(b) for b in chosen))
            decided(KIND, key, "scaled up", f"{model.spec.replicas} replicas wanted",
                    added=len(chosen), short=change - len(chosen) or None,
                    bases=",".join(b.name for b in chosen) or None)
            if len(chosen) < change:
                return False, True
        elif change < 0:
            # The load of the pods its instances are on (what scale_down_order reads).
            load = {i.pod: self.ctx.caches.live_module_count(key[0], i.pod) for i in instances
                    if i.pod and self.ctx.caches.pods.get(key[0], i.pod) is not None}
            superseded = self._superseded(key, modules)
            order = plan.scale_down_order(instances, load, policy, superseded,
                                          self._leaving(key[0], instances))
            replace_bases = self._replaces_bases(obj, model)
            decided(KIND, key, "scaled down", f"{model.spec.replicas} replicas wanted",
                    removed=",".join(v.name for v in order[:-change]),
                    bases_replaced=replace_bases or None)
            for victim in order[:-change]:
                pod = self.ctx.caches.pods.get(key[0], victim.pod) if victim.pod else None
                if replace_bases and victim.pod and pod is not None and \
                        self.ctx.caches.base_deployment_of(pod):
                    # scaleup_then_scaledown ("1:1 base"): the base that hosted the replaced
                    # instance is recreated clean by its Deployment (behaviour §2.4); the base pod
                    # reconciler takes its modules off and deletes it.
                    await self._retire_base(key[0], victim.pod)
                else:
                    await self.ctx.writer.delete(MODULE, key[0], victim.name, mark=True)
        else:
            decided(KIND, key, "nothing to do", f"{model.spec.replicas} replicas, as wanted",
                    changed=False)
        return True, change != 0

    def _leaving(self, namespace: str, instances: list[plan.Instance]) -> set[str]:
        """Instances whose base pod is gone, being deleted or not ready: removed first."""
        out = set()
        for item in instances:
            pod = self.ctx.caches.pods.get(namespace, item.pod) if item.pod else None
            if pod is None or deleting(pod) or not pod_ready(pod):
                out.add(item.name)
        return out

    @staticmethod
    def _named(obj: Obj) -> str | None:
        """The base Deployment this ModuleReplicaSet places on (None: made by hand without the
        label; its selector alone decides)."""
        return labels_of(obj).get(c.LABEL_DEPLOYMENT_NAME)

    def _misplaced(self, key: Key, pod: Obj | None) -> bool:
        obj = self.ctx.caches.replicasets.get(*key)
        return pod is not None and obj is not None and not self.ctx.caches.ownership_pending(pod) \
            and placement.misplaced(
            self.ctx.caches.deployment_name_of(pod), self._named(obj))

    async def _remove_misplaced(self, key: Key, obj: Obj, modules: list[Obj]) -> int:
        """Instances on pods of another Deployment than the one named (baseDeploymentName was
        changed, or they were placed by labels before placement went by ownership) are taken
        off; :meth:`_scale` places their replacements on the named base in the same pass.
        How many were taken off."""
        removed = 0
        for module in modules:
            pod_name = labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME)
            pod = self.ctx.caches.pods.get(key[0], pod_name) if pod_name else None
            if deleting(module) or not self._misplaced(key, pod):
                continue
            message = (f"{module['metadata']['name']} is on pod {pod_name}, which is no pod of "
                       f"base Deployment {self._named(obj)}; removing it")
            self.ctx.events.record(obj, NORMAL, "MisplacedInstance", message)
            decided(KIND, key, "misplaced instance removed", message)
            await self.ctx.writer.delete(MODULE, key[0], module["metadata"]["name"], mark=True)
            removed += 1
        return removed

    def _instance(self, key: Key, module: Obj) -> plan.Instance:
        """An instance on a base that is being retired, or on a pod of another Deployment than
        the named one, counts as going already."""
        item = instance(module)
        pod = self.ctx.caches.pods.get(key[0], item.pod or "") if item.pod else None
        if pod is not None and (self.ctx.caches.retiring(pod) or self._misplaced(key, pod)) \
                and not item.deleting:
            item = plan.Instance(item.name, item.pod, item.available, True, item.version, item.url)
        return item

    def _replaces_bases(self, obj: Obj, model: ModuleReplicaSet) -> bool:
        """See :func:`replicaset.replaces_bases`."""
        owner = self.ctx.caches.module_deployments.get(obj["metadata"]["namespace"],
                                                labels_of(obj).get(c.LABEL_MODULE_DEPLOYMENT) or "")
        update = None if owner is None or deleting(owner) else update_revision(owner)
        return plan.replaces_bases(model.spec.operation_strategy.policy,
                                   self.ctx.settings.pod_deletion, update,
                                   labels_of(obj).get(c.LABEL_MODULE_REPLICASET_REVISION))

    async def _retire_base(self, namespace: str, pod_name: str) -> None:
        """Label the base for removal; the label wakes every watcher of the pod at once (its
        base pod reconciler, and whatever places on it or counts its Modules)."""
        await self.ctx.writer.patch_pod_labels(namespace, pod_name,
                                               {c.LABEL_DELETE_POD: c.LABEL_TRUE}, skip=None)

    def _superseded(self, key: Key, modules: list[Obj]) -> set[str]:
        """See :func:`replicaset.replaced_in_place`."""
        def seen(module: Obj) -> plan.PodModule:
            return plan.PodModule(module["metadata"]["name"], module["spec"]["module"]["name"],
                                  self.ctx.caches.replacement_rank(module),
                                  phase(module) == ModulePhase.AVAILABLE)

        pods = {labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME) or "" for m in modules}
        on_pod = {pod: [seen(m) for m in self.ctx.caches.modules_on_pod(key[0], pod)] for pod in pods}
        return plan.replaced_in_place(
            ((seen(m), labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME)) for m in modules), on_pod)

    async def _create_module(self, obj: Obj, model: ModuleReplicaSet, base: placement.Base) -> None:
        namespace = obj["metadata"]["namespace"]
        pod = self.ctx.caches.pods.get(namespace, base.name)
        assert pod is not None
        body = plan.module_body(obj, model, base.name, base.ip, pod["metadata"]["uid"])
        # Cached at once (no second Module for the same slot); the Module reconciler starts now.
        await self.ctx.writer.create(MODULE, namespace, body, skip=None)

    async def _finalize(self, key: Key, obj: Obj, modules: list[Obj]) -> Result | None:
        if c.FINALIZER_MODULE_EXISTED not in (obj["metadata"].get("finalizers") or []):
            return None
        for module in modules:
            if not deleting(module):
                await self.ctx.writer.delete(MODULE, key[0], module["metadata"]["name"],
                                             mark=True)
        if modules:
            decided(KIND, key, "deleting: modules removed", "the ModuleReplicaSet is deleted",
                    changed=any(not deleting(m) for m in modules), left=len(modules))
            return None  # Module events bring us back when they are gone
        await self.ctx.writer.remove_finalizer(KIND, obj, c.FINALIZER_MODULE_EXISTED, skip=QUEUE)
        decided(KIND, key, "deleted: finalizer removed", "no Module left")
        return None

    async def _write_status(self, key: Key, model: ModuleReplicaSet, modules: list[Obj],
                            instances: list[plan.Instance], placed_all: bool) -> None:
        obj = self.ctx.caches.replicasets.get(*key)
        if obj is None:
            return
        info = model.spec.template.spec.module
        ready = {m["metadata"]["name"] for m in modules
                 if serving(m) or (phase(m) == ModulePhase.COMPLETING and observed_current(m))}
        counts = plan.counts(instances, info.version, info.url, ready)
        named = self._named(obj)
        missing = named if not placed_all and named and \
            self.ctx.caches.deployments.get(key[0], named) is None else None
        update = plan.replicaset_status(
            status_of(obj), counts, sum(1 for i in instances if i.pod and not i.deleting),
            model.spec.replicas, placed_all, missing, obj["metadata"].get("generation"))
        for event in update.events:
            self.ctx.events.record(obj, *event)
        if update.status is None:
            return
        await self.ctx.writer.patch_status(KIND, key[0], key[1], update.status, skip=QUEUE)


def owner_replicaset(module: Obj) -> Key | None:
    """The ModuleReplicaSet a Module belongs to, from its label."""
    name = labels_of(module).get(c.LABEL_MODULE_REPLICASET)
    return (key_of(module)[0], name) if name else None

"""A ModuleDeployment's module Service and the Restricted condition of the operator's switches.

Part of the ModuleDeployment reconciler (moduledeployment.py), apart because it is apart: the
Service selects the pods where the module is Available, whatever the release does.

A Service of the wanted name that is not ours is a conflict (behaviour §2.7.3): the reconciler
reports it (ReplicaFailure, reason ServiceConflict, and a Warning Event). Services are not
watched (no ``watch services`` in the RBAC, docs/security.md), so nothing would say when that
Service goes: while the conflict stands, :meth:`ModuleServices.ensure` asks for another look
with the controller's retry backoff, and the first look that can make the Service (or finds
none wanted) clears the condition.
"""

from __future__ import annotations

from ..api import ModuleDeployment, UpgradePolicy
from ..api import constants as c
from ..api.common import ModuleTemplateSpec
from ..api.objects import status_of
from ..kube.events import NORMAL, WARNING
from ..observability.decisions import decided
from ..planning import limits
from ..planning import moduledeployment_rules as md_rules
from ..planning.deployment_status import service_conflict_cleared
from ..runtime.memo import Memo
from ..runtime.store import Key, Obj
from .context import Context
from .wake import MODULE_DEPLOYMENTS

KIND = c.MODULE_DEPLOYMENT.kind


class ModuleServices:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        # uid -> the one Service (its name, or None for none) this process last made sure the
        # ModuleDeployment owns, having deleted every other: the next reconcile does not LIST
        # services again (it did on every reconcile, a request per step of every release). A
        # renamed module (spec.template.spec.module.name), or a Service no longer wanted, is
        # news: one LIST and delete then (and once per start).
        self._only_service = Memo()
        # uid -> looks in a row that found the Service name taken (the recheck's backoff).
        self._conflicts: dict[str, int] = {}

    async def ensure(self, key: Key, obj: Obj, model: ModuleDeployment,
                     template: ModuleTemplateSpec | None) -> str | None:
        """The Service the spec asks for, and no other; a problem (a Service of that name that
        is not ours) is returned for a condition."""
        uid = obj["metadata"]["uid"]
        body = None if template is None or self.ctx.settings.module_services == "disabled" \
            else md_rules.service_body(obj, model, template, self.ctx.settings.module_services)
        if body is None:  # none wanted, or refused (restrictions() says so)
            if self._only_service.record(uid, None):
                await self.ctx.writer.delete_owned_services(key[0], key[1], uid)
            await self._conflict_over(key, uid, "no module Service is wanted any more")
            return None
        problem = await self.ctx.writer.ensure_service(body, uid)
        if problem:
            self._recheck(key, uid)
            return problem
        await self._conflict_over(key, uid, f"Service {body['metadata']['name']} is owned by "
                                            "this ModuleDeployment now")
        if self._only_service.record(uid, body["metadata"]["name"]):
            await self.ctx.writer.delete_owned_services(key[0], key[1], uid,
                                                        keep=body["metadata"]["name"])
            decided(KIND, key, "service ensured", "spec.operationStrategy.serviceStrategy",
                    service=body["metadata"]["name"])
        return None

    async def delete(self, key: Key, uid: str) -> None:
        await self.ctx.writer.delete_owned_services(key[0], key[1], uid)
        self._only_service.forget(uid)
        self._conflicts.pop(uid, None)

    def _recheck(self, key: Key, uid: str) -> None:
        """Look again later: the taken name may be freed, and no watch would tell. The one retry
        policy, so the looks thin out to one per --retry-backoff-max while the conflict stands."""
        looks = self._conflicts[uid] = self._conflicts.get(uid, 0) + 1
        self.ctx.wake.add(MODULE_DEPLOYMENTS, key, self.ctx.settings.retry_backoff.wait(looks))

    async def _conflict_over(self, key: Key, uid: str, why: str) -> None:
        """Clear the ServiceConflict condition, if set, now that nothing conflicts."""
        self._conflicts.pop(uid, None)
        obj = self.ctx.caches.module_deployments.get(*key)
        conditions = service_conflict_cleared(status_of(obj).get("conditions")) \
            if obj is not None else None
        if obj is None or conditions is None:
            return
        decided(KIND, key, "service conflict over", why)
        self.ctx.events.record(obj, NORMAL, "ServiceConflictResolved", why)
        await self.ctx.writer.patch_status(KIND, key[0], key[1], {"conditions": conditions},
                                           skip=MODULE_DEPLOYMENTS)

    async def restrictions(self, key: Key, model: ModuleDeployment,
                           template: ModuleTemplateSpec | None) -> None:
        """The condition Restricted (and an Event) for what of the spec the operator's switches
        refuse (planning.limits); removed when nothing is."""
        obj = self.ctx.caches.module_deployments.get(*key)
        if obj is None:
            return
        ops = model.spec.operation_strategy
        found = limits.refusals(
            wants_service=bool(ops.service_strategy and ops.service_strategy.enable_module_service
                               and template is not None),
            replaces_bases=ops.policy is UpgradePolicy.SCALEUP_THEN_SCALEDOWN,
            module_services=self.ctx.settings.module_services,
            pod_deletion=self.ctx.settings.pod_deletion)
        current = status_of(obj).get("conditions") or []
        conditions = limits.restricted(current, found)
        if conditions == current:
            return
        if found:
            self.ctx.events.record(obj, WARNING, found[0].reason if len(found) == 1
                                   else limits.REASON_SEVERAL, "; ".join(r.message for r in found))
        decided(KIND, key, "restricted" if found else "no longer restricted",
                "; ".join(r.message for r in found) or "the operator allows the whole spec")
        await self.ctx.writer.patch_status(KIND, key[0], key[1], {"conditions": conditions},
                                           skip=MODULE_DEPLOYMENTS)

"""A ModuleDeployment's module Service and the Restricted condition of the operator's switches.

Part of the ModuleDeployment reconciler (moduledeployment.py), apart because it is apart: the
Service selects the pods where the module is Available, whatever the release does.
"""

from __future__ import annotations

from ..api import ModuleDeployment, UpgradePolicy
from ..api import constants as c
from ..api.common import ModuleTemplateSpec
from ..api.objects import status_of
from ..kube.events import WARNING
from ..observability.decisions import decided
from ..planning import deployment, limits
from ..runtime.memo import Memo
from ..runtime.store import Key
from .context import Context

KIND = c.MODULE_DEPLOYMENT.kind
PLURAL = c.MODULE_DEPLOYMENT.plural


class ModuleServices:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        # uid -> the one Service (its name, or None for none) this process last made sure the
        # ModuleDeployment owns, having deleted every other: the next reconcile does not LIST
        # services again (it did on every reconcile, a request per step of every release). A
        # renamed module (spec.template.spec.module.name), or a Service no longer wanted, is
        # news: one LIST and delete then (and once per start).
        self._only_service = Memo()

    async def ensure(self, key: Key, obj: dict, model: ModuleDeployment,
                     template: ModuleTemplateSpec | None) -> str | None:
        """The Service the spec asks for, and no other; a problem (a Service of that name that
        is not ours) is returned for a condition."""
        uid = obj["metadata"]["uid"]
        body = None if template is None or self.ctx.settings.module_services == "disabled" \
            else deployment.service_body(obj, model, template, self.ctx.settings.module_services)
        if body is None:  # none wanted, or refused (restrictions() says so)
            if self._only_service.record(uid, None):
                await self.ctx.kube.delete_owned_services(key[0], key[1], uid)
            return None
        problem = await self.ctx.kube.ensure_service(body, uid)
        if problem:
            return problem
        if self._only_service.record(uid, body["metadata"]["name"]):
            await self.ctx.kube.delete_owned_services(key[0], key[1], uid,
                                                      keep=body["metadata"]["name"])
            decided(KIND, key, "service ensured", "spec.operationStrategy.serviceStrategy",
                    service=body["metadata"]["name"])
        return None

    async def delete(self, key: Key, uid: str) -> None:
        await self.ctx.kube.delete_owned_services(key[0], key[1], uid)
        self._only_service.forget(uid)

    async def restrictions(self, key: Key, model: ModuleDeployment,
                           template: ModuleTemplateSpec | None) -> None:
        """The condition Restricted (and an Event) for what of the spec the operator's switches
        refuse (planning.limits); removed when nothing is."""
        obj = self.ctx.module_deployments.get(*key)
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
        updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1], {
            "conditions": conditions})
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)

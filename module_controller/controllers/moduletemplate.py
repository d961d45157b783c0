"""ModuleTemplate ``status.usedBy``: the ModuleDeployments that reference the template.

Computed from the caches (no LIST), written only when it changes: one status write when a
ModuleDeployment starts or stops referencing the template, none per release step.
"""

from __future__ import annotations

from ..api import constants as c
from ..api.objects import status_of
from ..kube.io import not_found
from ..observability.decisions import decided
from ..planning.templates import template_users
from .caches import deleting
from .context import Context
from .wake import TEMPLATES as QUEUE
from ..runtime.queue import Result
from ..runtime.store import Key



class TemplateUsageReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def reconcile(self, key: Key) -> Result | None:
        template = self.ctx.caches.templates.get(*key)
        if template is None or deleting(template):
            return None
        used = template_users(self.ctx.caches.module_deployments.list(key[0]), key[1])
        status = status_of(template)
        generation = template["metadata"].get("generation")
        if status.get("usedBy") == used and status.get("observedGeneration") == generation:
            return None
        try:
            await self.ctx.writer.patch_status(c.MODULE_TEMPLATE.kind, key[0], key[1], {
                "usedBy": used, "observedGeneration": generation}, skip=QUEUE)
        except Exception as exc:
            if not_found(exc):
                return None  # deleted meanwhile
            raise
        decided(c.MODULE_TEMPLATE.kind, key, "usedBy updated", "ModuleDeployments referencing it "
                "changed", used_by=",".join(used) or None)
        return None

"""What a ModuleDeployment reports about its release: the status (counts, conditions,
``releaseStatus``, computed by :mod:`planning.deployment_status`), the Events that go with it,
and one decision log line per row of the release table taken."""

from __future__ import annotations

from ..api import ModuleDeployment, ModulePhase
from ..api import constants as c
from ..api.objects import phase, status_of
from ..observability.decisions import decided
from ..planning import deployment_status as report
from ..planning import release
from ..planning.release_table import LEADS_ON, Action
from ..runtime.store import Key
from .caches import labels_of
from .context import Context
from .wake import MODULE_DEPLOYMENTS as QUEUE

KIND = c.MODULE_DEPLOYMENT.kind
# Rows that change the release even when nothing is written in the reconcile (logged at INFO).
_MOVES = LEADS_ON | {Action.NEXT_GROUP, Action.PAUSE, Action.FINISH}


class ReleaseReport:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def log(self, key: Key, decision: release.Decision, counts: dict[str, int],
            wrote: bool) -> None:
        """One line per row of the release table taken, and the counts written."""
        for step in decision.steps:
            decided(KIND, key, f"release {step.action.name.lower().replace('_', ' ')}",
                    step.event, changed=wrote or step.action in _MOVES, phase=step.phase,
                    reached=step.reached, revision=decision.state.update_revision,
                    group=f"{decision.state.current_batch}/{decision.state.real_batch_count}")
        if counts:
            decided(KIND, key, "revision replicas set", "the release's group",
                    replicas=",".join(f"{name}={n}" for name, n in sorted(counts.items())))

    async def write_status(self, key: Key, model: ModuleDeployment, decision: release.Decision,
                           observed: release.Observed, before: release.ReleaseState) -> bool:
        obj = self.ctx.caches.module_deployments.get(*key)
        if obj is None:
            return False
        facts = report.Facts(
            available=self.ctx.caches.serving_pod_count(*key),  # pods, not Modules (context.serving_pod)
            failing=self._failing(key, observed, report.failing_revision(decision, before)),
            rollback_on_failure=model.spec.operation_strategy.rollback_on_failure,
            deadline_seconds=model.spec.progress_deadline_seconds,
            generation=obj["metadata"].get("generation"))
        update = report.deployment_status(status_of(obj), decision, observed, before,
                                          facts)
        for event in update.events:
            self.ctx.events.record(obj, *event)
        if update.status is None:
            return False
        await self.ctx.writer.patch_status(KIND, key[0], key[1], update.status, skip=QUEUE)
        return True

    def _failing(self, key: Key, observed: release.Observed, revision: int | None) -> str:
        """The Failed instances of ``revision`` with their base pods, for a message."""
        rev = next((r for r in observed.revisions if r.number == revision), None)
        if rev is None:
            return "no instance"
        return report.failing_message([
            f"{m['metadata']['name']} on {labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME)}"
            for m in self.ctx.caches.instances_of(self.ctx.caches.replicasets.get(key[0], rev.name)
                                           or {"metadata": {"namespace": key[0]}})
            if phase(m) == ModulePhase.FAILED])

"""The ModuleDeployment reconciler: revisions, grouped release, peer mode, offline, Service.

Each reconcile reads (the template, inline or a ModuleTemplate; the revisions and their
instances; the recorded release status), asks planning what to do (the revision to make or
update: :mod:`planning.moduledeployment_rules`; the release's next step: :func:`release_machine.plan`; the
status: :mod:`planning.deployment_status`) and writes only what differs. The release status
lives in ``status.releaseStatus`` so any controller instance resumes it.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from ..api import ModuleDeployment, ModuleTemplate, ReleaseProgress
from ..api import constants as c
from ..api.common import ModuleTemplateSpec
from ..api.objects import now, status_of
from ..api.errors import describe
from ..api.parsed import parsed
from ..kube.events import NORMAL, WARNING
from ..kube.io import not_found
from ..observability.decisions import decided
from ..planning import base_pod_rules, release, release_machine, rollback
from ..planning import moduledeployment_rules as md_rules
from ..planning import deployment_status as report
from ..planning.conditions import get_condition
from ..runtime.queue import Result
from ..runtime.store import Key, Obj
from .adoption import ReadHolds, adopt_release, read_grace
from ..planning.base_pod_rules import not_ready_since, pod_ready, wants_removal
from .caches import FAILED, SERVING, deleting, labels_of
from .context import Context
from .wake import MODULE_DEPLOYMENTS as QUEUE
from .module_service import ModuleServices
from .release_report import ReleaseReport

KIND = c.MODULE_DEPLOYMENT.kind
MRS = c.MODULE_REPLICA_SET.kind


def _number(revision: Obj) -> int:
    return md_rules.revision_number(labels_of(revision), c.LABEL_MODULE_REPLICASET_REVISION)


def _short_of_bases(revision: Obj) -> bool:
    """The ModuleReplicaSet could not place all its replicas (its controller says so)."""
    failure = get_condition(status_of(revision).get("conditions"),
                            c.CONDITION_REPLICA_FAILURE)
    return bool(failure and failure.get("status") == "True"
                and failure.get("reason") == c.REASON_INSUFFICIENT_BASES)


class ModuleDeploymentReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._services = ModuleServices(ctx)
        self._report = ReleaseReport(ctx)
        self._holds = ReadHolds(read_grace(ctx.settings))

    async def reconcile(self, key: Key) -> Result | None:
        obj = self.ctx.caches.module_deployments.get(*key)
        if obj is None:
            self._holds.forget(key)
            return None
        try:
            model = parsed(ModuleDeployment, obj)
        except ValidationError as exc:
            await self._blocked(key, "InvalidSpec", describe(exc))
            return None
        gone = deleting(obj)
        template = self._template(key, model)
        if not gone:
            obj = await self._ensure_metadata(key, obj)
            conflict = self._conflict(key, obj, model, template)
            if conflict:
                await self._blocked(key, c.REASON_MODULE_NAME_CONFLICT, conflict)
                return None
            await self._record_claim(key, obj, template)
            if template is None:
                await self._blocked(key, c.REASON_TEMPLATE_NOT_FOUND, "ModuleTemplate "
                                    f"{model.spec.template_ref.name} not found")  # type: ignore[union-attr]
                return None
            if self.ctx.caches.deployments.get(key[0], model.spec.base_deployment_name) is None:
                # Reported, never guessed (a guessed selector put modules on stray pods). It
                # waits; the Deployment's creation wakes it (watches.deployment_users).
                await self._blocked(key, c.REASON_BASE_NOT_FOUND, (
                    f"spec.baseDeploymentName: Deployment {model.spec.base_deployment_name} not "
                    f"found in namespace {key[0]}; waiting for it"), unavailable=True)
                return None

        revisions = self._revisions(key)
        obj = await adopt_release(self.ctx, key, obj, revisions)  # upstream's v1 release, if any
        hold = self._holds.left(self.ctx, key)
        if hold is not None:
            decided(KIND, key, "wait", "adopted Modules not read from their bases yet",
                    changed=False)
            return Result(requeue_after=hold)
        current = None
        if template is not None and not gone:
            current = await self._ensure_revision(key, obj, model, template, revisions)
            revisions = self._revisions(key)
        before = report.release_state(status_of(obj))
        if current is None and revisions:
            # Offline: the revision the recorded release moves (after an undo or a give-up not
            # the newest one), so status names what the bases run.
            current = next((r for r in revisions if _number(r) == before.update_revision),
                           max(revisions, key=_number))
        if current is None and gone:
            return await self._finish_offline(key, obj)

        observed = self._observe(key, model, revisions, current, gone, before)
        decision = release_machine.plan(observed, before, now())
        if decision.superseded:
            self.ctx.events.record(obj, WARNING, "ReleaseSuperseded",
                                   f"revision {before.update_revision}, group "
                                   f"{before.current_batch} given up ({decision.superseded}): "
                                   "the new spec takes over")
        # Order matters. spec.pause before status: a reader who sees progress Paused must see
        # the pause it asks to lift. Status before the revisions' counts: Modules tell which of
        # two on one pod is the release's target from releaseStatus.updateRevision. But a
        # status that says Completed for the same target comes after the counts it relies on
        # (replicas 4 -> 3 completes at once): nobody may read Completed while a revision still
        # asks for the old count.
        generation = obj["metadata"].get("generation")
        obj, wrote = await self._apply_spec(key, obj, decision)
        if decision.state.aborted_revision is not None and \
                decision.state.aborted_generation == generation != obj["metadata"].get("generation"):
            # Our own spec write (pause, confirmBatchNum) is not the user acting on the give-up.
            decision.state = replace(decision.state,
                                     aborted_generation=obj["metadata"].get("generation"))
        if decision.state.progress is ReleaseProgress.COMPLETED and \
                decision.state.update_revision == before.update_revision:
            counts = await self._apply_replicas(key, decision, revisions)
            wrote = await self._report.write_status(key, model, decision, observed, before) or wrote
        else:
            wrote = await self._report.write_status(key, model, decision, observed, before) or wrote
            counts = await self._apply_replicas(key, decision, revisions)
        self._report.log(key, decision, counts, wrote or bool(counts))
        if decision.rolled_back == rollback.REASON_ABORTED:
            # Only now that the status records the abort: a controller that dies before this
            # finds the annotation again and aborts again, instead of losing the request.
            await self._drop_request(key, c.ANNOTATION_ABORT_REVISION)
        if observed.retry is not None:
            # Acted on or refused, now that the status (and its Event) says which.
            await self._drop_request(key, c.ANNOTATION_RETRY_REVISION)
        if gone and decision.state.progress is ReleaseProgress.TERMINATED and \
                all(r.instances == 0 for r in observed.revisions):
            return await self._finish_offline(key, obj)
        if not gone:
            await self._prune_history(key, model, revisions, current)
            await self._services.restrictions(key, model, template)
            problem = await self._services.ensure(key, obj, model, template)
            if problem:
                await self._blocked(key, c.REASON_SERVICE_CONFLICT, problem)
        # 0.0 is a wake too ("look again now"): only None means no timer.
        wake = [t for t in (decision.requeue_after, self._grace_ends(key, model, gone))
                if t is not None]
        return Result(requeue_after=max(0.0, min(wake))) if wake else None

    def _grace_ends(self, key: Key, model: ModuleDeployment, gone: bool) -> float | None:
        """When a NotReady base's grace ends (peer mode), to count it out then: no pod event
        marks that moment."""
        if gone or not model.spec.is_peer:
            return None
        left = self._peer_bases(key, model)[1]
        return None if left is None else left + 0.5  # past the second the grace ends in

    # ----------------------------------------------------------------- metadata, template

    async def _ensure_metadata(self, key: Key, obj: Obj) -> Obj:
        patch = md_rules.metadata_patch(obj["metadata"],
                                          (obj.get("spec") or {}).get("baseDeploymentName"))
        if patch is None:
            return obj
        return await self.ctx.writer.patch(KIND, key[0], key[1], {"metadata": patch}, skip=QUEUE)

    def _conflict(self, key: Key, obj: Obj, model: ModuleDeployment,
                  template: ModuleTemplateSpec | None) -> str | None:
        """Another ModuleDeployment of the namespace holds this module name (caches.py,
        ``claim_of``)."""
        if template is None:
            return None
        mine = self.ctx.caches.claim_of(obj, template.spec.module.name)
        return md_rules.name_conflict(mine, self.ctx.caches.module_name_claims(key[0]))

    async def _record_claim(self, key: Key, obj: Obj,
                            template: ModuleTemplateSpec | None) -> None:
        """status.moduleNameClaim: the name it holds and since when, once it holds it."""
        if template is None:
            return
        claim = self.ctx.caches.claim_of(obj, template.spec.module.name)
        wanted = {"module": claim.module, "since": claim.created}
        if not claim.held or status_of(obj).get("moduleNameClaim") == wanted:
            return
        await self.ctx.writer.patch_status(KIND, key[0], key[1], {"moduleNameClaim": wanted},
                                           skip=QUEUE)

    def _template(self, key: Key, model: ModuleDeployment) -> ModuleTemplateSpec | None:
        if model.spec.template is not None:
            return model.spec.template
        ref = self.ctx.caches.templates.get(key[0], model.spec.template_ref.name)  # type: ignore[union-attr]
        if ref is None or deleting(ref):
            return None
        try:
            return parsed(ModuleTemplate, ref).template
        except ValidationError:
            return None

    # ----------------------------------------------------------------- revisions

    def _revisions(self, key: Key) -> list[Obj]:
        """Its ModuleReplicaSets, oldest revision first (an index, not a scan)."""
        return sorted(self.ctx.caches.revisions_of(*key),  # owned (uid), not only labelled
                      key=lambda r: (_number(r), r["metadata"]["name"]))

    async def _ensure_revision(self, key: Key, obj: Obj, model: ModuleDeployment,
                               template: ModuleTemplateSpec, revisions: list[Obj]) -> Obj:
        info = template.spec.module
        base = self.ctx.caches.deployments.get(key[0], model.spec.base_deployment_name)
        assert base is not None  # checked by reconcile: a missing base is never guessed
        wanted = md_rules.revision_spec(model, template, base["spec"]["selector"])
        for revision in revisions:
            if not md_rules.same_module(revision, info.name, info.version):
                continue
            # This is the revision (also a rollback to it): its instances on the old base's
            # pods, if the base changed, are taken off and placed again (modulereplicaset.py).
            patch = md_rules.revision_update(revision, wanted, model.spec.base_deployment_name)
            if patch is None:
                return revision
            updated = await self.ctx.writer.patch(MRS, key[0], revision["metadata"]["name"],
                                                  patch, skip=QUEUE)
            decided(KIND, key, "revision updated", "template or strategy changed",
                    revision=revision["metadata"]["name"])
            return updated
        number = max((_number(r) for r in revisions), default=0) + 1
        created = await self.ctx.writer.create(
            MRS, key[0], md_rules.new_revision(obj, model, template, wanted, number), skip=QUEUE)
        message = f"revision {number}: {info.name}:{info.version}"
        self.ctx.events.record(obj, NORMAL, "RevisionCreated", message)
        decided(KIND, key, "revision created", message, revision=created["metadata"]["name"])
        return created

    async def _prune_history(self, key: Key, model: ModuleDeployment, revisions: list[Obj],
                             current: Obj | None) -> None:
        held = [md_rules.HeldRevision(
            name=r["metadata"]["name"], number=_number(r), replicas=r["spec"].get("replicas", 0),
            deleting=deleting(r),
            has_instances=bool(self.ctx.caches.instances_of(r)))
            for r in revisions]
        current_name = current["metadata"]["name"] if current is not None else None
        for name in md_rules.to_prune(held, current_name, model.spec.revision_history_limit):
            await self.ctx.writer.delete(MRS, key[0], name)
            decided(KIND, key, "revision pruned", "beyond revisionHistoryLimit", revision=name)

    # ----------------------------------------------------------------- release: read

    def _observe(self, key: Key, model: ModuleDeployment, revisions: list[Obj],
                 current: Obj | None, gone: bool, before: release.ReleaseState
                 ) -> release.Observed:
        revs = []
        for revision in revisions:
            # Counted as the Modules changed (a store tally), not by a walk over them.
            states = self.ctx.caches.revision_states(revision)  # owned Modules only
            revs.append(release.Revision(
                number=_number(revision), name=revision["metadata"]["name"],
                replicas=int(revision["spec"].get("replicas") or 0),
                instances=sum(states.values()), available=states[SERVING],
                failed=states[FAILED], short_of_bases=_short_of_bases(revision),
                version=md_rules.version_of(revision)))
        desired = 0 if gone else self._desired(key, model)
        update = _number(current) if current else 0
        annotations = model.metadata.annotations or {}
        abort = annotations.get(c.ANNOTATION_ABORT_REVISION)
        return release.Observed(
            desired=desired, update_revision=update, revisions=tuple(revs),
            strategy=md_rules.strategy(model, desired),
            pause=model.spec.pause, confirm_batch_num=model.spec.confirm_batch_num,
            deleting=gone,
            # Peer mode scaling its own revision: a new base gets its module at once.
            skip_confirmation=model.spec.is_peer and before.update_revision == (
                update if current else None) and not gone,
            update_module=md_rules.module_of(current),
            abort=abort is not None and abort == str(before.update_revision),
            retry=annotations.get(c.ANNOTATION_RETRY_REVISION),
            generation=model.metadata.generation)

    def _desired(self, key: Key, model: ModuleDeployment) -> int:
        return self._peer_bases(key, model)[0] if model.spec.is_peer else model.spec.replicas

    def _peer_bases(self, key: Key, model: ModuleDeployment) -> tuple[int, float | None]:
        """Peer mode: the base pods that count (Ready, or NotReady for less than the grace
        while hosting an instance), and the seconds until such a grace ends (None: none)."""
        base = self.ctx.caches.deployments.get(key[0], model.spec.base_deployment_name)
        if base is None:
            return 0, None
        at = now()
        count, recheck = 0, None
        for pod in self.ctx.caches.pods_of(key[0], model.spec.base_deployment_name):
            if self.ctx.caches.deployment_of(pod) is not base or deleting(pod) or wants_removal(pod):
                continue
            hosts = any(self.ctx.caches.instance_of_release(m, key[1])
                        for m in self.ctx.caches.modules_on_pod(key[0], pod["metadata"]["name"]))
            counts, left = base_pod_rules.not_ready_tolerance(
                pod_ready(pod), not_ready_since(pod), hosts, at,
                self.ctx.settings.base_not_ready_grace)
            count += counts
            if left is not None:
                recheck = left if recheck is None else min(recheck, left)
        return count, recheck

    # ----------------------------------------------------------------- release: write

    async def _apply_spec(self, key: Key, obj: Obj, decision: release.Decision
                          ) -> tuple[Obj, bool]:
        spec_patch: Obj = {}
        if decision.set_pause is not None and decision.set_pause != obj["spec"].get("pause", False):
            spec_patch["pause"] = decision.set_pause
        if decision.reset_confirm:
            spec_patch["confirmBatchNum"] = 0
        meta_patch: Obj = {"resourceVersion": obj["metadata"]["resourceVersion"]}
        if c.ANNOTATION_ABORT_REVISION in (obj["metadata"].get("annotations") or {}) and \
                decision.rolled_back != rollback.REASON_ABORTED:
            # Stale (it names no running release) or acted on in an earlier reconcile: gone,
            # so it never aborts a later release of the same revision.
            meta_patch["annotations"] = {c.ANNOTATION_ABORT_REVISION: None}
        if not spec_patch and len(meta_patch) == 1:
            return obj, False
        # resourceVersion: a user's concurrent pause/confirm is never overwritten.
        updated = await self.ctx.writer.patch(KIND, key[0], key[1], {
            "metadata": meta_patch, **({"spec": spec_patch} if spec_patch else {})}, skip=QUEUE)
        if decision.set_pause:
            self.ctx.events.record(updated, NORMAL, "WaitingForConfirmation",
                                   f"group {decision.state.current_batch} done; set "
                                   "spec.pause=false (or confirmBatchNum) to continue")
        return updated, True

    async def _drop_request(self, key: Key, annotation: str) -> None:
        obj = self.ctx.caches.module_deployments.get(*key)
        if obj is None or annotation not in (obj["metadata"].get("annotations") or {}):
            return
        await self.ctx.writer.patch(KIND, key[0], key[1], {"metadata": {
            "annotations": {annotation: None}}}, skip=QUEUE)

    async def _apply_replicas(self, key: Key, decision: release.Decision,
                              revisions: list[Obj]) -> dict[str, int]:
        """Write the decided replica counts that differ; the ones written."""
        by_name = {r["metadata"]["name"]: r for r in revisions}
        written = {}
        for name, replicas in decision.replicas.items():
            revision = by_name.get(name)
            if revision is None or int(revision["spec"].get("replicas") or 0) == replicas:
                continue
            await self.ctx.writer.patch(MRS, key[0], name, {"spec": {"replicas": replicas}},
                                        skip=QUEUE)
            written[name] = replicas
        return written

    async def _blocked(self, key: Key, reason: str, message: str,
                       unavailable: bool = False) -> None:
        """Nothing can be released: ReplicaFailure (and an Event) says why."""
        obj = self.ctx.caches.module_deployments.get(*key)
        if obj is None:
            return
        current = status_of(obj)
        conditions = report.blocked(current.get("conditions"), reason, message, unavailable)
        changed = conditions != current.get("conditions")
        decided(KIND, key, "blocked", reason, changed=changed, message=message)
        if not changed:
            return
        self.ctx.events.record(obj, WARNING, reason, message)
        await self.ctx.writer.patch_status(KIND, key[0], key[1], {
            "conditions": conditions, "observedGeneration": obj["metadata"].get("generation")},
            skip=QUEUE)

    # ----------------------------------------------------------------- offline, service

    async def _finish_offline(self, key: Key, obj: Obj) -> Result | None:
        """All instances are gone: delete the revisions and the Service, then let go."""
        revisions = self._revisions(key)
        for revision in revisions:
            if not deleting(revision):
                await self.ctx.writer.delete(MRS, key[0], revision["metadata"]["name"])
        if revisions:
            decided(KIND, key, "offline: revisions deleted", "every instance is gone",
                    changed=any(not deleting(r) for r in revisions))
            return None  # their deletion events bring us back
        await self._services.delete(key, obj["metadata"]["uid"])
        finalizers = md_rules.finalizers_left(obj["metadata"])
        if finalizers is not None:
            try:
                await self.ctx.writer.patch(KIND, key[0], key[1], {"metadata": {
                    "resourceVersion": obj["metadata"]["resourceVersion"],
                    "finalizers": finalizers}}, skip=QUEUE)
            except Exception as exc:
                if not_found(exc):
                    return None  # an earlier reconcile let go already: it is gone
                raise
            decided(KIND, key, "offline: finalizers removed", "revisions and Service gone")
        return None

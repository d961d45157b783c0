"""The ModuleDeployment reconciler: revisions, grouped release, peer mode, offline, Service.

Each reconcile: resolve the template (inline or ModuleTemplate), make sure the revision for the
template's module name+version exists (rollback reuses an old one), observe the revisions, ask
:func:`planning.release_machine.plan` what the replica counts and release status should be, and write
only what differs. The release status lives in ``status.releaseStatus`` so any controller
instance resumes it.
"""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import ValidationError

from ..api import ModuleDeployment, ModulePhase, ModuleTemplate, ReleaseProgress, UpgradePolicy
from ..api import constants as c
from ..kube.events import NORMAL, WARNING
from ..planning import bases, limits, release, release_machine, rollback
from ..planning.conditions import get_condition, set_condition
from ..planning.module_lifecycle import serving
from .context import Context, deleting, labels_of, not_ready_since, pod_ready, wants_removal
from ..runtime.memo import Memo
from .release_report import give_up_conditions
from ..runtime.queue import Result
from ..runtime.store import Key, key_of

log = logging.getLogger(__name__)
PLURAL = c.MODULE_DEPLOYMENT.plural
MRS = c.MODULE_REPLICA_SET.plural
FINALIZERS = (c.FINALIZER_MODULE_REPLICASET_EXISTED, c.FINALIZER_MODULE_EXISTED)


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _fmt(value: dt.datetime | None, ceil: bool = False) -> str | None:
    """RFC 3339 in whole seconds, as Kubernetes writes times. ``ceil`` rounds up, for a time
    that must not come early (the end of the gray time)."""
    if value is None:
        return None
    if ceil and value.microsecond:
        value = value.replace(microsecond=0) + dt.timedelta(seconds=1)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _base_owner_reference(ref: dict) -> bool:
    """The owner reference to the base Deployment that earlier versions added (non-controller,
    apps/v1 Deployment)."""
    return (ref.get("apiVersion") == "apps/v1" and ref.get("kind") == "Deployment"
            and not ref.get("controller"))


def _revision_number(mrs: dict) -> int:
    try:
        return int(labels_of(mrs).get(c.LABEL_MODULE_REPLICASET_REVISION) or 0)
    except ValueError:
        return 0


def _short_of_bases(mrs: dict) -> bool:
    """The ModuleReplicaSet could not place all its replicas (its controller says so)."""
    failure = get_condition((mrs.get("status") or {}).get("conditions"),
                            c.CONDITION_REPLICA_FAILURE)
    return bool(failure and failure.get("status") == "True"
                and failure.get("reason") == c.REASON_INSUFFICIENT_BASES)


class DeploymentReconciler:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        # uid -> the one Service (its name, or None for none) this process last made sure the
        # ModuleDeployment owns, having deleted every other: the next reconcile does not LIST
        # services again (it did on every reconcile, a request per step of every release). A
        # renamed module (spec.template.spec.module.name), or a Service no longer wanted, is
        # news: one LIST and delete then (and once per start).
        self._only_service = Memo()

    async def reconcile(self, key: Key) -> Result | None:
        obj = self.ctx.module_deployments.get(*key)
        if obj is None:
            return None
        try:
            md = ModuleDeployment.from_api(obj)
        except ValidationError as exc:
            await self._conditions(key, failure=("InvalidSpec", str(exc).splitlines()[0]))
            return None
        gone = deleting(obj)
        if not gone:
            obj = await self._ensure_metadata(key, obj, md)
            conflict = self._conflict(key, obj, md)
            if conflict:
                await self._conditions(key, failure=(c.REASON_MODULE_NAME_CONFLICT, conflict))
                return None
        template = self._template(key, md)
        if template is None and not gone:
            await self._conditions(key, failure=(
                c.REASON_TEMPLATE_NOT_FOUND,
                f"ModuleTemplate {md.spec.template_ref.name} not found"))  # type: ignore[union-attr]
            return None
        if not gone and self.ctx.deployments.get(key[0], md.spec.base_deployment_name) is None:
            # Reported, never guessed (a guessed selector put modules on stray pods). The
            # ModuleDeployment waits; the Deployment's creation wakes it (watches.deployment_users).
            await self._conditions(key, failure=(
                c.REASON_BASE_NOT_FOUND,
                f"spec.baseDeploymentName: Deployment {md.spec.base_deployment_name} not found "
                f"in namespace {key[0]}; waiting for it"), unavailable=True)
            return None

        revisions = self._revisions(key)
        current = None
        if template is not None and not gone:
            current = await self._ensure_revision(key, obj, md, template, revisions)
            revisions = self._revisions(key)
        elif revisions:
            current = max(revisions, key=_revision_number)
        if current is None and gone:
            return await self._finish_offline(key, obj)

        observed = self._observe(key, md, revisions, current, gone)
        state = self._release_state(obj)
        now = dt.datetime.now(dt.timezone.utc)
        decision = release_machine.plan(observed, state, now)
        if decision.superseded:
            self.ctx.events.record(obj, WARNING, "ReleaseSuperseded",
                                   f"revision {state.update_revision}, group {state.current_batch}"
                                   f" given up ({decision.superseded}): the new spec takes over")
        # Order matters. spec.pause before status: a reader who sees progress Paused must see
        # the pause it asks to lift. Status before the revisions' counts: Modules tell which of
        # two on one pod is the release's target from releaseStatus.updateRevision. But a
        # status that says Completed for the same target comes after the counts it relies on
        # (replicas 4 -> 3 completes at once): nobody may read Completed while a revision still
        # asks for the old count.
        obj = await self._apply_spec(key, obj, decision)
        if decision.state.progress is ReleaseProgress.COMPLETED and \
                decision.state.update_revision == state.update_revision:
            await self._apply_replicas(key, decision, revisions)
            await self._write_status(key, md, decision, observed, state)
        else:
            await self._write_status(key, md, decision, observed, state)
            await self._apply_replicas(key, decision, revisions)
        if decision.rolled_back == rollback.REASON_ABORTED:
            # Only now that the status records the abort: a controller that dies before this
            # finds the annotation again and aborts again, instead of losing the request.
            await self._drop_abort_request(key)
        if gone and decision.state.progress is ReleaseProgress.TERMINATED and \
                all(r.instances == 0 for r in observed.revisions):
            return await self._finish_offline(key, obj)
        if not gone:
            await self._prune_history(key, md, revisions, current)
            await self._restrictions(key, md, template)
            await self._service(key, obj, md, template)
        wake = [t for t in (decision.requeue_after, self._grace_ends(key, md, gone)) if t]
        return Result(requeue_after=min(wake)) if wake else None

    def _grace_ends(self, key: Key, md: ModuleDeployment, gone: bool) -> float | None:
        """When a NotReady base's grace ends (peer mode), to count it out then: no pod event
        marks that moment."""
        if gone or not md.spec.is_peer:
            return None
        left = self._peer_bases(key, md)[1]
        return None if left is None else left + 0.5  # past the second the grace ends in

    # ----------------------------------------------------------------- metadata, template

    async def _ensure_metadata(self, key: Key, obj: dict, md: ModuleDeployment) -> dict:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        missing = [f for f in FINALIZERS if f not in finalizers]
        patch: dict = {}
        if missing:
            patch["finalizers"] = finalizers + missing
        refs = meta.get("ownerReferences") or []
        kept = [r for r in refs if not _base_owner_reference(r)]
        if kept != refs:
            # Earlier versions made the base Deployment an owner, so deleting the Deployment
            # deleted the user's ModuleDeployment. It outlives its base now (BaseNotFound).
            patch["ownerReferences"] = kept
        if not patch:
            return obj
        patch["resourceVersion"] = meta["resourceVersion"]
        obj = await self.ctx.kube.patch(PLURAL, key[0], key[1], {"metadata": patch})
        self.ctx.remember_own(self.ctx.module_deployments, obj,
                              self.ctx.wake.module_deployment)
        return obj

    def _conflict(self, key: Key, obj: dict, md: ModuleDeployment) -> str | None:
        """Another ModuleDeployment owns this module name on this base Deployment (behaviour §2.8):
        the older one wins (creation time, then name)."""
        template = self._template(key, md)
        if template is None:
            return None
        mine = (obj["metadata"].get("creationTimestamp") or "", key[1])
        for other in self.ctx.module_deployments.list(key[0]):
            if other["metadata"]["name"] == key[1]:
                continue  # an older one that is going offline still holds the name until gone
            try:
                theirs_md = ModuleDeployment.from_api(other)
            except ValidationError:
                continue
            their_template = self._template(key, theirs_md)
            if (their_template is not None
                    and theirs_md.spec.base_deployment_name == md.spec.base_deployment_name
                    and their_template.spec.module.name == template.spec.module.name
                    and (other["metadata"].get("creationTimestamp") or "", other["metadata"]["name"])
                    < mine):
                return (f"module {template.spec.module.name} on {md.spec.base_deployment_name} "
                        f"already belongs to ModuleDeployment {other['metadata']['name']}")
        return None

    def _template(self, key: Key, md: ModuleDeployment):
        if md.spec.template is not None:
            return md.spec.template
        ref = self.ctx.templates.get(key[0], md.spec.template_ref.name)  # type: ignore[union-attr]
        if ref is None or deleting(ref):
            return None
        try:
            return ModuleTemplate.from_api(ref).template
        except ValidationError:
            return None

    # ----------------------------------------------------------------- revisions

    def _revisions(self, key: Key) -> list[dict]:
        return [m for m in self.ctx.replicasets.list(key[0])
                if labels_of(m).get(c.LABEL_MODULE_DEPLOYMENT) == key[1]]

    async def _ensure_revision(self, key: Key, obj: dict, md: ModuleDeployment, template,
                               revisions: list[dict]) -> dict:
        info = template.spec.module
        base = self.ctx.deployments.get(key[0], md.spec.base_deployment_name)
        assert base is not None  # checked by reconcile: a missing base is never guessed
        selector = base["spec"]["selector"]
        wanted_spec = {
            "selector": selector,
            "template": template.model_dump(by_alias=True, exclude_none=True),
            "operationStrategy": md.spec.operation_strategy.model_dump(by_alias=True, exclude_none=True),
            "schedulingStrategy": md.spec.scheduling_strategy.model_dump(by_alias=True, exclude_none=True),
            "minReadySeconds": md.spec.min_ready_seconds,
        }
        for mrs in revisions:
            module = mrs["spec"]["template"]["spec"]["module"]
            if (module["name"], module["version"]) != (info.name, info.version):
                continue
            # Same name+version: this is the revision (also a rollback to it). Keep its template
            # (url, metadata) and strategies current without touching the replica count.
            current = {k: mrs["spec"].get(k) for k in wanted_spec}
            # The base Deployment it places on follows spec.baseDeploymentName: its instances
            # on the old base's pods are taken off and placed again (modulereplicaset.py).
            named = labels_of(mrs).get(c.LABEL_DEPLOYMENT_NAME)
            if current != wanted_spec or named != md.spec.base_deployment_name:
                updated = await self.ctx.kube.patch(MRS, key[0], mrs["metadata"]["name"], {
                    "metadata": {"labels": {
                        c.LABEL_DEPLOYMENT_NAME: md.spec.base_deployment_name}},
                    "spec": wanted_spec})
                self._written(updated)
                return updated
            return mrs
        number = max((_revision_number(m) for m in revisions), default=0) + 1
        labels = {
            c.LABEL_MODULE_DEPLOYMENT: key[1],
            c.LABEL_MODULE_NAME: info.name,
            c.LABEL_MODULE_REPLICASET_REVISION: str(number),
            c.LABEL_DEPLOYMENT_NAME: md.spec.base_deployment_name,
            c.LABEL_MODULE_SCHEDULING_STRATEGY: md.spec.scheduling_strategy.policy.value,
        }
        body = {
            "apiVersion": c.API_VERSION, "kind": c.MODULE_REPLICA_SET.kind,
            "metadata": {
                "name": c.replicaset_name(key[1], number), "namespace": key[0], "labels": labels,
                "ownerReferences": [{
                    "apiVersion": c.API_VERSION, "kind": c.MODULE_DEPLOYMENT.kind, "name": key[1],
                    "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**wanted_spec, "replicas": 0},
        }
        created = await self.ctx.kube.create(MRS, key[0], body)
        self._written(created)
        self.ctx.events.record(obj, NORMAL, "RevisionCreated",
                               f"revision {number}: {info.name}:{info.version}")
        return created

    def _written(self, mrs: dict) -> None:
        self.ctx.replicasets.upsert(mrs)
        self.ctx.wake.replicaset(key_of(mrs))

    async def _prune_history(self, key: Key, md: ModuleDeployment, revisions: list[dict],
                             current: dict | None) -> None:
        old = sorted((m for m in revisions if m is not current and not deleting(m)
                      and m["spec"].get("replicas", 0) == 0
                      and not self._instances(key, m)), key=_revision_number)
        for mrs in old[: max(0, len(old) - md.spec.revision_history_limit)]:
            await self.ctx.kube.delete(MRS, key[0], mrs["metadata"]["name"])

    def _instances(self, key: Key, mrs: dict) -> list[dict]:
        return self.ctx.modules.by_label(key[0], c.LABEL_MODULE_REPLICASET, mrs["metadata"]["name"])

    # ----------------------------------------------------------------- release

    def _observe(self, key: Key, md: ModuleDeployment, revisions: list[dict], current: dict | None,
                 gone: bool) -> release.Observed:
        revs = []
        for mrs in revisions:
            instances = self._instances(key, mrs)
            revs.append(release.Revision(
                number=_revision_number(mrs), name=mrs["metadata"]["name"],
                replicas=int(mrs["spec"].get("replicas") or 0), instances=len(instances),
                available=sum(1 for m in instances if not deleting(m) and serving(m)),
                failed=sum(1 for m in instances if not deleting(m)
                           and (m.get("status") or {}).get("status") == ModulePhase.FAILED),
                short_of_bases=_short_of_bases(mrs)))
        desired = 0 if gone else self._desired(key, md)
        ops = md.spec.operation_strategy
        strategy = release.Strategy(
            batch_count=ops.batch_count, use_beta=ops.use_beta, need_confirm=ops.need_confirm,
            gray_seconds=ops.gray_time_between_batch_seconds,
            max_unavailable=ops.max_unavailable_count(max(desired, 0)), policy=ops.policy,
            deadline_seconds=md.spec.progress_deadline_seconds,
            rollback_on_failure=ops.rollback_on_failure)
        previous = self._release_state(self.ctx.module_deployments.get(*key) or {})
        peer_scale = md.spec.is_peer and previous.update_revision == (
            _revision_number(current) if current else None)
        module = (current or {}).get("spec", {}).get("template", {}).get("spec", {}).get("module") \
            or {}
        abort = (md.metadata.annotations or {}).get(c.ANNOTATION_ABORT_REVISION)
        return release.Observed(
            desired=desired, update_revision=_revision_number(current) if current else 0,
            revisions=tuple(revs), strategy=strategy, pause=md.spec.pause,
            confirm_batch_num=md.spec.confirm_batch_num, deleting=gone,
            skip_confirmation=peer_scale and not gone,
            update_module=f"{module.get('name')}:{module.get('version')}@{module.get('url')}",
            abort=abort is not None and abort == str(previous.update_revision))

    def _desired(self, key: Key, md: ModuleDeployment) -> int:
        if not md.spec.is_peer:
            return md.spec.replicas
        return self._peer_bases(key, md)[0]

    def _peer_bases(self, key: Key, md: ModuleDeployment) -> tuple[int, float | None]:
        """Peer mode: the base pods that count (Ready, or NotReady for less than the grace
        while hosting an instance), and the seconds until such a grace ends (None: none)."""
        base = self.ctx.deployments.get(key[0], md.spec.base_deployment_name)
        if base is None:
            return 0, None
        now = dt.datetime.now(dt.timezone.utc)
        count, recheck = 0, None
        for pod in self.ctx.pods.list(key[0]):
            if self.ctx.deployment_of(pod) is not base or deleting(pod) or wants_removal(pod):
                continue
            hosts = any(labels_of(m).get(c.LABEL_MODULE_DEPLOYMENT) == key[1]
                        for m in self.ctx.modules_on_pod(key[0], pod["metadata"]["name"]))
            counts, left = bases.not_ready_tolerance(
                pod_ready(pod), not_ready_since(pod), hosts, now,
                self.ctx.settings.base_not_ready_grace)
            count += counts
            if left is not None:
                recheck = left if recheck is None else min(recheck, left)
        return count, recheck

    @staticmethod
    def _release_state(obj: dict) -> release.ReleaseState:
        status = obj.get("status") or {}
        rs = status.get("releaseStatus") or {}
        progress = rs.get("progress")
        return release.ReleaseState(
            update_revision=rs.get("updateRevision"),
            current_batch=rs.get("currentBatch") or 0,
            real_batch_count=rs.get("realBatchCount") or 0,
            original_delta=rs.get("originalDeltaReplicas") or 0,
            progress=ReleaseProgress(progress) if progress else None,
            desired=status.get("desiredReplicas"),
            last_transition=_parse_time(rs.get("lastTransitionTime")),
            next_reconcile=_parse_time(rs.get("nextReconcileTime")),
            stable_revision=rs.get("stableRevision"),
            aborted_revision=rs.get("abortedRevision"),
            aborted_module=rs.get("abortedModule"),
        )

    async def _apply_spec(self, key: Key, obj: dict, decision: release.Decision) -> dict:
        spec_patch: dict = {}
        if decision.set_pause is not None and decision.set_pause != obj["spec"].get("pause", False):
            spec_patch["pause"] = decision.set_pause
        if decision.reset_confirm:
            spec_patch["confirmBatchNum"] = 0
        meta_patch: dict = {"resourceVersion": obj["metadata"]["resourceVersion"]}
        if c.ANNOTATION_ABORT_REVISION in (obj["metadata"].get("annotations") or {}) and \
                decision.rolled_back != rollback.REASON_ABORTED:
            # Stale (it names no running release) or acted on in an earlier reconcile: gone,
            # so it never aborts a later release of the same revision.
            meta_patch["annotations"] = {c.ANNOTATION_ABORT_REVISION: None}
        if not spec_patch and len(meta_patch) == 1:
            return obj
        # resourceVersion: a user's concurrent pause/confirm is never overwritten.
        updated = await self.ctx.kube.patch(PLURAL, key[0], key[1], {
            "metadata": meta_patch, **({"spec": spec_patch} if spec_patch else {})})
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)
        if decision.set_pause:
            self.ctx.events.record(updated, NORMAL, "WaitingForConfirmation",
                                   f"group {decision.state.current_batch} done; set "
                                   "spec.pause=false (or confirmBatchNum) to continue")
        return updated

    async def _drop_abort_request(self, key: Key) -> None:
        obj = self.ctx.module_deployments.get(*key)
        if obj is None or c.ANNOTATION_ABORT_REVISION not in (
                obj["metadata"].get("annotations") or {}):
            return
        updated = await self.ctx.kube.patch(PLURAL, key[0], key[1], {"metadata": {
            "annotations": {c.ANNOTATION_ABORT_REVISION: None}}})
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)

    async def _apply_replicas(self, key: Key, decision: release.Decision,
                              revisions: list[dict]) -> None:
        by_name = {m["metadata"]["name"]: m for m in revisions}
        for name, replicas in decision.replicas.items():
            mrs = by_name.get(name)
            if mrs is None or int(mrs["spec"].get("replicas") or 0) == replicas:
                continue
            updated = await self.ctx.kube.patch(MRS, key[0], name, {"spec": {"replicas": replicas}})
            self._written(updated)

    # ----------------------------------------------------------------- status

    async def _write_status(self, key: Key, md: ModuleDeployment, decision: release.Decision,
                            observed: release.Observed, before: release.ReleaseState) -> None:
        obj = self.ctx.module_deployments.get(*key)
        if obj is None:
            return
        st = decision.state
        revs = observed.revisions
        update = next((r for r in revs if r.number == st.update_revision), None)
        # Instances that serve: during an in-place upgrade the old and the new revision's Modules
        # overlap on one pod for a moment, which is one instance, not two.
        available = len({labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME)
                         for m in self.ctx.modules.by_label(key[0], c.LABEL_MODULE_DEPLOYMENT, key[1])
                         if not deleting(m) and serving(m)})
        desired = observed.desired
        current = obj.get("status") or {}
        conditions = current.get("conditions")
        min_available = max(0, desired - observed.strategy.max_unavailable)
        conditions = set_condition(
            conditions, c.CONDITION_AVAILABLE, available >= min_available or
            st.progress is ReleaseProgress.COMPLETED and available >= desired,
            "MinimumReplicasAvailable" if available >= min_available else "MinimumReplicasUnavailable",
            f"{available} of {desired} instances Available")
        failing = self._failing(key, observed, st.update_revision if decision.failed else
                                before.update_revision if decision.rolled_back else None)
        if decision.failed:
            why = ("nothing to roll back to" if md.spec.operation_strategy.rollback_on_failure
                   else "rollbackOnFailure is off")
            progressing = (False, c.REASON_PROGRESS_DEADLINE_EXCEEDED,
                           f"release of revision {st.update_revision} failed: group "
                           f"{st.current_batch} did not complete within "
                           f"{md.spec.progress_deadline_seconds}s and {failing} failed; "
                           f"stopped here ({why})")
        elif decision.deadline_exceeded:
            progressing = (False, c.REASON_PROGRESS_DEADLINE_EXCEEDED,
                           f"group {st.current_batch} did not complete within "
                           f"{md.spec.progress_deadline_seconds}s; still trying")
        elif st.progress is ReleaseProgress.COMPLETED:
            progressing = (True, "ReleaseCompleted", "release completed")
        else:
            progressing = (True, "ReleaseProgressing",
                           f"group {st.current_batch}/{st.real_batch_count}: {st.progress}")
        conditions = set_condition(conditions, c.CONDITION_PROGRESSING, *progressing)
        conditions, give_up_event = give_up_conditions(conditions, decision, before, failing)
        conditions = [x for x in conditions if not (
            x["type"] == c.CONDITION_REPLICA_FAILURE and x.get("reason") in (
                c.REASON_MODULE_NAME_CONFLICT, c.REASON_TEMPLATE_NOT_FOUND, "InvalidSpec",
                c.REASON_BASE_NOT_FOUND))]
        status = {
            "observedGeneration": obj["metadata"].get("generation"),
            "replicas": sum(r.instances for r in revs),
            "desiredReplicas": desired if st.desired is None else st.desired,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(0, desired - available),
            "updatedReplicas": update.instances if update else 0,
            "updatedAvailableReplicas": update.available if update else 0,
            "conditions": conditions,
            "releaseStatus": {k: v for k, v in {
                "updateRevision": st.update_revision,
                "currentBatch": st.current_batch,
                "realBatchCount": st.real_batch_count,
                "originalDeltaReplicas": st.original_delta,
                "progress": st.progress.value if st.progress else None,
                "batchProgress": f"{st.current_batch}/{st.real_batch_count}",
                "lastTransitionTime": _fmt(st.last_transition),
                "nextReconcileTime": _fmt(st.next_reconcile, ceil=True),
                "stableRevision": st.stable_revision,
                "abortedRevision": st.aborted_revision,
                "abortedModule": st.aborted_module,
            }.items() if v is not None},
        }
        if give_up_event is not None:
            self.ctx.events.record(obj, WARNING, *give_up_event)
        if decision.abort_refused:
            self.ctx.events.record(obj, WARNING, "AbortRefused", decision.abort_refused)
        if all(current.get(k) == v for k, v in status.items()):
            return
        if (current.get("releaseStatus") or {}).get("progress") != status["releaseStatus"].get("progress"):
            self.ctx.events.record(obj, NORMAL, f"Release{st.progress.value if st.progress else ''}",
                                   f"group {st.current_batch}/{st.real_batch_count}, "
                                   f"{available}/{desired} Available")
        was = get_condition(current.get("conditions"), c.CONDITION_PROGRESSING) or {}
        # Once when the deadline passes, and once more if the release is found failed later.
        if decision.deadline_exceeded and (was.get("status") != "False" or (
                decision.failed and not (was.get("message") or "").startswith("release of"))):
            self.ctx.events.record(obj, WARNING, c.REASON_PROGRESS_DEADLINE_EXCEEDED, progressing[2])
        updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1], status)
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)

    def _failing(self, key: Key, observed: release.Observed, revision: int | None) -> str:
        """The Failed instances of ``revision`` with their base pods, for a message."""
        rev = next((r for r in observed.revisions if r.number == revision), None)
        if rev is None:
            return "no instance"
        names = sorted(f"{m['metadata']['name']} on {labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME)}"
                       for m in self.ctx.modules.by_label(key[0], c.LABEL_MODULE_REPLICASET,
                                                          rev.name)
                       if (m.get("status") or {}).get("status") == ModulePhase.FAILED)
        return f"{len(names)} instance(s) ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"

    async def _conditions(self, key: Key, failure: tuple[str, str],
                          unavailable: bool = False) -> None:
        """ReplicaFailure with ``failure`` (reason, message); ``unavailable``: Available is
        False for the same reason (the counts in status are not recomputed meanwhile)."""
        obj = self.ctx.module_deployments.get(*key)
        if obj is None:
            return
        current = obj.get("status") or {}
        conditions = set_condition(current.get("conditions"), c.CONDITION_REPLICA_FAILURE, True,
                                   *failure)
        if unavailable:
            conditions = set_condition(conditions, c.CONDITION_AVAILABLE, False, *failure)
        if conditions == current.get("conditions"):
            return
        self.ctx.events.record(obj, WARNING, failure[0], failure[1])
        updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1], {
            "conditions": conditions, "observedGeneration": obj["metadata"].get("generation")})
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)

    # ----------------------------------------------------------------- offline, service

    async def _finish_offline(self, key: Key, obj: dict) -> Result | None:
        """All instances are gone: delete the revisions and the Service, then let go."""
        revisions = self._revisions(key)
        for mrs in revisions:
            if not deleting(mrs):
                await self.ctx.kube.delete(MRS, key[0], mrs["metadata"]["name"])
        if revisions:
            return None  # their deletion events bring us back
        await self.ctx.kube.delete_owned_services(key[0], key[1], obj["metadata"]["uid"])
        self._only_service.forget(obj["metadata"]["uid"])
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f not in FINALIZERS]
        if finalizers != (obj["metadata"].get("finalizers") or []):
            updated = await self.ctx.kube.patch(PLURAL, key[0], key[1], {"metadata": {
                "resourceVersion": obj["metadata"]["resourceVersion"], "finalizers": finalizers}})
            self.ctx.remember_own(self.ctx.module_deployments, updated,
                                  self.ctx.wake.module_deployment)
        return None

    async def _restrictions(self, key: Key, md: ModuleDeployment, template) -> None:
        """The condition Restricted (and an Event) for what of the spec the operator's switches
        refuse (planning.limits); removed when nothing is."""
        obj = self.ctx.module_deployments.get(*key)
        if obj is None:
            return
        ops = md.spec.operation_strategy
        found = limits.refusals(
            wants_service=bool(ops.service_strategy and ops.service_strategy.enable_module_service
                               and template is not None),
            replaces_bases=ops.policy is UpgradePolicy.SCALEUP_THEN_SCALEDOWN,
            module_services=self.ctx.settings.module_services,
            pod_deletion=self.ctx.settings.pod_deletion)
        current = (obj.get("status") or {}).get("conditions") or []
        conditions = limits.restricted(current, found)
        if conditions == current:
            return
        if found:
            self.ctx.events.record(obj, WARNING, found[0].reason if len(found) == 1
                                   else limits.REASON_SEVERAL, "; ".join(r.message for r in found))
        updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1], {
            "conditions": conditions})
        self.ctx.remember_own(self.ctx.module_deployments, updated,
                              self.ctx.wake.module_deployment)

    async def _service(self, key: Key, obj: dict, md: ModuleDeployment, template) -> None:
        strategy = md.spec.operation_strategy.service_strategy
        uid = obj["metadata"]["uid"]
        if strategy is None or not strategy.enable_module_service or template is None or \
                self.ctx.settings.module_services == "disabled":  # refused: _restrictions
            if self._only_service.record(uid, None):
                await self.ctx.kube.delete_owned_services(key[0], key[1], uid)
            return
        name = template.spec.module.name
        target = strategy.target_port if strategy.target_port is not None else strategy.port
        body = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": c.module_service_name(name), "namespace": key[0],
                         "labels": {c.LABEL_MODULE_DEPLOYMENT: key[1], c.LABEL_MODULE_NAME: name},
                         "ownerReferences": [{
                             "apiVersion": c.API_VERSION, "kind": c.MODULE_DEPLOYMENT.kind,
                             "name": key[1], "uid": obj["metadata"]["uid"], "controller": True,
                             "blockOwnerDeletion": True}]},
            "spec": {"type": limits.SERVICE_TYPES[self.ctx.settings.module_services],
                     "selector": {c.module_label_key(name): c.LABEL_TRUE},
                     "ports": [{"name": "http", "protocol": "TCP", "port": strategy.port,
                                "targetPort": target}]},
        }
        problem = await self.ctx.kube.ensure_service(body, obj["metadata"]["uid"])
        if problem:
            await self._conditions(key, failure=("ServiceConflict", problem))
        elif self._only_service.record(uid, body["metadata"]["name"]):
            await self.ctx.kube.delete_owned_services(key[0], key[1], uid,
                                                      keep=body["metadata"]["name"])

"""Wiring: kopf watches the cluster, our caches and work queues do the rest.

kopf gives us watching (listing, re-watching, 410 recovery), the operator lifecycle and, later,
peering. Its own per-handler state (progress annotations, diff-base annotations) is not used:
every handler here is a ``kopf.on.event`` handler, which stores nothing in the cluster, so the
API write budget stays ours. Reconcilers are level-triggered and keyed, like kubebuilder's.
"""

from __future__ import annotations

import asyncio
import logging

import kopf

from ..api import constants as c
from ..arklet import ArkletClient
from ..kube.client import make_api_client
from ..kube.events import EventRecorder
from ..kube.io import KubeIO
from ..settings import Settings
from ..observability import Metrics, Readiness, start_probe_server
from ..planning.templates import template_refs
from ..runtime import leader
from .bases import BaseDeploymentReconciler, BasePodReconciler
from .drift import DriftChecker
from .context import Context, deleting, labels_of, pod_ip, pod_ready, wants_removal
from .module import ModuleReconciler
from .moduledeployment import DeploymentReconciler
from .modulereplicaset import ReplicaSetReconciler, owner_replicaset
from .moduletemplate import TemplateUsageReconciler
from ..runtime.queue import WorkQueue
from ..runtime.resync import Kind as ResyncKind, Resync
from ..runtime.store import Key, key_of

log = logging.getLogger(__name__)

# Fields whose change means a Module needs another look; status-only changes are our own writes.
_MODULE_TRIGGERS = ("generation", "labels", "annotations", "finalizers", "deletionTimestamp",
                    "ownerReferences")


def _conflict(exc: BaseException) -> bool:
    """409: somebody changed the object since we read it; the retry reads it again."""
    return getattr(exc, "status", None) == 409


def _meta_changed(old: dict, new: dict, fields: tuple[str, ...]) -> bool:
    return any(old["metadata"].get(f) != new["metadata"].get(f) for f in fields)


def _same_version(old: dict | None, new: dict) -> bool:
    return old is not None and old["metadata"].get("uid") == new["metadata"].get("uid") \
        and old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion")


def _pod_signature(pod: dict) -> tuple:
    """What of a pod matters to placement and to its Modules. The labels we write ourselves
    (Service label, instance count) are left out: otherwise every Module that becomes Available
    would wake every reconciler of its namespace."""
    labels = tuple(sorted((k, v) for k, v in labels_of(pod).items()
                          if not k.startswith(c.MODULE_LABEL_PREFIX)
                          and k != c.LABEL_MODULE_INSTANCE_COUNT))
    return pod_ready(pod), pod_ip(pod), deleting(pod), labels


class Operator:
    def __init__(self, settings: Settings, kubeconfig: str | None = None):
        self.settings = settings
        self.kubeconfig = kubeconfig
        self.ctx: Context | None = None
        self.modules: WorkQueue[Key] | None = None
        self.replicasets: WorkQueue[Key] | None = None
        self.basepods: WorkQueue[Key] | None = None
        self.base_deployments: WorkQueue[Key] | None = None
        self.module_deployments: WorkQueue[Key] | None = None
        self.templates: WorkQueue[Key] | None = None
        self.metrics = Metrics()
        self.readiness = Readiness(leader_election=settings.leader_election)
        self.stop_flag = asyncio.Event()
        self.lost_lease = False
        self._tasks: list[asyncio.Task] = []
        self.registry = self._registry()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        api = await make_api_client(self.kubeconfig)
        self.api = api
        self.ctx = Context(settings=self.settings, kube=KubeIO(api),
                           arklet=ArkletClient(self.settings.arklet, on_call=self.metrics.arklet_call),
                           events=EventRecorder(api))
        self.ctx.events.start()
        self.resync = self._resync(self.ctx)
        self.ctx.module_gone = lambda obj: self.module_event("DELETED", obj)
        self.metrics.set_phase_provider(self._phases)
        self.metrics.set_progress_provider(self._progresses)
        await self._prime_caches()
        module_reconciler = ModuleReconciler(self.ctx, failures=lambda key: self.modules.failures(key))
        self.modules = self._queue("Module", module_reconciler.reconcile,
                                   self.settings.module_workers)
        self.replicasets = self._queue("ModuleReplicaSet", ReplicaSetReconciler(self.ctx).reconcile, 4)
        self.basepods = self._queue("BasePod", BasePodReconciler(self.ctx).reconcile, 2)
        self.base_deployments = self._queue("BaseDeployment",
                                            BaseDeploymentReconciler(self.ctx).reconcile, 2)
        self.module_deployments = self._queue("ModuleDeployment",
                                              DeploymentReconciler(self.ctx).reconcile, 4)
        self.templates = self._queue("ModuleTemplate", TemplateUsageReconciler(self.ctx).reconcile, 1)
        self.ctx.module_changed = self._module_changed
        self.ctx.replicaset_written = self.replicasets.add
        self.ctx.module_deployment_written = self.module_deployments.add
        self.ctx.base_retired = self.basepods.add
        for md in self.ctx.module_deployments.list():
            self.module_deployments.add(key_of(md))
        for template in self.ctx.templates.list():
            self.templates.add(key_of(template))
        for module in self.ctx.modules.list():
            self.modules.add(key_of(module))
        for mrs in self.ctx.replicasets.list():
            self.replicasets.add(key_of(mrs))
        for pod in self.ctx.pods.list():
            if wants_removal(pod):
                self.basepods.add(key_of(pod))
        for deployment in self.ctx.deployments.list():
            self.base_deployments.add(key_of(deployment))
        if self.settings.leader_election:
            self.readiness.set_role("standby")
            election = asyncio.create_task(leader.elect(
                api, self.settings.lease_namespace, self.settings.lease_name,
                self._lead, self._lost_lease), name="leader-election")
            election.add_done_callback(self._election_ended)
            self._tasks.append(election)
        else:
            await self._lead()

    async def _lead(self) -> None:
        """This replica acts: reconcilers and the drift check start."""
        log.info("leading: starting the reconcilers")
        self.readiness.set_role("leader")
        for queue in self._queues():
            queue.start()
        if self.settings.drift_check_period > 0:
            checker = DriftChecker(self.ctx, self.settings.drift_check_period,
                                   self.settings.drift_remove_orphans, self.modules.add)
            self._tasks.append(asyncio.create_task(checker.run(), name="drift-check"))

    def _election_ended(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("leader election failed: %r; stopping", task.exception())
            self.lost_lease = True
            self.stop_flag.set()

    async def _lost_lease(self) -> None:
        log.error("lost the leader lease: stopping, so that no two replicas act at once")
        self.lost_lease = True
        self.stop_flag.set()

    def _queue(self, kind: str, handler, workers: int) -> WorkQueue[Key]:
        metrics = self.metrics

        async def timed(key: Key):
            with metrics.time_reconcile(kind) as timer:
                result = await handler(key)
                if result is not None and result.requeue_after is not None:
                    timer.result = "requeue"
                return result

        return WorkQueue(kind, timed, workers=workers, backoff=self.settings.retry_backoff,
                         expected=_conflict)

    def _phases(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for module in self.ctx.modules.list():
            phase = (module.get("status") or {}).get("status") or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def _progresses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for md in self.ctx.module_deployments.list():
            progress = ((md.get("status") or {}).get("releaseStatus") or {}).get("progress")
            if progress:
                counts[progress] = counts.get(progress, 0) + 1
        return counts

    def _queues(self) -> list[WorkQueue]:
        return [q for q in (self.modules, self.replicasets, self.basepods, self.base_deployments,
                            self.module_deployments, self.templates) if q is not None]

    def _owner_deployment(self, obj: dict) -> None:
        name = labels_of(obj).get(c.LABEL_MODULE_DEPLOYMENT)
        if name:
            self.module_deployments.add((key_of(obj)[0], name))

    def _module_changed(self, old: dict | None, obj: dict, wake_self: bool = True) -> None:
        """What a new version of a Module wakes, whether the watch or our own write brought it
        (``old`` None: the Module is new, or gone)."""
        key = key_of(obj)
        if deleting(obj):
            # Before anything else: an install in flight for it is abandoned now (preempt.py).
            self.ctx.deletions.seen(key)
        self._owner_deployment(obj)
        owner = owner_replicaset(obj)
        if owner is not None:
            # Any change, status included, may move the owner's counts.
            self.replicasets.add(owner)
        if old is None or _meta_changed(old, obj, _MODULE_TRIGGERS):
            if wake_self:
                self.modules.add(key)
            self._base_changed(key[0], labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME))

    def _base_changed(self, namespace: str, pod_name: str | None) -> None:
        """A Module was bound to, or left, a pod: its pod and Deployment may need a look."""
        pod = self.ctx.pods.get(namespace, pod_name or "") if pod_name else None
        if pod is None:
            return
        if wants_removal(pod):
            self.basepods.add(key_of(pod))
        deployment = self.ctx.deployment_of(pod)
        if deployment is not None:
            # A short delay folds a burst of placements into one label update.
            self.base_deployments.add(key_of(deployment), delay=1.0)

    def _resync(self, ctx: Context) -> Resync:
        kube = ctx.kube

        def custom(plural: str):
            return lambda ns: kube.list(plural, ns)

        return Resync({
            "Pod": ResyncKind(ctx.pods, kube.list_pods, lambda o: self.pod_event("DELETED", o)),
            "Deployment": ResyncKind(ctx.deployments, kube.list_deployments,
                                     lambda o: self.deployment_event("DELETED", o)),
            c.MODULE.kind: ResyncKind(ctx.modules, custom(c.MODULE.plural),
                                      lambda o: self.module_event("DELETED", o)),
            c.MODULE_REPLICA_SET.kind: ResyncKind(
                ctx.replicasets, custom(c.MODULE_REPLICA_SET.plural),
                lambda o: self.replicaset_event("DELETED", o)),
            c.MODULE_DEPLOYMENT.kind: ResyncKind(
                ctx.module_deployments, custom(c.MODULE_DEPLOYMENT.plural),
                lambda o: self.module_deployment_event("DELETED", o)),
            c.MODULE_TEMPLATE.kind: ResyncKind(ctx.templates, custom(c.MODULE_TEMPLATE.plural),
                                               lambda o: self.template_event("DELETED", o)),
        }, self.settings.namespaces)

    async def _prime_caches(self) -> None:
        """List everything once before any reconcile runs.

        kopf's watch streams fill the caches too, but in no particular order across kinds; a
        Module reconciled before its pod is listed would look orphaned. So the caches start
        complete, and the watch keeps them current (older copies never overwrite newer ones).
        """
        assert self.ctx is not None
        for ns in self.settings.namespaces or (None,):
            for kind, spec in self.resync.kinds.items():
                listing = await spec.list(ns)
                for item in listing.items:
                    item.setdefault("kind", kind)
                    spec.store.upsert(item)
        for kind in self.resync.kinds:
            self.resync.listed(kind)

    async def stop(self) -> None:
        if self.ctx is not None:
            await self.resync.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for queue in self._queues():
            await queue.stop()
        if self.ctx is not None:
            await self.ctx.events.drain(timeout=2)
            await self.ctx.events.stop()
            await self.ctx.arklet.close()
            await self.ctx.kube.api.close()

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (kopf handles them) or a lost lease; the exit code."""
        probes = None
        if self.settings.probe_port is not None:
            probes = await start_probe_server(self.settings.probe_host, self.settings.probe_port,
                                              self.metrics, self.readiness)
            log.info("probes and metrics on %s", probes.url)
        ready = asyncio.Event()
        watcher = asyncio.create_task(self._mark_watching(ready))
        namespaces = list(self.settings.namespaces)
        try:
            await kopf.operator(
                registry=self.registry,
                clusterwide=not namespaces,
                namespaces=namespaces,
                standalone=True,
                stop_flag=self.stop_flag,
                ready_flag=ready,
            )
        finally:
            watcher.cancel()
            if probes is not None:
                await probes.cleanup()
        return 1 if self.lost_lease else 0

    async def _mark_watching(self, ready: asyncio.Event) -> None:
        await ready.wait()
        self.readiness.set_watching(True)

    # ----------------------------------------------------------------- watch events

    def module_event(self, kind: str | None, obj: dict) -> None:
        assert self.ctx is not None and self.modules is not None
        if kind == "DELETED":
            if self.ctx.modules.is_deleted(obj["metadata"].get("uid")):
                return  # already handled (Context.module_gone, or a resync)
            self.ctx.modules.remove(obj)
            # Owners recount, the pod lost a Module; the Module itself has nothing left to do.
            self._module_changed(None, obj, wake_self=False)
            return
        old, stored = self.ctx.modules.upsert(obj)
        if not stored or _same_version(old, obj):
            return  # older than the cache, or the echo of our own write (already acted on)
        self._module_changed(old, obj)

    def pod_event(self, kind: str | None, pod: dict) -> None:
        assert self.ctx is not None and self.modules is not None
        if kind == "DELETED":
            self.ctx.pods.remove(pod)
            changed = True
        else:
            old, stored = self.ctx.pods.upsert(pod)
            changed = stored and (old is None or _pod_signature(old) != _pod_signature(pod))
        if not changed:
            return
        namespace, name = key_of(pod)
        if kind != "DELETED" and wants_removal(pod):
            self.basepods.add((namespace, name))
        deployment = self.ctx.deployment_of(pod)
        if deployment is not None:
            self.base_deployments.add(key_of(deployment), delay=1.0)
        for module in self.ctx.modules_on_pod(namespace, name, include_deleting=True):
            self.modules.add(key_of(module))
        for mrs in self.ctx.replicasets.list(namespace):
            self.replicasets.add(key_of(mrs))  # a base came, went or changed: placement may too
        for md in self.ctx.module_deployments.list(namespace):
            self.module_deployments.add(key_of(md))  # peer mode follows the ready bases
        if kind != "DELETED" and pod_ready(pod) and not deleting(pod):
            # A base became usable: Modules still waiting for one get another chance.
            for module in self.ctx.modules.list(namespace):
                if not labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME):
                    self.modules.add(key_of(module))

    def replicaset_event(self, kind: str | None, obj: dict) -> None:
        assert self.ctx is not None and self.replicasets is not None
        if kind == "DELETED":
            self.ctx.replicasets.remove(obj)
            self._owner_deployment(obj)
            return
        old, stored = self.ctx.replicasets.upsert(obj)
        if not stored or _same_version(old, obj):
            # Older than the cache, or the echo of our own write: the ModuleDeployment reconciler
            # wrote it (and woke the revision), or the revision wrote its own status, which the
            # ModuleDeployment does not read.
            return
        self._owner_deployment(obj)
        if old is None or _meta_changed(old, obj, _MODULE_TRIGGERS):
            self.replicasets.add(key_of(obj))

    def deployment_event(self, kind: str | None, obj: dict) -> None:
        assert self.ctx is not None and self.base_deployments is not None
        namespace, name = key_of(obj)
        for md in self.ctx.module_deployments.list(namespace):
            if md.get("spec", {}).get("baseDeploymentName") == name:
                self.module_deployments.add(key_of(md))
        if kind == "DELETED":
            self.ctx.deployments.remove(obj)
            return
        old, stored = self.ctx.deployments.upsert(obj)
        if stored and old is None:
            self.base_deployments.add(key_of(obj), delay=1.0)
        if stored and old is not None and labels_of(old).get(c.LABEL_MAX_MODULE_COUNT) != \
                labels_of(obj).get(c.LABEL_MAX_MODULE_COUNT):
            # The capacity of its pods changed: whatever waits for room looks again.
            for module in self.ctx.modules.list(namespace):
                if not labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME):
                    self.modules.add(key_of(module))
            for mrs in self.ctx.replicasets.list(namespace):
                self.replicasets.add(key_of(mrs))

    def module_deployment_event(self, kind: str | None, obj: dict) -> None:
        assert self.ctx is not None and self.module_deployments is not None
        if kind == "DELETED":
            self.ctx.module_deployments.remove(obj)
            self._template_users_changed(key_of(obj)[0], obj)
            return
        old, stored = self.ctx.module_deployments.upsert(obj)
        if stored and (old is None or template_refs(old) != template_refs(obj)):
            self._template_users_changed(key_of(obj)[0], old, obj)
        if stored and (old is None or _meta_changed(old, obj, _MODULE_TRIGGERS)):
            self.module_deployments.add(key_of(obj))
        if old is not None and old.get("spec") != obj.get("spec"):
            # Another ModuleDeployment may be waiting on this one for its module name.
            for md in self.ctx.module_deployments.list(key_of(obj)[0]):
                self.module_deployments.add(key_of(md))

    def _template_users_changed(self, namespace: str, *mds: dict | None) -> None:
        if self.templates is not None:
            for name in template_refs(*mds):
                self.templates.add((namespace, name))

    def template_event(self, kind: str | None, obj: dict) -> None:
        assert self.ctx is not None and self.module_deployments is not None
        if kind == "DELETED":
            self.ctx.templates.remove(obj)
        else:
            old, stored = self.ctx.templates.upsert(obj)
            if stored and self.templates is not None and (
                    old is None or _meta_changed(old, obj, ("generation",))):
                self.templates.add(key_of(obj))
        namespace, name = key_of(obj)
        for md in self.ctx.module_deployments.list(namespace):
            if (md.get("spec", {}).get("templateRef") or {}).get("name") == name:
                self.module_deployments.add(key_of(md))

    # ----------------------------------------------------------------- kopf registry

    def _registry(self) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()
        op = self

        @kopf.on.startup(registry=registry)
        async def _startup(settings: kopf.OperatorSettings, **_: object) -> None:
            settings.posting.enabled = False  # events are ours (kube.events), with our reasons
            # No watch on CRDs nor namespaces (kopf's "scanning"): the CRDs are installed with
            # the controller and the served namespaces are named, so neither can change what we
            # serve while we run. kopf still reads the API discovery documents once (allowed to
            # every authenticated user). This keeps the controller off cluster-scoped reads: the
            # namespaced install needs no ClusterRole at all (docs/security.md, RBAC).
            settings.scanning.disabled = True
            settings.watching.server_timeout = 300
            settings.watching.client_timeout = 330
            settings.networking.request_timeout = 30
            await op.start()

        @kopf.on.login(registry=registry)
        def _login(**kwargs: object) -> kopf.ConnectionInfo | None:
            # A private registry has none of kopf's default login handlers; these are kopf's
            # own, without pykube or the sync kubernetes client.
            return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

        @kopf.on.cleanup(registry=registry)
        async def _cleanup(**_: object) -> None:
            await op.stop()
            # Stopped by a signal, kopf leaves its waiter on our stop flag running and then
            # waits 5 s for such "hung" tasks before it exits. Raising the flag ends the waiter,
            # so SIGTERM → exit takes milliseconds (a rolling update of the controller, and
            # every cluster test's teardown, used to pay those 5 s).
            op.stop_flag.set()

        def forward(kind: str, handler):
            # async, so kopf calls it on the event loop (sync handlers go to a thread pool).
            async def on_event(event: kopf.RawEvent, **_: object) -> None:
                if event.get("type") is None and op.ctx is not None:
                    op.resync.request(kind)  # kopf (re-)listed: deletions may have been missed
                handler(event.get("type"), event["object"])
            return on_event

        kopf.on.event(c.GROUP, c.VERSION, c.MODULE.plural, id="modules",
                      registry=registry)(forward(c.MODULE.kind, op.module_event))
        kopf.on.event(c.GROUP, c.VERSION, c.MODULE_REPLICA_SET.plural, id="modulereplicasets",
                      registry=registry)(forward(c.MODULE_REPLICA_SET.kind, op.replicaset_event))
        kopf.on.event(c.GROUP, c.VERSION, c.MODULE_DEPLOYMENT.plural, id="moduledeployments",
                      registry=registry)(forward(c.MODULE_DEPLOYMENT.kind,
                                                 op.module_deployment_event))
        kopf.on.event(c.GROUP, c.VERSION, c.MODULE_TEMPLATE.plural, id="moduletemplates",
                      registry=registry)(forward(c.MODULE_TEMPLATE.kind, op.template_event))
        kopf.on.event("", "v1", "pods", id="pods",
                      registry=registry)(forward("Pod", op.pod_event))
        kopf.on.event("apps", "v1", "deployments", id="deployments",
                      registry=registry)(forward("Deployment", op.deployment_event))
        return registry

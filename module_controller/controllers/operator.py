"""The operator's lifecycle: build the parts, prime the caches, start the reconcilers when this
replica leads, stop cleanly.

Nothing here knows a reconciler or a watched kind by name: those are declared in
:mod:`.wiring` (kinds, reconcilers, what each watches) and routed by :mod:`.routes`; kopf's part
(watching) is :mod:`.kopf_registry`. Reconcilers are level-triggered and keyed, like
kubebuilder's: after a start every object is listed and looked at again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import kopf

from ..arklet import ArkletClient
from ..api import objects
from ..kube.client import make_api_client
from ..kube.events import EventRecorder
from ..kube.io import KubeIO
from ..observability import Metrics, Readiness, start_probe_server
from ..observability.releases import release_samples
from ..runtime import leader
from ..runtime.queue import Result, WorkQueue
from ..runtime.resync import Kind as ResyncKind, Resync
from ..runtime.store import Key, Obj
from ..settings import Settings
from .caches import Caches
from .context import Context
from .drift import DriftChecker
from .kopf_registry import make_registry
from .listings import Listings
from .release_events import ReleaseEvents
from .routes import DELETED, Routes
from .wake import Wake
from .writer import Writer
from .wiring import RECONCILERS, SOURCES, Reconciles, all_watches

log = logging.getLogger(__name__)


def _conflict(exc: BaseException) -> bool:
    """409: somebody changed the object since we read it; the retry reads it again."""
    return getattr(exc, "status", None) == 409


class Operator:
    def __init__(self, settings: Settings, kubeconfig: str | None = None):
        self.settings = settings
        self.kubeconfig = kubeconfig
        self.ctx: Context | None = None
        self.caches = Caches()
        self.wake = Wake()
        self.routes = Routes(self.caches, self.wake, SOURCES, all_watches())
        #: The Module reconciles' listings, read by the drift check (only when it runs).
        self.listings = Listings() if settings.drift_check_period > 0 else None
        self.queues: dict[str, WorkQueue[Key]] = {}
        self.metrics = Metrics()
        self.readiness = Readiness(leader_election=settings.leader_election)
        self.stop_flag = asyncio.Event()
        self.lost_lease = False
        self._tasks: list[asyncio.Task[None]] = []
        self.registry = make_registry(self, SOURCES)

    # ----------------------------------------------------------------- start

    async def start(self) -> None:
        api = await make_api_client(self.kubeconfig)
        kube = KubeIO(api)
        listings = self.listings
        ctx = self.ctx = Context(
            settings=self.settings, kube=kube,
            arklet=ArkletClient(self.settings.arklet, on_call=self.metrics.arklet_call,
                                on_change=listings.changed if listings is not None else None),
            events=EventRecorder(api, summarise=ReleaseEvents(self.caches)),
            caches=self.caches, writer=Writer(kube, self.routes), wake=self.wake,
            listings=listings)
        ctx.events.start()
        self.resync = Resync({
            kind: ResyncKind(self.caches.store(kind), source.lister(kube), self._deleted(kind))
            for kind, source in self.routes.sources.items()}, self.settings.namespaces)
        self.metrics.set_phase_provider(self._phases)
        self.metrics.set_progress_provider(self._progresses)
        self.metrics.set_release_provider(
            lambda: release_samples(self.caches.module_deployments.list()))
        await self._prime_caches()
        for spec in RECONCILERS:
            self.queues[spec.queue] = self._queue(spec)
            self.wake.register(spec.queue, self.queues[spec.queue])
        for spec in RECONCILERS:
            for key in spec.initial(self.caches):
                self.wake.add(spec.queue, key)  # level-triggered: everything, once, at start
        if self.settings.leader_election:
            self.readiness.set_role("standby")
            election = asyncio.create_task(leader.elect(
                api, self.settings.lease_namespace, self.settings.lease_name,
                self._lead, self._lost_lease), name="leader-election")
            election.add_done_callback(self._election_ended)
            self._tasks.append(election)
        else:
            await self._lead()

    def _deleted(self, kind: str) -> Callable[[Obj], None]:
        """What a resync that finds an object of ``kind`` missing does: its DELETED path."""
        return lambda obj: self.routes.event(kind, DELETED, obj)

    async def _prime_caches(self) -> None:
        """List everything once before any reconcile runs.

        kopf's watch streams fill the caches too, but in no particular order across kinds; a
        Module reconciled before its pod is listed would look orphaned. So the caches start
        complete, and the watch keeps them current (older copies never overwrite newer ones).
        """
        for ns in self.settings.namespaces or (None,):
            for kind, spec in self.resync.kinds.items():
                listing = await spec.list(ns)
                for item in listing.items:
                    item.setdefault("kind", kind)
                    self.routes.listed(kind, item)
        for kind in self.resync.kinds:
            self.resync.listed(kind)

    def _queue(self, spec: Reconciles) -> WorkQueue[Key]:
        assert self.ctx is not None
        handler = spec.make(self.ctx).reconcile
        metrics, kind = self.metrics, spec.queue

        async def timed(key: Key) -> Result | None:
            with metrics.time_reconcile(kind) as timer:
                result = await handler(key)
                if result is not None and result.requeue_after is not None:
                    timer.result = "requeue"
                return result

        return WorkQueue(kind, timed, workers=spec.workers(self.settings),
                         backoff=self.settings.retry_backoff, expected=_conflict,
                         observer=self.metrics.queue_observer)

    # ----------------------------------------------------------------- leading

    async def _lead(self) -> None:
        """This replica acts: reconcilers and the drift check start."""
        log.info("leading: starting the reconcilers")
        self.readiness.set_role("leader")
        for queue in self.queues.values():
            queue.start()
        if self.listings is not None:
            assert self.ctx is not None
            checker = DriftChecker(self.ctx, self.listings, self.settings.drift_check_period,
                                   self.settings.drift_remove_orphans, self.wake.module)
            self._tasks.append(asyncio.create_task(checker.run(), name="drift-check"))

    def _election_ended(self, task: asyncio.Task[None]) -> None:
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

    # ----------------------------------------------------------------- watching

    def watch_event(self, kind: str, type_: str | None, obj: Obj) -> None:
        """A kopf watch event of a watched kind (``type_`` None: kopf listed it)."""
        if self.ctx is None:
            return  # not started: the priming list at start covers it
        if type_ is None:
            self.resync.request(kind)  # kopf (re-)listed: deletions may have been missed
        self.routes.event(kind, type_, obj)

    def _phases(self) -> dict[str, int]:
        assert self.ctx is not None
        counts: dict[str, int] = {}
        for module in self.caches.modules.list():
            phase = objects.phase(module) or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def _progresses(self) -> dict[str, int]:
        assert self.ctx is not None
        counts: dict[str, int] = {}
        for md in self.caches.module_deployments.list():
            progress = ((md.get("status") or {}).get("releaseStatus") or {}).get("progress")
            if progress:
                counts[progress] = counts.get(progress, 0) + 1
        return counts

    # ----------------------------------------------------------------- run, stop

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

    async def stop(self) -> None:
        if self.ctx is not None:
            await self.resync.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for queue in self.queues.values():
            await queue.stop()
        if self.ctx is not None:
            await self.ctx.events.drain(timeout=2)
            await self.ctx.events.stop()
            await self.ctx.arklet.close()
            await self.ctx.kube.api.close()

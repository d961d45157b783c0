"""The controller's Prometheus metrics, on a registry of their own.

Counters and histograms are fed by the code that does the work (:meth:`Metrics.observe_reconcile`,
:meth:`Metrics.arklet_call`, :meth:`Metrics.api_write`). The two gauges, Modules by phase and
ModuleDeployment releases by progress, are *not* kept up to date by increments: at every scrape a
collector asks a provider function for the current counts (typically counted from the
controller's in-memory store), so the gauges cannot drift from the truth when an event is missed
or counted twice.

Everything is registered on a private :class:`~prometheus_client.CollectorRegistry`, never on the
process-global default one: two ``Metrics`` (e.g. in tests) never collide, and importing this
module registers nothing.

Every metric, its labels and what feeds it: ``docs/metrics.md``. Besides its own metrics the
registry carries the standard process (``process_*``), platform (``python_info``) and garbage
collector (``python_gc_*``) collectors of prometheus_client, registered on it rather than on the
global registry.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry, Counter, GCCollector, Gauge, Histogram, PlatformCollector, ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.registry import Collector

from ..api.module import ModulePhase
from ..api.moduledeployment import ReleaseProgress
from .releases import ReleaseSample, ReleasesCollector

log = logging.getLogger(__name__)

PREFIX = "module_controller"

#: The only values of the ``result`` label of the reconcile metrics.
RECONCILE_RESULTS: tuple[str, ...] = ("ok", "error", "requeue")
#: Phases always exported (as 0 when no Module is in them), so a series never vanishes.
MODULE_PHASES: tuple[str, ...] = tuple(phase.value for phase in ModulePhase)
#: Release progress values always exported (as 0 when no release is in them).
RELEASE_PROGRESSES: tuple[str, ...] = tuple(progress.value for progress in ReleaseProgress)

#: Reconciles are mostly in-memory decisions plus a few API writes; a slow install is awaited
#: inside the Module reconcile, hence the long tail.
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                     120.0)
#: Arklet answers queries in milliseconds; installBiz answers only once the module has started
#: (bounded by --install-timeout, 120 s by default).
ARKLET_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                  120.0, 300.0)

#: The ``outcome`` label of the Arklet latency histogram: an Arklet ``SUCCESS``; a business answer
#: that is not one (``REPEAT_BIZ``, ``FAILED``, …: the base answered and refused); or no answer at
#: all (timeout, connection or protocol error, HTTP 5xx).
ARKLET_OUTCOMES: tuple[str, ...] = ("success", "refused", "error")
_ARKLET_TRANSPORT_RESULTS = frozenset({"timeout", "connect_error", "protocol_error"})

#: Time a key waits in a work queue for a worker, and a reconcile's time on the worker.
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                 60.0, 120.0)


def arklet_outcome(result: str) -> str:
    """``success``, ``refused`` or ``error`` for a result label of the Arklet client."""
    if result == "SUCCESS":
        return "success"
    if result in _ARKLET_TRANSPORT_RESULTS or result.startswith("http_") or not result:
        return "error"
    return "refused"


#: Returns the current count per label value, e.g. ``{"Available": 12, "Pending": 1}``. Called at
#: every scrape on the thread that serves the scrape (the event loop's, with the probe server of
#: :mod:`.server`): it must be quick and must not block.
CountsProvider = Callable[[], Mapping[str, int]]


class _CountsCollector(Collector):
    """One gauge whose samples come from a provider function at collect time."""

    def __init__(self, name: str, documentation: str, label: str, known: Iterable[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.known = tuple(known)
        self.provider: CountsProvider | None = None

    def describe(self) -> list[Metric]:
        # Lets the registry learn the name without calling the provider at registration time.
        return [GaugeMetricFamily(self.name, self.documentation, labels=[self.label])]

    def collect(self) -> Iterator[Metric]:
        provider = self.provider
        if provider is None:
            return  # no provider yet: no data rather than false zeros
        try:
            counts = dict(provider())
        except Exception:  # a broken provider must not break the whole scrape
            log.exception("metrics provider of %s failed; the gauge is left out", self.name)
            return
        values = {value: 0.0 for value in self.known}
        for value, count in counts.items():
            values[str(value) if value else "Unknown"] = float(count)
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for value in sorted(values):
            family.add_metric([value], values[value])
        yield family


class Metrics:
    """All metrics of one controller process, on ``self.registry`` (private to this instance)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, prefix: str = PREFIX) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.prefix = prefix
        r = self.registry
        self._reconciles = Counter(
            f"{prefix}_reconciles_total", "Reconciles by kind and result (ok, error, requeue).",
            ["kind", "result"], registry=r)
        self._reconcile_seconds = Histogram(
            f"{prefix}_reconcile_duration_seconds", "Duration of reconciles by kind and result.",
            ["kind", "result"], buckets=RECONCILE_BUCKETS, registry=r)
        self._arklet_calls = Counter(
            f"{prefix}_arklet_calls_total",
            "HTTP attempts to Arklet by command and result (an Arklet code such as SUCCESS or "
            "REPEAT_BIZ, or timeout, http_500, connect_error, protocol_error, base_busy).",
            ["command", "result"], registry=r)
        self._arklet_seconds = Histogram(
            f"{prefix}_arklet_call_duration_seconds",
            "Latency of HTTP attempts to Arklet by command and outcome (success, refused: an "
            "Arklet answer other than SUCCESS, error: no answer).",
            ["command", "outcome"], buckets=ARKLET_BUCKETS, registry=r)
        self._api_writes = Counter(
            f"{prefix}_api_writes_total", "Writes to the Kubernetes API by verb and resource.",
            ["verb", "resource"], registry=r)
        self._phases = _CountsCollector(
            f"{prefix}_modules", "Modules by phase (status.status), counted at scrape time.",
            "phase", MODULE_PHASES)
        self._progress = _CountsCollector(
            f"{prefix}_releases",
            "ModuleDeployment releases by progress (status.releaseStatus.progress), counted at "
            "scrape time.", "progress", RELEASE_PROGRESSES)
        self._releases = ReleasesCollector(prefix)
        r.register(self._phases)
        r.register(self._progress)
        r.register(self._releases)
        self.queue_observer = QueueMetrics(prefix, r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    # ------------------------------------------------------------------ feeding

    def observe_reconcile(self, kind: str, result: str, seconds: float) -> None:
        """One reconcile of ``kind`` (e.g. ``Module``) ended with ``result`` after ``seconds``.

        ``result`` is one of :data:`RECONCILE_RESULTS`; anything else raises ``ValueError`` (the
        label set must stay small and fixed).
        """
        if result not in RECONCILE_RESULTS:
            raise ValueError(f"reconcile result must be one of {RECONCILE_RESULTS}, not {result!r}")
        if not kind:
            raise ValueError("reconcile kind must not be empty")
        seconds = max(0.0, float(seconds))
        self._reconciles.labels(kind, result).inc()
        self._reconcile_seconds.labels(kind, result).observe(seconds)

    @contextmanager
    def time_reconcile(self, kind: str) -> Iterator["ReconcileTimer"]:
        """Time a reconcile: ``ok`` when the block ends normally, ``error`` when it raises (the
        exception propagates); set ``timer.result = "requeue"`` inside the block to say so.

        A cancelled reconcile (``asyncio.CancelledError``, e.g. at shutdown) is not counted.
        """
        timer = ReconcileTimer()
        start = time.monotonic()
        try:
            yield timer
        except Exception:
            self.observe_reconcile(kind, "error", time.monotonic() - start)
            raise
        self.observe_reconcile(kind, timer.result, time.monotonic() - start)

    def arklet_call(self, command: str, result: str, seconds: float) -> None:
        """One HTTP attempt to Arklet; usable as ``ArkletClient(on_call=metrics.arklet_call)``."""
        command = command or "unknown"
        self._arklet_calls.labels(command, result or "unknown").inc()
        self._arklet_seconds.labels(command, arklet_outcome(result)).observe(
            max(0.0, float(seconds)))

    def api_write(self, verb: str, resource: str) -> None:
        """One write to the Kubernetes API, e.g. ``api_write("patch", "modules/status")``."""
        self._api_writes.labels(verb, resource).inc()

    def set_phase_provider(self, provider: CountsProvider | None) -> None:
        """Where ``module_controller_modules{phase}`` comes from (``None``: not exported)."""
        self._phases.provider = provider

    def set_progress_provider(self, provider: CountsProvider | None) -> None:
        """Where ``module_controller_releases{progress}`` comes from (``None``: not exported)."""
        self._progress.provider = provider

    def set_release_provider(self, provider: Callable[[], Iterable[ReleaseSample]] | None) -> None:
        """Where the per-ModuleDeployment series come from (``None``: not exported); see
        :func:`.releases.release_samples`."""
        self._releases.provider = provider

    # ------------------------------------------------------------------ exposition

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the format the ``Accept`` header asks for: (body, content type).

        Prometheus text format unless OpenMetrics is asked for.
        """
        if not accept:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class ReconcileTimer:
    """Handed out by :meth:`Metrics.time_reconcile`; ``result`` may be changed to ``requeue``."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result = "ok"


class QueueMetrics:
    """Work-queue metrics (the series client-go's workqueue exports), fed by the queues through
    the observer hook of :class:`module_controller.runtime.queue.WorkQueue`."""

    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        r = registry
        self._depth = Gauge(
            f"{prefix}_workqueue_depth", "Keys waiting in a work queue (scheduled or ready, not "
            "being reconciled).", ["name"], registry=r)
        self._adds = Counter(
            f"{prefix}_workqueue_adds_total", "Keys added to a work queue (a key already waiting "
            "is not added again).", ["name"], registry=r)
        self._latency = Histogram(
            f"{prefix}_workqueue_queue_duration_seconds", "Time a key waited for a worker once "
            "it was due.", ["name"], buckets=QUEUE_BUCKETS, registry=r)
        self._work = Histogram(
            f"{prefix}_workqueue_work_duration_seconds", "Time a worker spent on one key.",
            ["name"], buckets=QUEUE_BUCKETS, registry=r)
        self._retries = Counter(
            f"{prefix}_workqueue_retries_total", "Keys put back after their reconcile failed "
            "(retried with backoff).", ["name"], registry=r)

    def added(self, queue: str, depth: int) -> None:
        self._adds.labels(queue).inc()
        self._depth.labels(queue).set(depth)

    def started(self, queue: str, waited: float, depth: int) -> None:
        self._latency.labels(queue).observe(max(0.0, waited))
        self._depth.labels(queue).set(depth)

    def finished(self, queue: str, seconds: float, failed: bool) -> None:
        self._work.labels(queue).observe(max(0.0, seconds))
        if failed:
            self._retries.labels(queue).inc()

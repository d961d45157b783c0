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

Metric names (prefix ``module_controller_``):

==========================================  =========  =====================  ==================
name                                        type       labels                 fed by
==========================================  =========  =====================  ==================
``reconciles_total``                        counter    kind, result           observe_reconcile
``reconcile_duration_seconds``              histogram  kind, result           observe_reconcile
``arklet_calls_total``                      counter    command, result        arklet_call
``arklet_call_duration_seconds``            histogram  command                arklet_call
``api_writes_total``                        counter    verb, resource         api_write
``modules``                                 gauge      phase                  phase provider
``releases``                                gauge      progress               progress provider
==========================================  =========  =====================  ==================
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.registry import Collector

from ..api.module import ModulePhase
from ..api.moduledeployment import ReleaseProgress

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
            f"{prefix}_arklet_call_duration_seconds", "Latency of HTTP attempts to Arklet by command.",
            ["command"], buckets=ARKLET_BUCKETS, registry=r)
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
        r.register(self._phases)
        r.register(self._progress)

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
        self._arklet_seconds.labels(command).observe(max(0.0, float(seconds)))

    def api_write(self, verb: str, resource: str) -> None:
        """One write to the Kubernetes API, e.g. ``api_write("patch", "modules/status")``."""
        self._api_writes.labels(verb, resource).inc()

    def set_phase_provider(self, provider: CountsProvider | None) -> None:
        """Where ``module_controller_modules{phase}`` comes from (``None``: not exported)."""
        self._phases.provider = provider

    def set_progress_provider(self, provider: CountsProvider | None) -> None:
        """Where ``module_controller_releases{progress}`` comes from (``None``: not exported)."""
        self._progress.provider = provider

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

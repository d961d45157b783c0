"""Metrics and probe endpoints of the controller process.

Nothing here is wired into the controller by itself. The controller creates one :class:`Metrics`,
feeds it, and serves it together with the probes::

    from module_controller.observability import Metrics, Readiness, start_probe_server

    metrics = Metrics()
    arklet = ArkletClient(settings.arklet, on_call=metrics.arklet_call)
    metrics.set_phase_provider(lambda: store.count_modules_by_phase())       # {"Available": 3, …}
    metrics.set_progress_provider(lambda: store.count_releases_by_progress())  # {"Executing": 1, …}
    metrics.set_release_provider(lambda: release_samples(store.module_deployments()))
    queue = WorkQueue("Module", handler, observer=metrics.queue_observer)
    readiness = Readiness(leader_election=True)
    runner = await start_probe_server(settings.probe_host, settings.probe_port, metrics, readiness)
    ...
    readiness.set_watching(True)       # once the watches run
    readiness.set_role("leader")       # or "standby", from the leader election
    ...
    metrics.observe_reconcile("Module", "ok", seconds)   # result: ok / error / requeue
    ...
    await runner.cleanup()

See ``docs/metrics.md`` for the metric names.
"""

from .metrics import (
    MODULE_PHASES, RECONCILE_RESULTS, RELEASE_PROGRESSES, CountsProvider, Metrics,
)
from .readiness import Readiness
from .server import ProbeRunner, ReadyCheck, make_probe_app, start_probe_server

__all__ = [
    "MODULE_PHASES", "RECONCILE_RESULTS", "RELEASE_PROGRESSES", "CountsProvider", "Metrics",
    "ProbeRunner", "Readiness", "ReadyCheck", "make_probe_app", "start_probe_server",
]

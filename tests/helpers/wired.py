"""A Context wired as the operator wires it (caches, routing table, writer), without the
operator: for tests of the parts that read the caches or call Arklet, and, given a KubeIO on the
dev cluster, of what a write wakes (the queues then record instead of running reconcilers)."""

from __future__ import annotations

from typing import Any

from module_controller.controllers import wake as queues
from module_controller.controllers.caches import Caches
from module_controller.controllers.context import Context
from module_controller.controllers.listings import Listings
from module_controller.controllers.routes import Routes
from module_controller.controllers.wake import Wake
from module_controller.controllers.wiring import SOURCES, all_watches
from module_controller.controllers.writer import Writer
from module_controller.settings import Settings


class Recorder:
    """Stands in for a reconciler's work queue: records the keys it is asked to look at."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []

    def add(self, key: tuple[str, str], delay: float = 0.0) -> None:
        self.keys.append(key)

    def failures(self, key: tuple[str, str]) -> int:
        return 0


def recording_wake() -> tuple[Wake, dict[str, Recorder]]:
    """A Wake whose queues record (one per reconciler of the wiring)."""
    wake = Wake()
    recorders = {name: Recorder() for name in (
        queues.MODULES, queues.REPLICASETS, queues.MODULE_DEPLOYMENTS, queues.TEMPLATES,
        queues.BASE_PODS, queues.BASE_DEPLOYMENTS)}
    for name, recorder in recorders.items():
        wake.register(name, recorder)  # type: ignore[arg-type]
    return wake, recorders


def offline_context(settings: Settings | None = None, *, arklet: Any = None, events: Any = None,
                    listings: Listings | None = None, kube: Any = None,
                    wake: Wake | None = None) -> Context:
    caches, wake = Caches(), wake or Wake()
    routes = Routes(caches, wake, SOURCES, all_watches())
    return Context(settings=settings or Settings(), kube=kube, arklet=arklet, events=events,
                   caches=caches, writer=Writer(kube, routes), wake=wake, listings=listings)

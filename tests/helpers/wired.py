"""A Context wired as the operator wires it (caches, routing table, writer), without a cluster:
for tests of the parts that read the caches or call Arklet. Writing needs the API server."""

from __future__ import annotations

from typing import Any

from module_controller.controllers.caches import Caches
from module_controller.controllers.context import Context
from module_controller.controllers.listings import Listings
from module_controller.controllers.routes import Routes
from module_controller.controllers.wake import Wake
from module_controller.controllers.wiring import SOURCES, all_watches
from module_controller.controllers.writer import Writer
from module_controller.settings import Settings


def offline_context(settings: Settings | None = None, *, arklet: Any = None, events: Any = None,
                    listings: Listings | None = None) -> Context:
    caches, wake = Caches(), Wake()
    routes = Routes(caches, wake, SOURCES, all_watches())
    return Context(settings=settings or Settings(), kube=None,  # type: ignore[arg-type]
                   arklet=arklet, events=events, caches=caches,
                   writer=Writer(None, routes), wake=wake,  # type: ignore[arg-type]
                   listings=listings)

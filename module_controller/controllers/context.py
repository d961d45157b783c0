"""What a reconciler is given: the settings, the read views over the caches, the one writer,
the shared locks, Arklet and the Event recorder. Built once by the operator
(:mod:`.operator`), every part passed in ready; nothing is attached later.

The delegating methods at the end serve the Module reconciler's files (``module.py``,
``module_calls.py``, ``module_writes.py``, ``module_removal.py``), which use the parts through
them; every other reconciler uses the parts themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..api import constants as c
from ..arklet import ArkletClient, arklet_port
from ..kube.events import EventRecorder
from ..kube.io import KubeIO
from ..planning.placement import Base
from ..runtime.store import Obj, Store
from ..settings import Settings
from ..planning.base_pod_rules import pod_ip, pod_ready, skip_uninstall
from .caches import Caches, deleting, labels_of
from .listings import Listings
from .locks import Locks
from .placement_bases import PlacementBases
from .preempt import DeletionSignals
from .wake import MODULES as MODULE_QUEUE, Wake
from .writer import Writer

#: The object helpers the Module reconciler's files import from here.
__all__ = ["Context", "deleting", "labels_of", "pod_ip", "pod_ready", "skip_uninstall"]


@dataclass
class Context:
    settings: Settings
    #: Live reads (``read_pod``); every write goes through :attr:`writer`.
    kube: KubeIO
    arklet: ArkletClient
    events: EventRecorder
    caches: Caches
    writer: Writer
    #: The reconcilers' queues: failures in a row, and looks again that no watch would ask for.
    wake: Wake
    locks: Locks = field(default_factory=Locks)
    #: Listings the Module reconciles took, for the drift check; None while it does not run.
    listings: Listings | None = None
    placement: PlacementBases = field(init=False)

    def __post_init__(self) -> None:
        self.placement = PlacementBases(self.caches, self.events)

    def port_of(self, pod: Obj) -> int:
        """The Arklet port of a base pod (its annotation, or the controller's setting)."""
        return arklet_port(pod["metadata"].get("annotations"), self.settings.arklet.port)

    # ----------------------------------------------------------------- for the Module files

    @property
    def modules(self) -> Store:
        return self.caches.modules

    @property
    def pods(self) -> Store:
        return self.caches.pods

    @property
    def replicasets(self) -> Store:
        return self.caches.replicasets

    @property
    def deletions(self) -> DeletionSignals:
        return self.caches.deletions

    def modules_on_pod(self, namespace: str, pod_name: str, *, include_deleting: bool = False
                       ) -> list[Obj]:
        return self.caches.modules_on_pod(namespace, pod_name, include_deleting=include_deleting)

    def may_route(self, module: Obj, module_name: str) -> bool:
        return self.caches.may_route(module, module_name)

    def posing_as_instance(self, module: Obj) -> bool:
        return self.caches.posing_as_instance(module)

    def replacement_rank(self, module: Obj) -> tuple[bool, str, str]:
        return self.caches.replacement_rank(module)

    def bases(self, namespace: str, replacing: tuple[str, str] | None = None,
              deployment: str | None = None) -> list[Base]:
        return self.placement.bases(namespace, replacing, deployment)

    def remember_module(self, obj: Obj, *, wake_self: bool) -> None:
        """Route the answer to a write of a Module (:meth:`Writer.answered`); ``wake_self``:
        the Module's own reconciler must look too."""
        self.writer.answered(c.MODULE.kind, obj, skip=None if wake_self else MODULE_QUEUE)

    def gone(self, kind: str, obj: Obj) -> None:
        self.writer.gone(kind, obj)

    def pod_lock(self, namespace: str, pod_name: str) -> asyncio.Lock:
        return self.locks.pod(namespace, pod_name)

    def placement_lock(self, namespace: str) -> asyncio.Lock:
        return self.locks.placement(namespace)

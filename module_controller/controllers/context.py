"""What a reconciler is given: the settings, the read views over the caches, the one writer,
the shared locks, Arklet and the Event recorder. Built once by the operator
(:mod:`.operator`), every part passed in ready; nothing is attached later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arklet import ArkletClient, arklet_port
from ..kube.events import EventRecorder
from ..kube.io import KubeIO
from ..runtime.store import Obj
from ..settings import Settings
from .caches import Caches
from .listings import Listings
from .locks import Locks
from .placement_bases import PlacementBases
from .wake import Wake
from .writer import Writer


@dataclass
class Context:
    settings: Settings
    #: The API client (the operator closes it); every read of a live object and every write
    #: goes through :attr:`writer`.
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

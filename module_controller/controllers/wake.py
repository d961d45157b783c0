"""The enqueue interface: the reconcilers' work queues by name.

Created before the reconcilers; the operator registers one work queue per reconciler under the
reconciler's queue name, and the routes (:mod:`.routes`) queue into them what each change wakes,
whether a watch event brought it or the answer to one of our own writes (:mod:`.writer`).
Waking a queue nobody registered is a wiring bug and raises.
"""

from __future__ import annotations

from ..runtime.queue import WorkQueue
from ..runtime.store import Key

# The queue names, one per reconciler (also the ``kind`` label of the reconcile metrics).
MODULES = "Module"
REPLICASETS = "ModuleReplicaSet"
MODULE_DEPLOYMENTS = "ModuleDeployment"
TEMPLATES = "ModuleTemplate"
BASE_PODS = "BasePod"
BASE_DEPLOYMENTS = "BaseDeployment"


class Wake:
    def __init__(self) -> None:
        self._queues: dict[str, WorkQueue[Key]] = {}

    def register(self, name: str, queue: WorkQueue[Key]) -> None:
        if name in self._queues:
            raise ValueError(f"a work queue named {name} is registered already")
        self._queues[name] = queue

    def add(self, name: str, key: Key, delay: float = 0.0) -> None:
        """Queue ``key`` for the reconciler ``name`` (after ``delay`` seconds)."""
        self._queues[name].add(key, delay)

    def failures(self, name: str, key: Key) -> int:
        """How many reconciles of ``key`` by ``name`` failed in a row (0: none, or no queue)."""
        queue = self._queues.get(name)
        return queue.failures(key) if queue is not None else 0

    def module(self, key: Key) -> None:
        """A Module looks again (the drift check found its biz missing on its base)."""
        self.add(MODULES, key)

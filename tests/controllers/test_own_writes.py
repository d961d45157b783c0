"""Answers to the controller's own writes can carry news: a deletion or a new spec that began
between our read and our write. That news must wake the writer's own reconciler too, because the
watch event of that change is then older than the cache and wakes nobody (otherwise a deletion
waited for a restart)."""

from __future__ import annotations

from module_controller.controllers import wake as q
from module_controller.controllers.caches import Caches
from module_controller.controllers.routes import Routes, news_in_answer
from module_controller.controllers.wake import Wake
from module_controller.controllers.wiring import RECONCILERS, SOURCES, all_watches


class Recorder:
    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []

    def add(self, key: tuple[str, str], delay: float = 0.0) -> None:
        self.keys.append(key)


def _obj(rv: int, *, generation: int = 1, deleting: bool = False) -> dict:
    meta = {"namespace": "ns", "name": "mrs", "uid": "u1", "resourceVersion": str(rv),
            "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T15:00:00Z"
    return {"kind": "ModuleReplicaSet", "metadata": meta}


def test_news_is_a_deletion_or_a_new_generation() -> None:
    assert news_in_answer(_obj(1), _obj(3, deleting=True))
    assert news_in_answer(_obj(1), _obj(3, generation=2))
    assert not news_in_answer(_obj(1), _obj(3))                     # only our status changed
    assert not news_in_answer(_obj(1, deleting=True), _obj(3, deleting=True))  # known already
    assert not news_in_answer(None, _obj(3, deleting=True))         # our own create


def test_a_deletion_seen_first_in_our_answer_wakes_the_writer() -> None:
    wake, caches = Wake(), Caches()
    queues = {spec.queue: Recorder() for spec in RECONCILERS}
    for name, recorder in queues.items():
        wake.register(name, recorder)  # type: ignore[arg-type]
    routes = Routes(caches, wake, SOURCES, all_watches())
    routes.listed("ModuleReplicaSet", _obj(1))
    mine = queues[q.REPLICASETS].keys
    # Our status write (rv 3) answers with the deletionTimestamp set at rv 2 ...
    routes.answer("ModuleReplicaSet", _obj(3, deleting=True), skip=q.REPLICASETS)
    assert mine == [("ns", "mrs")]
    # ... and the watch event of rv 2 is then older than the cache: it wakes nobody.
    routes.event("ModuleReplicaSet", "MODIFIED", _obj(2, deleting=True))
    routes.answer("ModuleReplicaSet", _obj(4, deleting=True), skip=q.REPLICASETS)
    assert mine == [("ns", "mrs")]

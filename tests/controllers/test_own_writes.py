"""Answers to the controller's own writes can carry news: a deletion or a new spec that began
between our read and our write. That news must wake the object's reconciler, because its own
watch event then looks older than the cache and wakes nobody (issue 14 item 8: deletions stuck
until a restart)."""

from __future__ import annotations

from module_controller.controllers.context import Context, news_in_answer
from module_controller.runtime.store import Store


def _obj(rv: int, *, generation: int = 1, deleting: bool = False) -> dict:
    meta = {"namespace": "ns", "name": "mrs", "uid": "u1", "resourceVersion": str(rv),
            "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T15:00:00Z"
    return {"metadata": meta}


def test_news_is_a_deletion_or_a_new_generation() -> None:
    assert news_in_answer(_obj(1), _obj(3, deleting=True))
    assert news_in_answer(_obj(1), _obj(3, generation=2))
    assert not news_in_answer(_obj(1), _obj(3))                     # only our status changed
    assert not news_in_answer(_obj(1, deleting=True), _obj(3, deleting=True))  # known already
    assert not news_in_answer(None, _obj(3, deleting=True))         # our own create


def test_a_deletion_seen_first_in_our_answer_wakes_the_reconciler() -> None:
    ctx = Context(settings=None, kube=None, arklet=None, events=None)  # type: ignore[arg-type]
    store = Store("ModuleReplicaSet")
    store.upsert(_obj(1))
    woken: list[tuple[str, str]] = []
    # Our status write (rv 3) answers with the deletionTimestamp set at rv 2 ...
    ctx.remember_own(store, _obj(3, deleting=True), woken.append)
    assert woken == [("ns", "mrs")]
    # ... and the watch event of rv 2 is then older than the cache: it could wake nobody.
    assert store.upsert(_obj(2, deleting=True)) == (store.get("ns", "mrs"), False)
    ctx.remember_own(store, _obj(4, deleting=True), woken.append)
    assert woken == [("ns", "mrs")]

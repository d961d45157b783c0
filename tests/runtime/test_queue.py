"""The work queue: dedup, per-key serialisation, delays, backoff, run-again-after-processing."""

from __future__ import annotations

import asyncio
import random

import pytest

from module_controller.runtime.backoff import CappedJitterBackoff
from module_controller.runtime.queue import Result, WorkQueue
from module_controller_dev.devcluster.testing import wait_for


async def _started(queue: WorkQueue) -> WorkQueue:
    queue.start()
    return queue


async def test_burst_of_adds_costs_one_reconcile():
    calls: list[str] = []

    async def handler(key: str) -> None:
        calls.append(key)

    queue = await _started(WorkQueue("t", handler, workers=2))
    try:
        for _ in range(50):
            queue.add("a")
        queue.add("b")
        await asyncio.wait_for(queue.wait_idle(), 5)
        assert sorted(calls) == ["a", "b"]
    finally:
        await queue.stop()


async def test_one_key_never_runs_twice_at_once_and_reruns_after_change():
    running = 0
    peak = 0
    calls = 0
    gate = asyncio.Event()

    async def handler(key: str) -> None:
        nonlocal running, peak, calls
        running += 1
        calls += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1

    queue = await _started(WorkQueue("t", handler, workers=4))
    try:
        queue.add("k")
        await wait_for(lambda: asyncio.sleep(0, calls), lambda c: c == 1, timeout=5)
        queue.add("k")  # arrives while processing: must run once more, afterwards
        queue.add("k")
        gate.set()
        await asyncio.wait_for(queue.wait_idle(), 5)
        assert calls == 2 and peak == 1
    finally:
        await queue.stop()


async def test_requeue_after_and_earliest_schedule_wins():
    loop = asyncio.get_running_loop()
    times: list[float] = []
    failures_seen: list[int] = []

    async def handler(key: str) -> Result | None:
        times.append(loop.time())
        failures_seen.append(queue.failures(key))
        return Result(requeue_after=0.2) if len(times) == 1 else None

    queue = await _started(WorkQueue("t", handler))
    try:
        start = loop.time()
        queue.add("k", delay=3600.0)
        queue.add("k", delay=0.05)  # earlier wins: with the later one, wait_idle never ends
        await asyncio.wait_for(queue.wait_idle(), 30)
        assert len(times) == 2
        assert times[0] - start >= 0.05
        assert times[1] - times[0] >= 0.2
        # A requeue is a result, not a failure (a broken Result once turned every requeue into
        # a TypeError that the queue retried with backoff, up to --retry-backoff-max).
        assert failures_seen == [0, 0]
    finally:
        await queue.stop()


async def test_reported_failure_carries_its_message(caplog):
    from module_controller.runtime.queue import ReportedFailure

    async def handler(key: str) -> None:
        raise ReportedFailure("Arklet said no")

    queue = await _started(WorkQueue("t", handler, backoff=CappedJitterBackoff(3600, 3600)))
    try:
        queue.add("k")
        await wait_for(lambda: asyncio.sleep(0, queue.failures("k")), lambda n: n == 1, timeout=30)
        assert "Arklet said no" in caplog.text and "Traceback" not in caplog.text
    finally:
        await queue.stop()


async def test_failures_back_off_and_reset_after_success():
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def handler(key: str) -> None:
        times.append(loop.time())
        if len(times) <= 3:
            raise RuntimeError("boom")

    queue = await _started(WorkQueue("t", handler, backoff=CappedJitterBackoff(0.05, 1)))
    try:
        queue.add("k")
        await wait_for(lambda: asyncio.sleep(0, len(times)), lambda n: n == 4, timeout=5)
        await asyncio.wait_for(queue.wait_idle(), 5)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
        assert queue.failures("k") == 0
    finally:
        await queue.stop()


@pytest.mark.parametrize("failures", range(1, 30))
def test_queue_backoff_grows_and_is_capped(failures):
    # The queue uses the process's one retry policy (runtime/backoff.py): the wait after the
    # n-th failure lies in [max(initial, upper/2), upper] with upper = min(maximum, initial*2**n).
    backoff = CappedJitterBackoff(0.5, 30, rng=random.Random(failures))
    delay = backoff.wait(failures)
    upper = min(0.5 * 2 ** failures, 30)
    assert max(0.5, upper / 2) <= delay <= upper <= 30


def test_store_never_resurrects_a_deleted_object_or_goes_back_in_time():
    from module_controller.runtime.store import Store

    store = Store("Module")
    obj = {"metadata": {"namespace": "n", "name": "a", "uid": "u1", "resourceVersion": "5"}}
    assert store.upsert(obj) == (None, True)
    older = {"metadata": {**obj["metadata"], "resourceVersion": "4"}}
    assert store.upsert(older)[1] is False and store.get("n", "a") == obj
    store.remove(obj)
    late = {"metadata": {**obj["metadata"], "resourceVersion": "6", "deletionTimestamp": "x"}}
    assert store.upsert(late)[1] is False and store.get("n", "a") is None
    reborn = {"metadata": {"namespace": "n", "name": "a", "uid": "u2", "resourceVersion": "7"}}
    assert store.upsert(reborn)[1] is True


def test_store_reports_objects_a_fresh_list_shows_deleted():
    from module_controller.runtime.store import Store

    store = Store("Module")

    def obj(name: str, uid: str, rv: int) -> dict:
        return {"metadata": {"namespace": "n", "name": name, "uid": uid,
                             "resourceVersion": str(rv)}}

    kept, ghost, newer, recreated_old = obj("a", "u1", 5), obj("b", "u2", 6), obj("c", "u3", 12), \
        obj("d", "u4", 7)
    for o in (kept, ghost, newer, recreated_old):
        store.upsert(o)
    # The list was served at rv 10: "b" is gone, "c" was created after it (arrived by watch),
    # and "d" was deleted and created again under the same name (a new uid).
    listed = [kept, obj("d", "u5", 9)]
    missing = store.missing_from(listed, 10)
    assert sorted(m["metadata"]["uid"] for m in missing) == ["u2", "u4"]
    assert store.missing_from(listed, 10, namespace="other") == []


async def test_resync_coalesces_requests_and_drops_what_the_list_lacks():
    import asyncio

    from module_controller.runtime.resync import Kind, Resync
    from module_controller.runtime.store import Store
    from module_controller.kube.io import Listing

    store = Store("Pod")
    for uid, rv in (("u1", 1), ("u2", 2)):
        store.upsert({"metadata": {"namespace": "n", "name": uid, "uid": uid,
                                   "resourceVersion": str(rv)}})
    lists, deleted = [], []

    async def list_pods(namespace):
        lists.append(namespace)
        return Listing([store.get("n", "u1")], 3)

    resync = Resync({"Pod": Kind(store, list_pods, lambda o: deleted.append(o["metadata"]["uid"]))},
                    (), min_interval=0.2)
    resync.listed("Pod")  # primed just now: the first resync waits out min_interval
    for _ in range(5):  # a re-list delivers many objects; each asks
        resync.request("Pod")
    resync.request("Unknown")
    assert list(resync._pending) == ["Pod"]
    task = resync._pending["Pod"]
    await asyncio.wait_for(task, timeout=5)
    assert lists == [None] and deleted == ["u2"]
    await resync.stop()

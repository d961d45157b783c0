"""The drift check reads a listing that a Module reconcile took instead of asking the base again
(controllers/listings.py), once, and judges a Module only by a listing asked for after it became
Available. Real Arklet client, a real fake Arklet over HTTP; no Kubernetes (the caches are
filled by hand)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from module_controller.api import constants as c
from module_controller.api import objects
from module_controller.arklet import ArkletClient, ArkletSettings, BizInfo
from module_controller.controllers.drift import DriftChecker
from module_controller.controllers.listings import Listings
from module_controller.controllers.module_calls import ModuleCalls
from module_controller_dev.fakearklet.server import FakeArklet
from module_controller.planning.arklet_answers import Answer
from module_controller.settings import Settings

from helpers.wired import offline_context

NS = "ns"
PERIOD = 60.0


class Recorded:
    """The Events the checker records (the recorder's own tests cover posting them)."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def record(self, obj: dict, type_: str, reason: str, message: str) -> None:
        self.reasons.append(reason)


def base_pod() -> dict:
    return {"kind": "Pod", "metadata": {"name": "base-0", "namespace": NS, "uid": "pod-uid"},
            "status": {"phase": "Running", "podIP": "127.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def available_module(name: str, since: float) -> dict:
    when = objects.format_time(dt.datetime.fromtimestamp(since, dt.timezone.utc))
    return {"kind": "Module",
            "metadata": {"name": name, "namespace": NS, "uid": name, "generation": 1,
                         "labels": {c.LABEL_BASE_INSTANCE_NAME: "base-0"}},
            "spec": {"module": {"name": name, "version": "1.0.0"}},
            "status": {"status": "Available", "observedGeneration": 1,
                       "lastTransitionTime": when}}


@pytest.fixture
async def fake():
    arklet = FakeArklet("127.0.0.1", 0, seed=1)
    await arklet.start()
    try:
        yield arklet
    finally:
        await arklet.stop()


@pytest.fixture
async def checked(fake):
    """A drift checker over one base pod hosting Module ``m``, Available for an hour; the biz
    is not on the base (the fake is empty). Yields the checker, the Events and the Modules it
    asked to reconcile."""
    settings = Settings(arklet=ArkletSettings(port=fake.port, connect_timeout=0.5, timeout=2.0,
                                              attempts=1))
    events = Recorded()
    listings = Listings()
    async with ArkletClient(settings.arklet, on_change=listings.changed) as client:
        ctx = offline_context(settings, arklet=client, events=events, listings=listings)
        ctx.caches.pods.upsert(base_pod())
        ctx.caches.modules.upsert(available_module("m", time.time() - 3600))
        woken: list[tuple[str, str]] = []
        checker = DriftChecker(ctx, listings, PERIOD, remove_orphans=False,
                               reconcile_module=woken.append)
        yield checker, events, woken


def queries(fake: FakeArklet) -> int:
    return sum(1 for r in fake.requests if r.command == "queryAllBiz")


async def test_a_fresh_listing_is_read_instead_of_a_query_and_only_once(checked, fake):
    checker, events, woken = checked
    pod = checker.ctx.caches.pods.get(NS, "base-0")
    # A Module reconcile listed the base a second ago: nothing there.
    checker.listings.record("pod-uid", "127.0.0.1", time.time() - 1, [])
    await checker._check_pod(pod)
    assert queries(fake) == 0
    assert woken == [(NS, "m")] and events.reasons == ["BizMissing"]
    # Taken: the next look asks the base itself.
    await checker._check_pod(pod)
    assert queries(fake) == 1
    assert woken == [(NS, "m")] * 2


async def test_a_listing_older_than_the_period_is_not_read(checked, fake):
    checker, events, woken = checked
    checker.listings.record("pod-uid", "127.0.0.1", time.time() - PERIOD - 5,
                            [BizInfo("m", "1.0.0", "ACTIVATED")])
    await checker._check_pod(checker.ctx.caches.pods.get(NS, "base-0"))
    assert queries(fake) == 1
    assert woken == [(NS, "m")]  # judged by the base's own (empty) answer, not the old listing


async def test_a_module_available_after_the_listing_was_asked_for_is_not_judged(checked, fake):
    checker, events, woken = checked
    ctx = checker.ctx
    # "n" turned Available after the listing was asked for: its install may have ended after
    # the base answered, so its absence from the listing says nothing.
    ctx.caches.modules.upsert(available_module("n", time.time()))
    checker.listings.record("pod-uid", "127.0.0.1", time.time() - 5, [BizInfo("m", "1.0.0", "ACTIVATED")])
    await checker._check_pod(ctx.caches.pods.get(NS, "base-0"))
    assert queries(fake) == 0
    assert woken == [] and events.reasons == []


async def test_listings_of_pods_that_host_nothing_are_forgotten(checked):
    checker, _, _ = checked
    checker.listings.record("pod-uid", "127.0.0.1", time.time(), [])
    checker.listings.record("gone-pod", "127.0.0.2", time.time(), [])
    assert checker._hosting() and len(checker.listings) == 2
    checker.listings.keep_only({p["metadata"]["uid"] for p in checker._hosting()}, {"127.0.0.1"})
    assert len(checker.listings) == 1 and checker.listings.take("gone-pod") is None


async def test_a_listing_asked_for_before_a_change_on_the_base_is_not_read(checked, fake):
    """A Module's removal listed the base, then uninstalled its biz and went: that listing
    shows a biz no Module stands for, which is no longer there."""
    checker, events, woken = checked
    checker.listings.record("pod-uid", "127.0.0.1", time.time() - 1,
                            [BizInfo("gone", "1.0.0", "ACTIVATED")])
    await checker.ctx.arklet.uninstall("127.0.0.1", "gone", "1.0.0")  # reported by the client
    await checker._check_pod(checker.ctx.caches.pods.get(NS, "base-0"))
    assert queries(fake) == 1  # asked the base itself
    assert "UnmanagedBiz" not in events.reasons


async def test_a_listing_older_than_what_the_check_looked_at_is_not_read(checked, fake):
    checker, _, _ = checked
    pod = checker.ctx.caches.pods.get(NS, "base-0")
    await checker._check_pod(pod)  # its own query
    # A query that was on its way when the check asked answers now, older than the check's.
    checker.listings.record("pod-uid", "127.0.0.1", time.time() - 2, [])
    await checker._check_pod(pod)
    assert queries(fake) == 2


async def test_a_module_reconciles_query_leaves_its_listing(checked, fake):
    checker, _, _ = checked
    calls = ModuleCalls(checker.ctx, writes=None, failures=lambda key: 0)  # type: ignore[arg-type]
    before = time.time()
    answer, _, versions = await calls.query((NS, "m"), "127.0.0.1", fake.port, "m", "pod-uid")
    assert answer is Answer.DONE and versions == {}
    listing = checker.listings.take("pod-uid")
    assert listing is not None and listing.bizzes == () and listing.asked_at >= before

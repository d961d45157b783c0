"""Serialisation per (base, module name) and the global concurrency bound, seen from the fake.

The fakes here run with ``serialize_requests=False`` so that they process requests in parallel:
any overlap the client allows shows up in their request logs (arrival times). A request with
latency L at the fake occupies the client for at least L after its arrival, which turns "never
overlap" into a checkable lower bound on arrival gaps.
"""

from __future__ import annotations

import asyncio

from arklet_testkit import MakeArklet, MakeClient

from module_controller.arklet import BizRef, Outcome
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import wait_until

LATENCY = 0.4
SLACK = 0.01  # clock granularity between the fake's time stamps
HOLD = 60.0  # client timeout while the fakes hang: the calls are still pending when we look


def _arrivals(arklet: FakeArklet, command: str) -> list[float]:
    return sorted(r.time for r in arklet.requests if r.command == command)


def _ref(name: str, version: str) -> BizRef:
    return BizRef(name, version, f"http://repo/{name}-{version}-ark-biz.jar")


async def test_calls_for_one_module_on_one_base_never_overlap(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False, install_latency=LATENCY)
    client, _ = make_client()

    # Two versions of one name: Arklet itself would run these side by side (its lock is
    # per name:version), so only the client's per-name lock keeps them apart.
    results = await asyncio.gather(
        client.install("127.0.0.1", _ref("provider", "1.0.1"), port=arklet.port),
        client.install("127.0.0.1", _ref("provider", "1.0.2"), port=arklet.port),
        client.uninstall("127.0.0.1", "provider", "1.0.1", port=arklet.port),
    )

    assert [r.outcome for r in results] == [Outcome.SUCCESS] * 3  # run in call order
    first, second = _arrivals(arklet, "installBiz")
    assert second - first >= LATENCY - SLACK  # the second started after the first finished
    assert _arrivals(arklet, "uninstallBiz")[0] - second >= LATENCY - SLACK
    assert client.lock_count == 0  # idle keys are dropped


async def test_same_name_and_version_twice_gives_repeat_not_conflict(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False, install_latency=0.2)
    client, calls = make_client()
    ref = _ref("provider", "1.0.2")
    results = await asyncio.gather(*(client.install("127.0.0.1", ref, port=arklet.port)
                                     for _ in range(2)))
    assert sorted(r.outcome.name for r in results) == ["REPEAT_BIZ", "SUCCESS"]
    assert "CONFLICT" not in calls.labels()


async def test_other_modules_and_other_bases_are_not_held_up(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    one = await make_arklet("127.0.0.1", serialize_requests=False, install_latency=LATENCY)
    two = await make_arklet("127.0.0.2", serialize_requests=False, install_latency=LATENCY)
    client, _ = make_client()

    results = await asyncio.gather(
        client.install("127.0.0.1", _ref("provider", "1.0.0"), port=one.port),
        client.install("127.0.0.1", _ref("consumer", "1.0.0"), port=one.port),
        client.install("127.0.0.2", _ref("provider", "1.0.0"), port=two.port),
    )

    assert all(r.ok for r in results)
    assert len(_arrivals(one, "installBiz") + _arrivals(two, "installBiz")) == 3


async def test_independent_calls_are_in_flight_together(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    """Held at the fakes (they never answer), all three calls arrive: none of them waits for
    another to finish.
    (Checked by arrival while held, not by a wall-clock bound, so a busy machine cannot fail it.)"""
    one = await make_arklet("127.0.0.1", serialize_requests=False)
    two = await make_arklet("127.0.0.2", serialize_requests=False)
    for fake in (one, two):
        fake.faults.set("installBiz", hang=True)  # logged on arrival, never answered
    client, _ = make_client(install_timeout=HOLD)
    calls = [asyncio.create_task(client.install(f.host, _ref(name, "1.0.0"), port=f.port))
             for f, name in ((one, "provider"), (one, "consumer"), (two, "provider"))]
    try:
        await wait_until(lambda: len(_arrivals(one, "installBiz") + _arrivals(two, "installBiz"))
                         == 3, timeout=HOLD / 2, what="three installs in flight at once")
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)


async def test_lock_is_held_during_a_call_and_released_on_cancellation(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False, install_latency=5.0)
    client, _ = make_client(install_timeout=10.0)
    stuck = asyncio.create_task(client.install("127.0.0.1", _ref("provider", "1.0.0"),
                                               port=arklet.port))
    await wait_until(lambda: arklet.core.busy_keys() == {"provider:1.0.0"}, timeout=2,
                     what="install in progress at the fake")
    assert client.lock_count == 1

    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)

    assert stuck.cancelled() and client.lock_count == 0
    arklet.install_latency = 0.0
    # The name is free again for this client (another version: the fake still runs the first).
    assert (await client.install("127.0.0.1", _ref("provider", "1.0.1"),
                                 port=arklet.port)).ok


async def test_concurrency_bound_holds_across_bases(make_arklet: MakeArklet,
                                                    make_client: MakeClient) -> None:
    bound = 2
    fakes = [await make_arklet(f"127.0.0.{i}", serialize_requests=False) for i in (1, 2, 3)]
    for fake in fakes:
        fake.faults.set("queryAllBiz", latency=LATENCY)
    client, calls = make_client(concurrency=bound, timeout=5.0)

    await asyncio.gather(*(client.query_all(f.host, port=f.port) for f in fakes for _ in (1, 2)))

    arrivals = sorted(t for f in fakes for t in _arrivals(f, "queryAllBiz"))
    assert len(arrivals) == 6 and calls.labels() == ["SUCCESS"] * 6
    # With at most `bound` in flight, any `bound + 1` consecutive arrivals span >= LATENCY:
    # the last of them could only start once one of the others had finished.
    for i in range(len(arrivals) - bound):
        assert arrivals[i + bound] - arrivals[i] >= LATENCY - SLACK, (i, arrivals)


async def test_concurrency_bound_is_used(make_arklet: MakeArklet,
                                         make_client: MakeClient) -> None:
    """With every answer held at the fakes, exactly ``bound`` calls arrive: the bound lets that
    many run side by side (and the test above shows it lets no more)."""
    bound = 2
    fakes = [await make_arklet(f"127.0.0.{i}", serialize_requests=False) for i in (1, 2, 3)]
    for fake in fakes:
        fake.faults.set("queryAllBiz", hang=True)  # logged on arrival, never answered
    client, _ = make_client(concurrency=bound, timeout=HOLD)
    calls = [asyncio.create_task(client.query_all(f.host, port=f.port)) for f in fakes]
    try:
        await wait_until(lambda: sum(len(_arrivals(f, "queryAllBiz")) for f in fakes) == bound,
                         timeout=HOLD / 2, what=f"{bound} queries in flight at once")
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)

"""Arklet calls limited per base (arklet/base_slots.py), seen from the fake Arklet over HTTP.

The fakes run with ``serialize_requests=False``: any overlap the client allows reaches them.
Nothing here asserts a wall-clock upper bound: arrivals are counted while the fake holds them,
and waits poll with deadlines.
"""

from __future__ import annotations

import asyncio

import pytest
from arklet_testkit import MakeArklet, MakeClient

from module_controller.arklet import ArkletBusy, ArkletUnavailable
from module_controller.arklet.base_slots import BaseBusy, BaseSlots
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import wait_until

HOLD = 60.0  # a timeout no held call reaches while the test looks


def _base(arklet: FakeArklet) -> tuple[str, int]:
    """The client's key of a base: its Arklet's address and port."""
    return arklet.host, arklet.port


def _arrived(arklet: FakeArklet, command: str = "queryAllBiz") -> int:
    return sum(1 for r in arklet.requests if r.command == command)


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_at_most_per_base_calls_reach_one_base_and_others_are_not_held_up(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    slow = await make_arklet("127.0.0.1", serialize_requests=False)
    other = await make_arklet("127.0.0.2", serialize_requests=False)
    slow.faults.set("queryAllBiz", hang=True)  # logged on arrival, never answered
    client, _ = make_client(per_base=3, per_base_queue=10, timeout=HOLD)
    calls = [asyncio.create_task(client.query_all(slow.host, port=slow.port)) for _ in range(8)]
    try:
        await wait_until(lambda: _arrived(slow) == 3 and client.slots.waiting(_base(slow)) == 5,
                         timeout=HOLD / 2, what="3 queries at the base, 5 waiting")
        # Another base is served at once, beside the full one.
        assert await client.query_all(other.host, port=other.port) == []
        assert _arrived(slow) == 3
    finally:
        await _cancel(calls)


async def test_a_full_queue_refuses_at_once_and_sends_nothing(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False)
    arklet.faults.set("queryAllBiz", hang=True)
    client, calls = make_client(per_base=1, per_base_queue=1, timeout=HOLD)
    held = [asyncio.create_task(client.query_all(arklet.host, port=arklet.port))
            for _ in range(2)]
    try:
        await wait_until(lambda: _arrived(arklet) == 1 and client.slots.waiting(_base(arklet)) == 1,
                         timeout=HOLD / 2, what="one query in flight, one waiting")
        with pytest.raises(ArkletBusy) as refused:
            await client.query_all(arklet.host, port=arklet.port)
        assert refused.value.attempts == 0 and "busy" in refused.value.last_error
        assert _arrived(arklet) == 1 and calls.labels()[-1] == "base_busy"
    finally:
        await _cancel(held)


async def test_a_queued_call_waits_at_most_its_bound(make_arklet: MakeArklet,
                                                     make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False)
    arklet.faults.set("queryAllBiz", hang=True)
    client, _ = make_client(per_base=1, per_base_queue=4, timeout=HOLD, queue_wait=0.2)
    held = asyncio.create_task(client.query_all(arklet.host, port=arklet.port))
    try:
        await wait_until(lambda: _arrived(arklet) == 1, timeout=HOLD / 2, what="one in flight")
        with pytest.raises(ArkletBusy, match="no free slot within 0.2s"):
            await client.query_all(arklet.host, port=arklet.port)
        assert _arrived(arklet) == 1 and client.slots.waiting(_base(arklet)) == 0
    finally:
        await _cancel([held])


async def test_a_timed_out_call_keeps_its_slot_until_its_bound(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    """The base still works on a call the client stopped waiting for: it counts against the
    base, so the next call waits instead of being sent on top of it, and is sent once the hung
    call's bound (slot_held: twice its timeout) has passed."""
    arklet = await make_arklet(serialize_requests=False)
    arklet.faults.set("queryAllBiz", fail_count=1, fail_code="hang")
    client, calls = make_client(per_base=1, per_base_queue=4, timeout=0.3, queue_wait=HOLD)
    with pytest.raises(ArkletUnavailable):
        await client.query_all(arklet.host, port=arklet.port)
    # Read before anything else runs on the loop: the hung exchange still holds the slot.
    assert calls.labels() == ["timeout"] and client.slots.in_flight(_base(arklet)) == 1
    nxt = asyncio.create_task(client.query_all(arklet.host, port=arklet.port))
    await wait_until(lambda: client.slots.waiting(_base(arklet)) == 1 or nxt.done(),
                     timeout=HOLD / 2, what="the next call waiting for the slot")
    assert await nxt == []
    assert _arrived(arklet) == 2
    await wait_until(lambda: client.slots.in_flight(_base(arklet)) == 0, timeout=HOLD / 2,
                     what="every slot released")


async def test_a_late_answer_gives_the_slot_back(make_arklet: MakeArklet,
                                                 make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False)
    arklet.faults.set("queryAllBiz", latency=0.5)
    client, _ = make_client(per_base=1, timeout=0.3, queue_wait=HOLD)
    with pytest.raises(ArkletUnavailable):
        await client.query_all(arklet.host, port=arklet.port)
    await wait_until(lambda: client.slots.in_flight(_base(arklet)) == 0, timeout=HOLD / 2,
                     what="the slot released by the late answer (or the bound)")
    arklet.faults.clear()
    assert await client.query_all(arklet.host, port=arklet.port) == []


async def test_close_ends_the_calls_that_outlived_their_callers(
        make_arklet: MakeArklet, make_client: MakeClient) -> None:
    arklet = await make_arklet(serialize_requests=False)
    arklet.faults.set("queryAllBiz", hang=True)
    client, _ = make_client(per_base=2, timeout=0.2)
    with pytest.raises(ArkletUnavailable):
        await client.query_all(arklet.host, port=arklet.port)
    assert client.slots.in_flight(_base(arklet)) == 1
    await client.close()
    assert client.slots.in_flight(_base(arklet)) == 0


async def test_base_slots_alone() -> None:
    slots = BaseSlots(per_base=1, queue=0, wait=0.0)
    await slots.acquire("a")
    with pytest.raises(BaseBusy):
        await slots.acquire("a")
    await slots.acquire("b")  # another base
    slots.release("a")
    slots.release("b")
    await slots.acquire("a")
    slots.release("a")
    assert slots.in_flight("a") == 0 and slots._bases == {}
    with pytest.raises(ValueError):
        BaseSlots(per_base=0, queue=1, wait=1.0)


async def test_two_arklets_on_one_address_are_two_bases(make_arklet: MakeArklet,
                                                        make_client: MakeClient) -> None:
    full = await make_arklet("127.0.0.1", serialize_requests=False)
    other = await make_arklet("127.0.0.1", serialize_requests=False)
    full.faults.set("queryAllBiz", hang=True)
    client, _ = make_client(per_base=1, per_base_queue=0, timeout=HOLD)
    held = asyncio.create_task(client.query_all(full.host, port=full.port))
    try:
        await wait_until(lambda: _arrived(full) == 1, timeout=HOLD / 2, what="one in flight")
        assert await client.query_all(other.host, port=other.port) == []
    finally:
        await _cancel([held])

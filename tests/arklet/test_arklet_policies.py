"""Unit tests of the client's policies: retry waits, keyed locks, settings validation."""

from __future__ import annotations

import asyncio
import random

import pytest

from module_controller.arklet import ArkletClient, ArkletSettings, CappedJitterBackoff
from module_controller.arklet.locks import KeyedLocks

# --- backoff ---------------------------------------------------------------------------------


def test_backoff_windows_grow_then_cap() -> None:
    policy = CappedJitterBackoff(0.2, 5.0)
    windows = [policy.bounds(n) for n in range(1, 12)]
    assert windows[0] == (0.2, 0.4)
    assert windows[1] == (0.4, 0.8)
    assert windows[2] == (0.8, 1.6)
    lowers = [lo for lo, _ in windows]
    uppers = [hi for _, hi in windows]
    assert lowers == sorted(lowers) and uppers == sorted(uppers)  # never shrinks
    assert windows[-1] == (2.5, 5.0)  # capped, but still a window: jitter survives the cap
    assert all(0.2 <= lo <= hi <= 5.0 for lo, hi in windows)
    assert policy.bounds(10_000) == (2.5, 5.0)  # huge retry numbers do not overflow


def test_backoff_draws_stay_in_their_window_and_jitter() -> None:
    policy = CappedJitterBackoff(0.2, 5.0, rng=random.Random(42))
    for retry in range(1, 10):
        lower, upper = policy.bounds(retry)
        draws = [policy.wait(retry) for _ in range(50)]
        assert all(lower <= d <= upper for d in draws)
        assert len(set(draws)) > 1  # jitter: not one fixed value


def test_backoff_is_a_tenacity_wait_on_the_failed_attempt_number() -> None:
    class State:
        attempt_number = 3

    policy = CappedJitterBackoff(0.1, 10.0, rng=random.Random(1))
    assert 0.4 <= policy(State()) <= 0.8  # type: ignore[arg-type]


def test_backoff_with_initial_equal_to_max_is_constant() -> None:
    policy = CappedJitterBackoff(1.0, 1.0)
    assert {policy.wait(n) for n in range(1, 5)} == {1.0}


def test_backoff_rejects_inverted_bounds() -> None:
    with pytest.raises(ValueError):
        CappedJitterBackoff(2.0, 1.0)


def test_client_uses_the_settings_backoff() -> None:
    client = ArkletClient(ArkletSettings(backoff_initial=0.3, backoff_max=2.0))
    assert client.wait_policy.bounds(1) == (0.3, 0.6)
    assert client.wait_policy.bounds(9) == (1.0, 2.0)


# --- settings --------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    s = ArkletSettings()
    assert (s.port, s.connect_timeout, s.timeout, s.install_timeout, s.attempts,
            s.backoff_initial, s.backoff_max, s.concurrency) == (1238, 2.0, 10.0, 120.0, 4, 0.2,
                                                                 5.0, 256)
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("bad", [
    {"port": 0}, {"port": 70000}, {"timeout": 0}, {"connect_timeout": -1},
    {"install_timeout": 0}, {"attempts": 0}, {"attempts": 1.5}, {"concurrency": 0},
    {"backoff_initial": 3.0, "backoff_max": 1.0}, {"backoff_initial": -0.1},
])
def test_settings_reject_unusable_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        ArkletSettings(**bad)


# --- keyed locks -----------------------------------------------------------------------------


async def test_keyed_locks_serialise_one_key_and_drop_idle_entries() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with locks.hold("a"):
            order.append("first in")
            first_in.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with locks.hold("a"):
            order.append("second in")

    async def other_key() -> None:
        await first_in.wait()
        async with locks.hold("b"):
            order.append("b in")

    tasks = [asyncio.create_task(f()) for f in (first, second, other_key)]
    await first_in.wait()
    await asyncio.wait_for(tasks[2], 2)  # another key is not blocked by "a"
    assert order == ["first in", "b in"]
    assert "a" in locks and locks.locked("a") and "b" not in locks
    release_first.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert order == ["first in", "b in", "first out", "second in"]
    assert len(locks) == 0


async def test_keyed_locks_cancelled_waiter_does_not_leak() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("k"):
            held.set()
            await release.wait()

    async def waiter() -> None:
        async with locks.hold("k"):
            raise AssertionError("must not get the lock")

    h = asyncio.create_task(holder())
    await held.wait()
    w = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # let the waiter run up to the lock (a yield, not a timed wait)
    assert locks._entries["k"].users == 2  # holder + queued waiter
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await w
    release.set()
    await asyncio.wait_for(h, 2)
    assert len(locks) == 0

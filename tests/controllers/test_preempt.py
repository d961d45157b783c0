"""Deletion pre-empts an Arklet call in flight (controllers/preempt.py), without a cluster."""

from __future__ import annotations

import asyncio

import pytest

from module_controller.controllers.preempt import Deleted, DeletionSignals


async def test_call_in_flight_is_cancelled_when_the_deletion_is_seen():
    signals = DeletionSignals()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hanging_install() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # an Arklet that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    run = asyncio.ensure_future(signals.unless_deleted("k", hanging_install, lambda: False))
    await asyncio.wait_for(started.wait(), 5)
    signals.seen("other")  # another key's deletion leaves this call alone
    await asyncio.sleep(0)
    assert not run.done()
    signals.seen("k")
    with pytest.raises(Deleted):
        await asyncio.wait_for(run, 5)
    assert cancelled.is_set()
    assert len(signals) == 0  # nothing kept once the call is over


async def test_no_call_is_made_for_an_object_already_deleting():
    signals = DeletionSignals()
    calls: list[str] = []

    async def install() -> str:
        calls.append("install")
        return "done"

    with pytest.raises(Deleted):
        await signals.unless_deleted("k", install, lambda: True)
    assert calls == []
    assert len(signals) == 0


async def test_answer_and_errors_pass_through():
    signals = DeletionSignals()

    async def answer() -> str:
        return "SUCCESS"

    async def broken() -> str:
        raise RuntimeError("boom")

    assert await signals.unless_deleted("k", answer, lambda: False) == "SUCCESS"
    with pytest.raises(RuntimeError, match="boom"):
        await signals.unless_deleted("k", broken, lambda: False)
    signals.seen("k")  # after the call: nothing to abandon, no error
    assert len(signals) == 0

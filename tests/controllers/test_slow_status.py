"""ModuleWrites.show_if_slow (the Module reconciler's slow-phase write) on its own (no cluster: it
only orders two coroutines)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from module_controller.api import ModulePhase
from module_controller.controllers.module_writes import ModuleWrites


class Recorder(ModuleWrites):
    """Its status write starts, then waits for ``release`` before it counts as written."""

    def __init__(self, slow_after: float):
        super().__init__(SimpleNamespace(settings=SimpleNamespace(slow_status_after=slow_after)))
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.written: list[str] = []

    async def set_status(self, key, phase, reason, message, installed=None, counted=None) -> bool:
        self.started.set()
        await self.release.wait()
        self.written.append(phase.value)
        return True


async def test_a_status_write_under_way_is_finished_not_cancelled():
    reconciler = Recorder(slow_after=0.0)
    async with reconciler.show_if_slow(("ns", "m"), ModulePhase.UPGRADING, "Installing", "..."):
        await reconciler.started.wait()  # the body ends while the Upgrading write is in flight
        asyncio.get_running_loop().call_soon(reconciler.release.set)
    assert reconciler.written == ["Upgrading"], "the write must be over before the caller goes on"


async def test_nothing_is_written_when_the_body_is_quick():
    reconciler = Recorder(slow_after=60.0)
    async with reconciler.show_if_slow(("ns", "m"), ModulePhase.UPGRADING, "Installing", "..."):
        pass
    assert reconciler.written == [] and not reconciler.started.is_set()

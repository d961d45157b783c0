"""The commands with the API replaced by a scripted fake: watch redraws only on change and ends
as asked; writes retry on a conflict and say when nothing changed."""

from __future__ import annotations

import io
import json

import pytest

from module_controller.plugin import args as cli
from module_controller.plugin import commands
from module_controller.plugin.kube import Conflict, PluginError

from test_plugin_view import md, mrs, URL1


class FakeIO:
    namespace = "ns"

    def __init__(self, deployments: list[dict], conflicts: int = 0):
        self.deployments = deployments
        self.reads = 0
        self.conflicts = conflicts
        self.patches: list[dict] = []

    async def get_deployment(self, name: str) -> dict:
        if self.reads >= len(self.deployments):
            raise PluginError(f'moduledeployment "{name}" not found in namespace "ns"')
        obj = self.deployments[self.reads]
        self.reads += 1
        return obj

    async def replicasets(self, name: str) -> list[dict]:
        return [mrs(1, "1.0.2", URL1, 1, 1)]

    async def modules(self, selector: str) -> list[dict]:
        return []

    async def events(self, name: str, uid: str | None = None) -> list[dict]:
        return []

    async def patch_deployment(self, name: str, patch: dict) -> dict:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict()
        self.patches.append(patch)
        return {}


async def run(fake: FakeIO, *argv: str) -> tuple[int, str]:
    parsed = cli.parse(list(argv))
    out = io.StringIO()
    code = await commands.COMMANDS[parsed.command](fake, parsed, out)
    return code, out.getvalue()


async def test_watch_redraws_on_change_only_and_stops_when_done():
    paused = md()
    fake = FakeIO([paused, paused, paused, md("Executing", current=2, pause=False, confirm=1),
                   md("Completed", current=2, pause=False)])
    code, out = await run(fake, "status", "sample", "--watch", "--until-done", "--interval", "0.01",
                          "-o", "json")
    docs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [d["progress"] for d in docs] == ["Paused", "Executing", "Completed"]
    assert fake.reads == 5


async def test_watch_ends_at_the_timeout_and_when_the_object_goes():
    fake = FakeIO([md()] * 10_000)
    code, out = await run(fake, "status", "sample", "-w", "--interval", "0.01", "--timeout", "0.05")
    assert code == 0 and out.count("Name:") == 1  # one frame: nothing changed
    with pytest.raises(PluginError, match="timed out after 0.05s waiting for moduledeployment "
                                          '"sample" to complete'):
        await run(FakeIO([md()] * 10_000), "status", "sample", "-w", "--until-done",
                  "--interval", "0.01", "--timeout", "0.05")
    code, out = await run(FakeIO([md()]), "status", "sample", "-w", "--interval", "0.01")
    assert code == 0 and out.endswith("moduledeployment sample is gone\n")


async def test_promote_retries_a_conflict_with_a_fresh_read():
    fake = FakeIO([md(), md(), md()], conflicts=1)
    code, out = await run(fake, "promote", "sample")
    assert code == 0 and fake.reads == 2 and len(fake.patches) == 1
    assert fake.patches[0]["spec"] == {"confirmBatchNum": 1}
    assert "promoted" in out


async def test_nothing_to_change_writes_nothing():
    fake = FakeIO([md(pause=False)])
    code, out = await run(fake, "resume", "sample", "-o", "yaml")
    assert code == 0 and fake.patches == []
    assert "changed: false" in out

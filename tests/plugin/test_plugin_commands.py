"""The writing commands over a scripted stand-in of the plugin's I/O layer (not of the API): a
write retries on a conflict and says when nothing changed. ``status --watch`` is tested against
the dev cluster's real watches (test_plugin_watch.py)."""

from __future__ import annotations

import io

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


async def test_promote_retries_a_conflict_with_a_fresh_read():
    fake = FakeIO([md(), md(), md()], conflicts=1)
    code, out = await run(fake, "promote", "sample")
    assert code == 0 and fake.reads == 2 and len(fake.patches) == 1
    assert fake.patches[0]["spec"] == {"confirmBatchNum": 1}
    assert out.startswith("moduledeployment sample: wrote spec.confirmBatchNum=1 (confirms the "
                          "pause after group 1 of 2: group 2 may start)")


async def test_nothing_to_change_writes_nothing():
    fake = FakeIO([md(pause=False)])
    code, out = await run(fake, "resume", "sample", "-o", "yaml")
    assert code == 0 and fake.patches == []
    assert "changed: false" in out

"""Driving the pure fake Arklet core the way its shell does (test_fakearklet_core.py,
test_fakearklet_op_records.py): ``handle`` → (download: jar bytes built here from the url's file
name, as the module repository would) → ``unpacked`` → ``finish``."""

from __future__ import annotations

from urllib.parse import urlsplit

from module_controller_dev.fakearklet.core import ArkletCore
from module_controller_dev.fakearklet.vocabulary import PendingOp, Reply, Started
from module_controller_dev.modulerepo.jars import build_biz_jar, parse_jar_name

URL = "http://repo/provider-1.0.2-ark-biz.jar"


def jar_for(url: str) -> bytes:
    name = parse_jar_name(urlsplit(url).path.rsplit("/", 1)[-1])
    assert name is not None, url
    return build_biz_jar(name.biz_name, name.version)


def run(core: ArkletCore, command: str, body: dict | None = None, now: float = 1000.0,
        jar: bytes | None = None) -> Reply:
    """Handle a command to completion and return the reply."""
    step = core.handle(command, body or {}, now=now)
    if not isinstance(step, PendingOp):
        return step
    if command == "installBiz":
        unpacked = core.unpacked(step, jar if jar is not None else jar_for(step.biz_url),
                                 now=now + 0.01)
        if isinstance(unpacked, Reply):
            return unpacked
        assert isinstance(unpacked, Started)
    return core.finish(step, now=now + 0.5)


def install(core: ArkletCore, name: str, version: str, **extra: object) -> Reply:
    return run(core, "installBiz", {"bizName": name, "bizVersion": version,
                                    "bizUrl": f"http://repo/{name}-{version}-ark-biz.jar",
                                    **extra})

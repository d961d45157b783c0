"""Real base JVMs of both generations: start, health, install a module over http, see it
ACTIVATED, stop, and nothing left running. Both JVMs start at once (they share the two cores
either way, and each start is mostly waiting on class loading).

The module jars come from the project's module repository, which the JVMs use as their HTTP proxy
(``-Dhttp.proxyHost/Port``), as on the dev cluster: the 2025 base fetches a url naming a host that
does not exist, so the jar can only have come through the proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from module_controller_dev.realbase import jvm
from module_controller_dev.realbase.testing import ensure_jars

pytestmark = pytest.mark.realbase

MAIN_CLASS = "dev.realbase.provider.ProviderApplication"  # the Maven-built module, not a stand-in


@pytest.fixture(scope="module")
def module_repo(tmp_path_factory):
    """``python -m module_controller_dev.modulerepo`` serving the jar cache; yields its ready line."""
    jars = ensure_jars()
    log = tmp_path_factory.mktemp("modulerepo") / "log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "module_controller_dev.modulerepo", "--port=0",
             f"--dir={jars.dir / 'modules-2025'}", f"--dir={jars.dir / 'modules-2023'}"],
            stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = proc.stdout.readline()
        assert line, f"module repository did not start: {log.read_text()}"
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(10)


def _unpack_dirs(workdir: Path) -> list[Path]:
    return list((workdir / "tmp" / "sofa-ark").glob("*-unpack"))


def test_both_generations_install_a_real_module(tmp_path, module_repo):
    jars = ensure_jars()
    proxy = module_repo["proxy"]
    bases = {g: jvm.launch(jars.base(g), g, tmp_path / f"base-{g}", proxy=proxy)
             for g in ("2025", "2023")}
    urls = {
        # through the proxy: no such host exists
        "2025": "http://modules.invalid/module-packages/dynamic-provider-1.0.2-ark-biz.jar",
        # the repository's own url (also through the proxy: nothing is exempt)
        "2023": f"{module_repo['url']}/modules-2023/dynamic-provider-1.0.2-ark-biz.jar",
    }
    try:
        for g, base in bases.items():
            took = base.wait_healthy()
            rss = base.rss_bytes() or 0
            print(f"base {g}: health after {took:.1f} s, RSS {rss / 2**20:.0f} MiB, port {base.port}")
            health = base.call("health")
            assert health["code"] == "SUCCESS"
            assert health["data"]["healthData"]["masterBizInfo"]["bizName"] == f"base-{g}"

        for g, base in bases.items():
            reply = base.call("installBiz", {"bizName": "provider", "bizVersion": "1.0.2",
                                             "bizUrl": urls[g]}, timeout=120)
            assert reply["code"] == "SUCCESS", reply
            bizzes = base.call("queryAllBiz")["data"]
            states = {(b["bizName"], b["bizVersion"]): b["bizState"].upper() for b in bizzes}
            assert states == {("provider", "1.0.2"): "ACTIVATED"}, bizzes
            assert bizzes[0]["mainClass"] == MAIN_CLASS
            # the JVM unpacks into its own working directory, nowhere else
            assert len(_unpack_dirs(base.workdir)) == 1
    finally:
        codes = {g: base.stop() for g, base in bases.items()}
    for g, base in bases.items():
        assert codes[g] is not None and not base.alive()
        assert not os.path.exists(f"/proc/{base.pid}"), f"base {g} (pid {base.pid}) still exists"


def test_a_taken_arklet_port_is_reported_at_once(tmp_path):
    """Netty fails to bind but the JVM runs on without Arklet: the launcher must notice the bind
    failure in the log instead of waiting out its deadline."""
    import socket

    jars = ensure_jars()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        base = jvm.launch(jars.base("2025"), "2025", tmp_path / "w", port=port)
        try:
            with pytest.raises(jvm.PortTaken, match=f"could not bind Arklet port {port}"):
                base.wait_healthy(timeout=120)
        finally:
            base.stop()
    # PortTaken (not BaseStartFailed at the 120 s deadline) is the proof that the failure was
    # read from the log; no bound on how long the JVM took to write it (a busy machine).
    assert not base.alive()

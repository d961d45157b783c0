"""Real base JVMs of both generations: start, health, install a module from a local http url,
see it ACTIVATED, stop, and nothing left running. Both JVMs start at once (they share the two
cores either way, and each start is mostly waiting on class loading)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from module_controller.realbase import jvm
from module_controller.realbase.testing import ensure_jars

pytestmark = pytest.mark.realbase


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def module_server():
    """A plain http.server on loopback serving the jar cache: the module urls are real http."""
    jars = ensure_jars()
    handler = functools.partial(_QuietHandler, directory=str(jars.dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _unpack_dirs(workdir: Path) -> list[Path]:
    return list((workdir / "tmp" / "sofa-ark").glob("*-unpack"))


def test_both_generations_install_a_real_module(tmp_path, module_server):
    jars = ensure_jars()
    bases = {g: jvm.launch(jars.base(g), g, tmp_path / f"base-{g}") for g in ("2025", "2023")}
    try:
        for g, base in bases.items():
            took = base.wait_healthy()
            rss = base.rss_bytes() or 0
            print(f"base {g}: health after {took:.1f} s, RSS {rss / 2**20:.0f} MiB, port {base.port}")
            health = base.call("health")
            assert health["code"] == "SUCCESS"
            assert health["data"]["healthData"]["masterBizInfo"]["bizName"] == f"base-{g}"

        for g, base in bases.items():
            url = f"{module_server}/modules-{g}/dynamic-provider-1.0.2-ark-biz.jar"
            reply = base.call("installBiz", {"bizName": "provider", "bizVersion": "1.0.2",
                                             "bizUrl": url}, timeout=120)
            assert reply["code"] == "SUCCESS", reply
            bizzes = base.call("queryAllBiz")["data"]
            states = {(b["bizName"], b["bizVersion"]): b["bizState"].upper() for b in bizzes}
            assert states == {("provider", "1.0.2"): "ACTIVATED"}, bizzes
            # the JVM unpacks into its own working directory, nowhere else
            assert len(_unpack_dirs(base.workdir)) == 1
    finally:
        codes = {g: base.stop() for g, base in bases.items()}
    for g, base in bases.items():
        assert codes[g] is not None and not base.alive()
        assert not os.path.exists(f"/proc/{base.pid}"), f"base {g} (pid {base.pid}) still exists"

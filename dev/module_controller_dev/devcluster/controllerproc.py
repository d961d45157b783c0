"""Run the real controller as a child process (tests, benchmarks, chaos): start, kill, restart.

The controller under test is the installed ``module-controller run`` command, not an in-process
object, so a test can SIGKILL it mid-install exactly as a node failure would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import processes


def free_port(host: str = "127.0.0.1") -> int:
    """See :func:`processes.free_port` (outside the ephemeral range)."""
    return processes.free_port(host)


class ControllerProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, namespaces: list[str] | None = None,
                 extra_args: list[str] | None = None, probe_port: int | None = None):
        """``probe_port``: serve /readyz and /metrics on 127.0.0.1 there (see wait_ready)."""
        self.kubeconfig = kubeconfig
        self.probe_port = probe_port
        self.log_path = log_path
        self.namespaces = namespaces or []
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "ControllerProcess":
        argv = [sys.executable, "-m", "module_controller.cli", "run",
                f"--kubeconfig={self.kubeconfig}", "--log-level=INFO", *self.extra_args]
        for ns in self.namespaces:
            argv.append(f"--namespace={ns}")
        if self.probe_port is not None:
            argv += [f"--probe-port={self.probe_port}", "--probe-host=127.0.0.1"]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /readyz says 200 (caches primed, watching, leading); needs ``probe_port``."""
        assert self.probe_port is not None, "wait_ready needs a probe_port"
        url = f"http://127.0.0.1:{self.probe_port}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"the controller exited:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 (not ready)
            time.sleep(0.1)
        raise TimeoutError(f"the controller was not ready after {timeout:.0f}s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like a node dying."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

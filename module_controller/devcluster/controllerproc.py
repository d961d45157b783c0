"""Run the real controller as a child process (tests, benchmarks, chaos): start, kill, restart.

The controller under test is the installed ``module-controller run`` command, not an in-process
object, so a test can SIGKILL it mid-install exactly as a node failure would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class ControllerProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, namespaces: list[str] | None = None,
                 extra_args: list[str] | None = None):
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.namespaces = namespaces or []
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ControllerProcess":
        argv = [sys.executable, "-m", "module_controller.cli", "run", "--no-dev",
                f"--kubeconfig={self.kubeconfig}", "--log-level=INFO", *self.extra_args]
        for ns in self.namespaces:
            argv.append(f"--namespace={ns}")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        return self

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

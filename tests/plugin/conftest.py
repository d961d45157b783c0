"""Fixtures of the plugin's dev-cluster tests: a real controller per test, a kubeconfig whose
context names the test's namespace (as a user's would), and the installed ``kubectl-module``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from module_controller_dev.devcluster import State

from helpers.controller import running_controller
from helpers.controller_args import FAST

BIN = Path(sys.executable).parent
PLUGIN = BIN / "kubectl-module"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class User:
    """A user's shell: KUBECONFIG set (context namespace = the test's), the venv's bin on PATH."""

    kubeconfig: Path
    namespace: str

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig),
                    PATH=f"{BIN}:{os.environ.get('PATH', '')}")

    def plugin(self, *args: str, timeout: float = 120.0) -> Ran:
        proc = subprocess.run([str(PLUGIN), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        return Ran(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, timeout: float = 120.0) -> str:
        ran = self.plugin(*args, timeout=timeout)
        assert ran.code == 0, f"kubectl module {' '.join(args)} exited {ran.code}: {ran.err}{ran.out}"
        return ran.out

    def shell(self, script: str, timeout: float = 240.0) -> Ran:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=self.env,
                              cwd=Path(__file__).resolve().parents[2], capture_output=True,
                              text=True, timeout=timeout)
        return Ran(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def user(dev_cluster: State, namespace: str, tmp_path: Path) -> User:
    config = yaml.safe_load(dev_cluster.kubeconfig.read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = namespace
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return User(path, namespace)


@pytest.fixture
def controller(dev_cluster: State, namespace: str, tmp_path: Path):
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log",
                            FAST) as proc:
        yield proc

"""The two commands: `module-controller` is the product's (no dev cluster in it), and
`module-controller-dev` holds the dev cluster's verbs and `run` on a dev cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_product_command_has_no_dev_verbs():
    listed = _run("module-controller", "--help")
    assert listed.returncode == 0 and " dev " not in listed.stdout.replace("{", " ").replace(",", " ")
    dev = _run("module-controller", "dev", "up")
    assert dev.returncode == 2 and "invalid choice: 'dev'" in dev.stderr


def test_the_product_run_never_starts_a_dev_cluster():
    run = _run("module-controller", "run")
    assert run.returncode == 1
    assert "no cluster configured" in run.stderr and "module-controller-dev run" in run.stderr


def test_the_dev_command_lists_its_verbs():
    listed = _run("module-controller-dev", "--help")
    assert listed.returncode == 0
    for verb in ("up", "down", "status", "controlplane", "jars", "images", "run"):
        assert verb in listed.stdout


def test_the_dev_run_takes_the_controller_options():
    helped = _run("module-controller-dev", "run", "--help")
    assert helped.returncode == 0
    assert "usage: module-controller run" in helped.stdout and "--probe-port" in helped.stdout

"""Run kubectl against the dev cluster the way a user would (with a timeout)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KUBECTL = Path(sys.executable).with_name("kubectl")


def kubectl(kubeconfig: Path, namespace: str, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([str(KUBECTL), f"--kubeconfig={kubeconfig}", "-n", namespace, *args],
                          input=stdin, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def patch(kubeconfig: Path, namespace: str, kind: str, name: str, body: dict) -> str:
    return kubectl(kubeconfig, namespace, "patch", kind, name, "--type=merge", "-p", json.dumps(body))

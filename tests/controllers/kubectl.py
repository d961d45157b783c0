"""Run kubectl against the dev cluster the way a user would (with a timeout)."""

from __future__ import annotations

import json
from pathlib import Path

from module_controller.devcluster.testing import kubectl

__all__ = ["kubectl", "patch"]


def patch(kubeconfig: Path, namespace: str, kind: str, name: str, body: dict) -> str:
    return kubectl(kubeconfig, namespace, "patch", kind, name, "--type=merge", "-p", json.dumps(body))

"""The real helm for the chart tests: found or built (module_controller_dev.devcluster.helm), or the
test is skipped with the reason (no helm and no Go to build it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from module_controller_dev.devcluster import helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "chart"


def find_or_build_helm() -> Path:
    """helm, built from its Go module when missing; the test is skipped when it cannot be."""
    try:
        return helm.ensure(log=lambda line: None)
    except helm.HelmUnavailable as exc:
        pytest.skip(f"no helm: {exc}")


def run(helm_bin: Path, *args: str, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(helm_bin), *args], capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"
    return proc


def template(helm_bin: Path, namespace: str, values: dict[str, Any], tmp_path: Path,
             *extra: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart (CRDs included) for ``values``: the objects."""
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    out = run(helm_bin, "template", "module-controller", str(CHART), "--namespace", namespace,
              "--include-crds", "-f", str(path), *extra).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc is not None]

"""The user guide's walkthrough is executed: every `sh` block, in order, against the dev cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "user-guide.md"


def walkthrough_blocks() -> list[str]:
    text = GUIDE.read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_guide_has_a_walkthrough():
    blocks = walkthrough_blocks()
    assert len(blocks) >= 6
    assert any("kubectl apply -f config/samples/seed003_moduledeployment.yaml" in b for b in blocks)


async def test_walkthrough_runs(api, namespace, dev_cluster, tmp_path):
    await kt.create_base_deployment(api, namespace, 3)
    await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 3)
    # The reader's kubeconfig, pointed at this test's namespace.
    config = yaml.safe_load(dev_cluster.kubeconfig.read_text())
    config["contexts"][0]["context"]["namespace"] = namespace
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    controller = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log", [namespace],
                                   ["--retry-backoff-initial=0.2", "--retry-backoff-max=1"]).start()
    env = dict(os.environ, KUBECONFIG=str(kubeconfig),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    try:
        for number, block in enumerate(walkthrough_blocks(), 1):
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=240)
            assert proc.returncode == 0, (
                f"walkthrough block {number} failed:\n{block}\nstdout:\n{proc.stdout}\n"
                f"stderr:\n{proc.stderr}\ncontroller:\n{controller.log_text()[-3000:]}")
        assert await kt.list_modules(api, namespace) == []
        assert await kt.get_deployment(api, namespace, "moduledeployment-sample") is None
    finally:
        assert controller.alive, controller.log_text()[-3000:]
        controller.stop()

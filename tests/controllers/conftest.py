"""A real controller process per test, watching only that test's namespace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from module_controller.devcluster import State
from module_controller.devcluster.controllerproc import ControllerProcess

from controller_args import FAST


@pytest.fixture
def controller(dev_cluster: State, namespace: str, tmp_path: Path):
    # CONTROLLER_LOG_LEVEL=DEBUG keeps every reconcile in tmp_path/controller.log (docs/testing.md).
    level = [f"--log-level={os.environ['CONTROLLER_LOG_LEVEL']}"] \
        if os.environ.get("CONTROLLER_LOG_LEVEL") else []
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log",
                             namespaces=[namespace], extra_args=FAST + level).start()
    yield proc
    crashed = not proc.alive
    proc.stop()
    log = proc.log_text()
    print(log[-8000:])  # shown by pytest when the test failed
    assert not crashed, f"the controller exited during the test:\n{log[-4000:]}"

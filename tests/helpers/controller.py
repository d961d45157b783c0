"""The real controller process of a cluster test, watching only that test's namespace."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Sequence

from module_controller_dev.devcluster import State
from module_controller_dev.devcluster.controllerproc import ControllerProcess


@contextlib.contextmanager
def running_controller(dev_cluster: State, namespace: str, log_path: Path,
                       args: Sequence[str]) -> Iterator[ControllerProcess]:
    """Start ``module-controller run`` with ``args``; at the end stop it, print the tail of its
    log (pytest shows it for a failed test) and fail if it exited during the test.

    ``CONTROLLER_LOG_LEVEL=DEBUG`` keeps every reconcile in the log (docs/testing.md).
    """
    level = os.environ.get("CONTROLLER_LOG_LEVEL")
    extra = list(args) + ([f"--log-level={level}"] if level else [])
    proc = ControllerProcess(dev_cluster.kubeconfig, log_path, namespaces=[namespace],
                             extra_args=extra).start()
    yield proc
    crashed = not proc.alive
    proc.stop()
    log = proc.log_text()
    print(log[-8000:])
    assert not crashed, f"the controller exited during the test:\n{log[-4000:]}"

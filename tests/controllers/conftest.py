"""A real controller process per test, watching only that test's namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from module_controller_dev.devcluster import State

from helpers.controller_args import FAST
from helpers.controller import running_controller


@pytest.fixture
def controller(dev_cluster: State, namespace: str, tmp_path: Path):
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log", FAST) as proc:
        yield proc


"""Fixtures of the fault-injection (chaos) suite: size, seeds, the controller under test.

Size: ``CHAOS_SIZE=small`` (default, what CI runs; the whole suite stays under ~6 minutes on a
2-core machine) or ``CHAOS_SIZE=large`` (more rounds, more bases, more kills).

Seeds: every test draws its random choices (kill delays, which bases to break, fault windows,
generated specs) from ``random.Random(seed)`` where ``seed`` is derived from ``CHAOS_SEED``
(default :data:`DEFAULT_SEED`) and the test's name. The seed is printed at the start of each
test (``-s`` shows it; a failing test shows it in its captured output). Re-run a failure with the
same ``CHAOS_SEED``. Timing (how far the controller got when a fault hits) is not reproducible,
and neither are the fake Arklets' own ``fail_rate`` draws (the control API cannot seed them).
"""

from __future__ import annotations

import os
import random
import shutil
import zlib
from pathlib import Path

import pytest

from module_controller_dev.devcluster import State

from chaos_helpers import ChaosController
from controller_tracebacks import tracebacks

DEFAULT_SEED = 20240611
SIZES = ("small", "large")


def chaos_size() -> str:
    size = os.environ.get("CHAOS_SIZE", "small").strip().lower() or "small"
    if size not in SIZES:
        raise pytest.UsageError(f"CHAOS_SIZE must be one of {SIZES}, got {size!r}")
    return size


@pytest.fixture(scope="session")
def size() -> str:
    return chaos_size()


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    base = int(os.environ.get("CHAOS_SEED", DEFAULT_SEED))
    value = base ^ zlib.crc32(request.node.name.encode())
    print(f"\n[chaos] {request.node.name}: size={chaos_size()} CHAOS_SEED={base} -> seed {value}")
    return value


@pytest.fixture
def rng(seed: int) -> random.Random:
    return random.Random(seed)


@pytest.fixture
def chaos_controller(dev_cluster: State, namespace: str, tmp_path: Path,
                     request: pytest.FixtureRequest):
    """The real controller process on the session cluster, watching this test's namespace.

    The test kills and restarts it at will (``kill_and_restart``); the invariant checks look at
    its health (alive, no unexpected tracebacks). Its log is printed at teardown.
    """
    proc = ChaosController(dev_cluster.kubeconfig, tmp_path / "controller.log",
                           namespaces=[namespace]).start()
    yield proc
    proc.stop()
    log = proc.log_text()
    keep = os.environ.get("CHAOS_ARTIFACTS")  # a directory to keep every controller log in
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(proc.log_path, Path(keep) / f"{request.node.name}.controller.log")
    print(f"[chaos] controller kills: {proc.kills}; last lines of its log:\n{log[-6000:]}")
    print(f"[chaos] {traceback_summary(log)}")


def traceback_summary(log: str) -> str:
    """How many tracebacks of which exception the controller logged (for the report)."""
    counts: dict[str, int] = {}
    for incident in tracebacks(log):
        key = incident.short_type
        if key == "ApiException":
            key += incident.message[:5]
        counts[key] = counts.get(key, 0) + 1
    return f"controller tracebacks by exception: {counts or 'none'}"

"""The real-node tier: its own dev cluster with one real node, the controller as users deploy it.

Skipped, with the reason, where the machine cannot run a real node (not root, no containerd,
runc or CNI plugins, no cgroups) or lacks the control plane, kubelet or the base jars. One real
node per machine: every test here is in one xdist group (so one worker starts it), and a file
lock keeps two sessions on one machine (two worktrees) from starting it at once. Holding the
lock, the fixture removes what a killed session's node left behind (stalenode.py) and skips only
for a live node.
"""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

import pytest

from module_controller_dev.devcluster import (DevCluster, State, binaries, images, realnode,
                                              stalenode)
from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller_dev.realbase import build as realbase_build

from . import node

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # (`make test` runs this tier in a process of its own, without xdist and its group mark.)
    xdist = config.pluginmanager.hasplugin("xdist")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.realnode)
            if xdist:
                item.add_marker(pytest.mark.xdist_group("realnode"))


def why_not() -> str | None:
    """Why this machine cannot run the tier, in one line; None when it can."""
    reason = realnode.missing(check_node=False)  # a node's presence is judged under the lock
    if reason:
        return reason
    _, lacking = binaries.find()
    if lacking:
        return f"missing control-plane binaries {', '.join(lacking)}: run `make controlplane`"
    if realbase_build.find() is None:
        return "real base jars missing: run `make jars`"
    return None


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory):
    reason = why_not()
    if reason:
        pytest.skip(f"real node: {reason}")
    lock_path = stalenode.lock_path()
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Holding the lock, no other session starts a node: a node without live processes is
        # what a killed session left, removed here; a live one (started outside the tier) wins.
        verdict = stalenode.judge(stalenode.observe())
        if verdict.state == "live":
            pytest.skip(f"real node: {verdict.reason}")
        if verdict.state == "dead":
            print(f"real node: {verdict.reason.split(':')[0]}; removing them", file=sys.stderr)
            left = stalenode.remove(lambda m: print(f"real node: {m}", file=sys.stderr))
            assert not left, f"a dead real node's leftovers could not be removed: {left}"
        directory = tmp_path_factory.mktemp("realnode")
        cluster = DevCluster(directory)
        before = realnode.snapshot()
        try:
            yield cluster.up(bases=node.BASES, crds_dir=REPO / "crds", real_node=True,
                             timeout=120)
        finally:
            cluster.down()
            left = node.leftovers(directory, {"before": before})
            assert not left, f"dev down left these behind: {left}"


@pytest.fixture(scope="session")
def kubectl(real_cluster: State) -> Kubectl:
    return Kubectl(real_cluster.kubeconfig)


@pytest.fixture(scope="session")
def controller_images(real_cluster: State) -> tuple[str, str]:
    """The controller image and the same image under a second tag (for a rolling update)."""
    first = images.build_controller(print)
    second = images.build_controller(print, tag="rolled")
    for image in (first, second):
        images.ctr_import(realnode.SOCKET, image, print)
    return first.ref, second.ref


@pytest.fixture(scope="session")
def controller(real_cluster: State, kubectl: Kubectl, controller_images: tuple[str, str]) -> str:
    """The controller Deployment as ``module-controller manifests --image`` renders it."""
    node.deploy_controller(kubectl, real_cluster, controller_images[0])
    return controller_images[0]

"""Session-wide fixtures: one real dev cluster for the whole test run, a namespace per test.

The cluster is started by the fixture itself (etcd, kube-apiserver, kube-controller-manager and
the base simulator, all real processes on loopback) in a temporary state directory, and stopped
when the session ends. Tests that need no cluster never start it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio import config

from module_controller_dev.devcluster import DevCluster, State
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller_dev.fakearklet import ControlClient

REPO = Path(__file__).resolve().parents[1]

# Test directories whose session fixtures start real base JVMs (~10 CPU-seconds and ~190 MB each).
JVM_DIRS = ("realarklet", "conformance", "realbase")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n N --dist loadgroup`` (``make test``) the JVM tests share one worker, so
    their JVMs start once, not once per worker; the other tests spread over the workers one by
    one. Without xdist the mark does nothing."""
    for item in items:
        parts = item.path.relative_to(REPO / "tests").parts
        if parts and parts[0] in JVM_DIRS:
            item.add_marker(pytest.mark.xdist_group("jvm"))


@pytest.fixture(scope="session")
def dev_cluster(tmp_path_factory: pytest.TempPathFactory) -> State:
    directory = tmp_path_factory.mktemp("devcluster")
    cluster = DevCluster(directory)
    crds = REPO / "crds"
    state = cluster.up(bases=0, crds_dir=crds if any(crds.glob("*.yaml")) else None)
    yield state
    cluster.down()


@pytest.fixture(scope="session")
def kubectl(dev_cluster: State) -> Kubectl:
    """kubectl with the dev cluster's admin kubeconfig, as a user runs it."""
    return Kubectl(dev_cluster.kubeconfig)


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def api(dev_cluster: State):
    client = await config.new_client_from_config(config_file=str(dev_cluster.kubeconfig))
    async with client:
        yield client


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def arklets(dev_cluster: State):
    """Control client of the simulator's fake Arklets: request logs and fault injection."""
    control = ControlClient(dev_cluster.control_url)
    yield control
    await control.close()


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(api):
    name = f"t-{uuid.uuid4().hex[:8]}"
    await kt.create_namespace(api, name)
    yield name
    await kt.delete_namespace(api, name)

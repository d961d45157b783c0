"""A dev cluster of this folder's own: its tests replace the CRDs, which are cluster-scoped, so
they must not share the session's cluster with tests that run at the same time. It starts with
upstream's CRDs, as a cluster upstream's controller ran on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio import config

from module_controller_dev.devcluster import DevCluster, State
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.fakearklet import ControlClient

from migration_data import UPSTREAM_CRDS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist (``--dist loadgroup``) the cluster tests of this folder share one worker, so
    its cluster starts once (and no other worker's test sees its CRDs change)."""
    here = Path(__file__).parent
    if not items or not items[0].config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.path.parent == here and item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("migration"))


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> State:
    cluster = DevCluster(tmp_path_factory.mktemp("migration-devcluster"))
    state = cluster.up(bases=0, crds_dir=UPSTREAM_CRDS)
    yield state
    cluster.down()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_api(own_cluster: State):
    client = await config.new_client_from_config(config_file=str(own_cluster.kubeconfig))
    async with client:
        yield client


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_arklets(own_cluster: State):
    control = ControlClient(own_cluster.control_url)
    yield control
    await control.close()


@pytest_asyncio.fixture(loop_scope="session")
async def own_namespace(own_api):
    name = f"m-{uuid.uuid4().hex[:8]}"
    await kt.create_namespace(own_api, name)
    yield name
    await kt.delete_namespace(own_api, name)

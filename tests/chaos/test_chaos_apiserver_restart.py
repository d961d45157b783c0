"""(d) kube-apiserver restarted in the middle of grouped releases.

A dedicated dev cluster (not the session one, whose other users would suffer) is started in
tmp_path; the controller runs against it. While a release is Executing, kube-apiserver is
stopped and started again (``DevCluster.restart``: same port, certificates and flags; etcd keeps
the data). The controller must ride it out (watches re-established, failed writes retried) and
the release must end in the last spec exactly (tests/chaos/invariants.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from kubernetes_asyncio import config

from module_controller_dev.devcluster import DevCluster, State, processes
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply
from module_controller_dev.devcluster.testing import release_status
from module_controller_dev.fakearklet import ControlClient

from chaos_helpers import ChaosController, drive_release, observed
from helpers.bodies import md_body
from helpers.cluster import bases
from invariants import Want, converge

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]
NAME = "chaos-apiserver"


@pytest.fixture
def own_cluster(tmp_path: Path):
    cluster = DevCluster(tmp_path / "dev", log=lambda msg: print(f"[devcluster] {msg}"))
    state = cluster.up(bases=0, crds_dir=REPO / "crds")
    try:
        yield cluster, state
    finally:
        cluster.down()


async def test_apiserver_restarted_during_release(own_cluster, tmp_path, rng, size):
    cluster, state = own_cluster
    releases, nbases = (2, 3) if size == "small" else (5, 4)
    kc = state.kubeconfig
    api = await config.new_client_from_config(config_file=str(kc))
    arklets = ControlClient(state.control_url)
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    ctl = None
    try:
        await kt.create_namespace(api, namespace)
        await bases(api, namespace, nbases, latency=0.5)
        ctl = ChaosController(kc, tmp_path / "controller.log", namespaces=[namespace]).start()
        apply(kc, namespace, md_body(NAME, nbases, "1.0.0", batchCount=2))
        await converge(api, arklets, namespace, Want(NAME, "provider", "1.0.0", nbases),
                       controller=ctl, timeout=60)
        restarts = []
        for r in range(1, releases + 1):
            version = f"2.0.{r}"
            replicas = rng.randint(nbases - 1, nbases)
            apply(kc, namespace, md_body(NAME, replicas, version, batchCount=3,
                                         needConfirm=r % 2 == 0))
            await kt.wait_for(lambda: kt.get_deployment(api, namespace, NAME),
                              lambda md: observed(md) and release_status(md).get("progress")
                              in ("Executing", "Paused"), timeout=60,
                              what=f"the release of {version} to start")
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # chooses WHEN to restart
            rs = release_status(await kt.get_deployment(api, namespace, NAME))
            started = time.monotonic()
            if size == "large" and r == releases:
                # A long outage: the API server stays down for 30 s before it starts again.
                pid = State.load(state.path).pids["kube-apiserver"]
                await asyncio.to_thread(processes.stop, pid, state.path, None, 2.0)
                await asyncio.sleep(30)  # the length of the outage, not a synchronisation
            await asyncio.to_thread(cluster.restart, "kube-apiserver", grace=2.0)
            restarts.append(f"{rs.get('progress')} {rs.get('batchProgress')} "
                            f"({time.monotonic() - started:.1f}s down)")
            print(f"[chaos] kube-apiserver restarted during {version}: {restarts[-1]}")
            # The bases (the simulator's kubelet role) ride out the outage, as real ones do.
            assert DevCluster(state.path).status()["components"]["base-simulator"]["alive"], \
                "the base simulator died with the API server"
            await drive_release(api, namespace, NAME, timeout=120)
            allow = ("conflict", "apiserver")
            await converge(api, arklets, namespace, Want(NAME, "provider", version, replicas),
                           controller=ctl, allow=allow, timeout=60)
        status = DevCluster(state.path).status()
        assert status["components"]["kube-apiserver"]["alive"]
        print(f"[chaos] apiserver restarts at {restarts}")
    finally:
        if ctl is not None:
            ctl.stop()
            print(f"[chaos] controller log tail:\n{ctl.log_text()[-6000:]}")
        await arklets.close()
        await api.close()

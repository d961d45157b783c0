"""``DevCluster.restart(component)``: one component stopped and started again, same ports,
certificates and flags, ``state.json`` kept current, the cluster's objects kept."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config

from module_controller_dev.devcluster import DevCluster, State, processes
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.cluster import DevClusterError

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


async def test_restart_each_component_keeps_ports_certificates_and_objects(tmp_path):
    directory = tmp_path / "dev"
    cluster = DevCluster(directory, log=lambda msg: print(f"[devcluster] {msg}"))
    # up() runs its own event loop (bootstrap), so not on this test's loop.
    state = await asyncio.to_thread(cluster.up, bases=0, crds_dir=REPO / "crds")
    try:
        kubeconfig_before = state.kubeconfig.read_bytes()
        ca_before = (directory / "pki" / "ca.crt").read_bytes()
        api = await config.new_client_from_config(config_file=str(state.kubeconfig))
        name = f"restart-{uuid.uuid4().hex[:6]}"
        try:
            await client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
        finally:
            await api.close()

        with pytest.raises(DevClusterError, match="unknown component"):
            cluster.restart("kubelet")

        argv = {component: cmdline(pid) for component, pid in state.pids.items()}
        for component in ("kube-apiserver", "etcd", "kube-controller-manager", "base-simulator"):
            before = State.load(directory)
            old_pid = before.pids[component]
            old_argv = argv[component]
            started = time.monotonic()
            after = cluster.restart(component, grace=3.0)
            print(f"[chaos] restarted {component} in {time.monotonic() - started:.1f}s")
            new_pid = after.pids[component]
            assert new_pid != old_pid
            assert not processes.is_ours(old_pid, directory), f"old {component} still runs"
            saved = State.load(directory)
            assert saved.pids[component] == new_pid, "state.json must name the new process"
            assert saved.ports == before.ports
            assert {k: v for k, v in saved.pids.items() if k != component} == \
                {k: v for k, v in before.pids.items() if k != component}
            # Same flags (hence the same ports, certificates and data directory).
            deadline = time.monotonic() + 10
            while not cmdline(new_pid) and time.monotonic() < deadline:
                time.sleep(0.05)  # the kernel is still executing it: its cmdline reads empty
            assert cmdline(new_pid) == old_argv
            status = DevCluster(directory).status()
            assert status["components"][component]["alive"], status

        # The base simulator went last: whatever the others' restarts did to it, all run now.
        status = DevCluster(directory).status()
        assert status["running"], status

        assert state.kubeconfig.read_bytes() == kubeconfig_before
        assert (directory / "pki" / "ca.crt").read_bytes() == ca_before, "no new certificates"
        # The same kubeconfig still works, and etcd kept the data.
        api = await config.new_client_from_config(config_file=str(state.kubeconfig))
        try:
            ns = await client.CoreV1Api(api).read_namespace(name)
            assert ns.metadata.name == name
        finally:
            await api.close()
    finally:
        cluster.down()
    assert DevCluster(directory).status()["running"] is False


def test_restart_without_a_cluster_says_so(tmp_path):
    with pytest.raises(DevClusterError, match="no dev cluster"):
        DevCluster(tmp_path / "nothing", log=lambda _: None).restart("kube-apiserver")


async def test_base_simulator_survives_an_apiserver_restart(tmp_path):
    """A kubelet rides out an API server restart; so must the simulator that plays it (else a
    kube-apiserver restart also takes every fake Arklet down, see docs/reliability.md)."""
    directory = tmp_path / "dev"
    cluster = DevCluster(directory, log=lambda msg: print(f"[devcluster] {msg}"))
    await asyncio.to_thread(cluster.up, bases=0, crds_dir=REPO / "crds")
    try:
        await asyncio.to_thread(cluster.restart, "kube-apiserver", grace=2.0)
        status = DevCluster(directory).status()
        tail = processes.log_tail(directory, "base-simulator", lines=3)
        assert status["components"]["base-simulator"]["alive"], \
            f"the base simulator died when kube-apiserver restarted:\n{tail}"
        # Alive is not enough: it must watch again, i.e. start the pods created afterwards.
        state = State.load(directory)
        api = await config.new_client_from_config(config_file=str(state.kubeconfig))
        try:
            namespace = await kt.create_namespace(api, f"after-{uuid.uuid4().hex[:6]}")
            await kt.create_base_deployment(api, namespace, 2)
            await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 2, timeout=60)
        finally:
            await api.close()
        assert DevCluster(directory).status()["components"]["base-simulator"]["alive"]
    finally:
        cluster.down()

"""Running it for real: leader election between two processes, probes and metrics, drift check."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml
from kubernetes_asyncio import client

from module_controller_dev.devcluster import processes
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller_dev.devcluster.kubectl import kubectl
from module_controller.runtime.leader import LEASE_DURATION, RETRY_PERIOD

from helpers.controller_args import API_REQUEST_MAX, FAST
from helpers.cluster import bases

pytestmark = pytest.mark.cluster
SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
MD = "moduledeployment-sample"


async def read_lease(api, namespace: str):
    try:
        return await client.CoordinationV1Api(api).read_namespaced_lease("module-controller",
                                                                        namespace)
    except client.exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def lease_holder(api, namespace: str) -> str | None:
    lease = await read_lease(api, namespace)
    return lease.spec.holder_identity if lease is not None else None


async def get_text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as resp:
            return resp.status, await resp.text()


async def test_two_replicas_one_leader_and_takeover_after_sigkill(api, namespace, dev_cluster, tmp_path):
    await bases(api, namespace, 3)
    args = FAST + ["--leader-election", f"--lease-namespace={namespace}"]
    procs = [ControllerProcess(dev_cluster.kubeconfig, tmp_path / f"c{i}.log", [namespace], args).start()
             for i in range(2)]
    try:
        holder = await kt.wait_for(lambda: lease_holder(api, namespace), timeout=30,
                                   what="a lease holder")
        leader = next(p for p in procs if holder.endswith(f"-{p.proc.pid}"))
        standby = next(p for p in procs if p is not leader)
        body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
        body["spec"]["replicas"] = 3
        body["spec"]["operationStrategy"].update({"needConfirm": False, "batchCount": 3,
                                                  "grayTimeBetweenBatchSeconds": 3})
        kubectl(dev_cluster.kubeconfig, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
        await kt.wait_progress(api, namespace, MD, "Executing", batch=2)
        assert "leading: starting the reconcilers" in leader.log_text()
        assert "leading: starting the reconcilers" not in standby.log_text(), \
            "the standby must not reconcile"

        leader.kill()
        last_renewal = (await read_lease(api, namespace)).spec.renew_time
        # The standby may take the lease once it has not been renewed for LEASE_DURATION; it
        # tries every RETRY_PERIOD, and its try is one API request.
        new_holder = await kt.wait_for(lambda: lease_holder(api, namespace),
                                       lambda h: h is not None and h != holder,
                                       timeout=LEASE_DURATION + RETRY_PERIOD + API_REQUEST_MAX,
                                       what="the standby to take the lease")
        assert new_holder.endswith(f"-{standby.proc.pid}")
        # ... and not before: no two leaders. (How fast a takeover is, is a speed claim: the
        # README's "~12 s" is LEASE_DURATION + RETRY_PERIOD, not checked here.)
        acquired = (await read_lease(api, namespace)).spec.acquire_time
        assert (acquired - last_renewal).total_seconds() >= LEASE_DURATION - 0.5, \
            (last_renewal, acquired)
        md = await kt.wait_progress(api, namespace, MD, "Completed", timeout=60)
        assert md["status"]["availableReplicas"] == 3
        assert "leading: starting the reconcilers" in standby.log_text()
    finally:
        for p in procs:
            p.stop()


async def test_probes_and_metrics_after_a_release(api, namespace, dev_cluster, tmp_path):
    await bases(api, namespace, 2)
    port = processes.free_port()
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "c.log", [namespace],
                             FAST + [f"--probe-port={port}", "--probe-host=127.0.0.1"]).start()
    try:
        base = f"http://127.0.0.1:{port}"
        await kt.wait_for(lambda: get_text(f"{base}/readyz"), lambda r: r[0] == 200, timeout=30,
                          what="/readyz 200")
        assert (await get_text(f"{base}/healthz"))[0] == 200
        body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
        body["spec"]["operationStrategy"]["needConfirm"] = False
        kubectl(dev_cluster.kubeconfig, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
        await kt.wait_progress(api, namespace, MD, "Completed")
        status, text = await get_text(f"{base}/metrics")
        assert status == 200

        def value(prefix: str) -> float:
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith(prefix) and not line.startswith("#"))

        assert value('module_controller_reconciles_total{kind="Module"') > 0
        assert value('module_controller_reconcile_duration_seconds_count{kind="ModuleDeployment"') > 0
        assert value('module_controller_arklet_calls_total{command="installBiz",result="SUCCESS"') >= 2
        assert value('module_controller_arklet_call_duration_seconds_count{command="queryAllBiz"') > 0
        assert value('module_controller_modules{phase="Available"') == 2
        assert value('module_controller_releases{progress="Completed"') == 1
    finally:
        assert proc.alive, proc.log_text()[-3000:]
        proc.stop()


async def test_drift_check_reinstalls_a_missing_biz(api, namespace, arklets, dev_cluster, tmp_path):
    (pod,) = await bases(api, namespace, 1)
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "c.log", [namespace],
                             FAST + ["--drift-check-period=1"]).start()
    try:
        await kt.create_module(api, namespace, kt.module_body("m", labels={
            "serverless.alipay.com/base-instance-name": pod.metadata.name,
            "serverless.alipay.com/base-instance-ip": pod.status.pod_ip}))
        await kt.wait_module_phase(api, namespace, "m", "Available")
        await arklets.restart(pod.status.pod_ip)  # the base JVM restarted: all bizzes gone
        assert await arklets.bizzes(pod.status.pod_ip) == []
        await kt.wait_for(lambda: arklets.bizzes(pod.status.pod_ip), lambda b: len(b) == 1,
                          timeout=30, what="the biz reinstalled")
        # Events are posted in the background: wait for it rather than read once.
        await kt.wait_for(lambda: kt.events_for(api, namespace, "m"),
                          lambda events: "BizMissing" in [e.reason for e in events],
                          timeout=30, what="a BizMissing Event")
    finally:
        assert proc.alive, proc.log_text()[-3000:]
        proc.stop()

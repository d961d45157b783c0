"""The base simulator backs pods annotated ``real-2025``/``real-2023`` with real base JVMs: each
on its own Arklet port (written into the pod's arklet-port annotation), reachable at the pod's
IP, Ready only once Arklet answers, and stopped when the pod goes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client

from module_controller_dev.basesim.realbases import RealBases, not_ready_status
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.realbase.jvm import arklet_call
from module_controller_dev.realbase.testing import ensure_jars

ARKLET_FLAVOUR = "sim.serverless.alipay.com/arklet"
ARKLET_PORT = "serverless.alipay.com/arklet-port"


def test_missing_jars_are_named_with_the_fix(tmp_path):
    bases = RealBases(tmp_path, work_root=tmp_path / "work")
    reason = bases.unavailable("2025")
    assert reason is not None and "make jars" in reason and str(tmp_path) in reason


def test_not_ready_status_keeps_the_first_line_of_a_long_reason():
    reason = "base JVM 2025 exited\n" + "x" * 10000
    status = not_ready_status(reason)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "RealBaseUnavailable"
    assert ready["message"].startswith("base JVM 2025 exited") and len(ready["message"]) < 4100


async def _sim_pods(control_url: str) -> dict[str, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{control_url}/pods") as resp:
            return {p["name"]: p for p in await resp.json()}


@pytest.mark.cluster
@pytest.mark.realbase
async def test_real_bases_behind_simulated_pods(api, namespace, dev_cluster):
    jars = ensure_jars()
    await kt.create_base_deployment(api, namespace, 2, name="real25", app="real25",
                                    annotations={ARKLET_FLAVOUR: "real-2025"})
    await kt.create_base_deployment(api, namespace, 1, name="real23", app="real23",
                                    annotations={ARKLET_FLAVOUR: "real-2023"})
    ready = (await kt.wait_ready_pods(api, namespace, "app=real25", 2, timeout=240)
             + await kt.wait_ready_pods(api, namespace, "app=real23", 1, timeout=240))
    sim = await _sim_pods(dev_cluster.control_url)
    ports = set()
    for pod in ready:
        port = int(pod.metadata.annotations[ARKLET_PORT])
        ports.add(port)
        real = sim[pod.metadata.name]["realbase"]
        assert real and real["alive"] and real["port"] == port
        generation = real["generation"]
        # the controller's view: the pod's IP and its annotated port reach the JVM
        health = await asyncio.to_thread(arklet_call, pod.status.pod_ip, port, "health")
        assert health["data"]["healthData"]["masterBizInfo"]["bizName"] == f"base-{generation}"
        # through the dev cluster's module repository, the JVMs' HTTP proxy (no such host)
        url = (f"http://modules.invalid/modules-{generation}/dynamic-provider-1.0.2-ark-biz.jar"
               if dev_cluster.module_proxy else jars.module(generation, "1.0.2").as_uri())
        reply = await asyncio.to_thread(arklet_call, pod.status.pod_ip, port, "installBiz",
                                        {"bizName": "provider", "bizVersion": "1.0.2",
                                         "bizUrl": url}, 120)
        assert reply["code"] == "SUCCESS", reply
        bizzes = (await asyncio.to_thread(arklet_call, pod.status.pod_ip, port, "queryAllBiz"))["data"]
        assert [(b["bizName"], b["bizState"].upper()) for b in bizzes] == [("provider", "ACTIVATED")]
        assert bizzes[0]["mainClass"] == "dev.realbase.provider.ProviderApplication"
    assert len(ports) == 3  # one port per JVM: Netty binds every interface

    pids = {name: p["realbase"]["pid"] for name, p in sim.items()
            if p["namespace"] == namespace and p["realbase"]}
    workdirs = [Path(p["realbase"]["workdir"]) for p in sim.values()
                if p["namespace"] == namespace and p["realbase"]]
    apps = client.AppsV1Api(api)
    for name in ("real25", "real23"):
        await apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 0}})
    await kt.wait_for(lambda: kt.list_pods(api, namespace, "app in (real25,real23)"),
                      lambda pods: not pods, timeout=60, what="real base pods gone")

    async def alive() -> list[int]:
        return [pid for pid in pids.values() if os.path.exists(f"/proc/{pid}")]

    await kt.wait_for(alive, lambda left: not left, timeout=30, what="real base JVMs exited")
    sim = await _sim_pods(dev_cluster.control_url)
    assert not [p for p in sim.values() if p["namespace"] == namespace]
    assert all(w.is_dir() for w in workdirs)  # kept for the inspection of what a base left

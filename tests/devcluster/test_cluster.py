"""The dev cluster is real: Deployments make pods, pods get IPs and Arklets, GC collects orphans."""

from __future__ import annotations

import json

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from module_controller_dev.basesim import pods as simpods
from module_controller_dev.devcluster import testing as kt

pytestmark = pytest.mark.cluster

SELECTOR = "app=dynamic-stock"
TIMEOUT = aiohttp.ClientTimeout(total=5, connect=2)


async def arklet_call(ip: str, command: str, port: int = 1238, body: dict | None = None) -> dict:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.post(f"http://{ip}:{port}/{command}", json=body or {}) as resp:
            return json.loads(await resp.text())


async def arklet_refuses(ip: str, port: int = 1238) -> bool:
    try:
        await arklet_call(ip, "health", port)
    except aiohttp.ClientConnectorError:
        return True
    return False


async def test_base_deployment_gets_ready_pods_with_arklets(api, namespace):
    await kt.create_base_deployment(api, namespace, replicas=3)
    pods = await kt.wait_ready_pods(api, namespace, SELECTOR, 3, timeout=60)
    ips = [p.status.pod_ip for p in pods]
    assert len(set(ips)) == 3, ips
    for ip in ips:
        assert ip.startswith("127.") and not ip.startswith("127.0.")  # a block of its own
        reply = await arklet_call(ip, "health")
        assert reply["code"] == "SUCCESS", reply
        assert reply["data"]["healthData"]["masterBizInfo"]["bizState"] == "ACTIVATED"
    for pod in pods:
        assert pod.spec.node_name.startswith("sim-node-")
        assert all(cs.ready for cs in pod.status.container_statuses)


async def test_deleted_pod_is_replaced_with_new_ip_and_old_ip_goes_silent(api, namespace):
    await kt.create_base_deployment(api, namespace, replicas=2)
    before = await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    victim = before[0]
    old_ip = victim.status.pod_ip
    await client.CoreV1Api(api).delete_namespaced_pod(victim.metadata.name, namespace)

    after = await kt.wait_for(
        lambda: kt.list_pods(api, namespace, SELECTOR),
        lambda pods: len(pods) == 2 and all(kt.pod_ready(p) for p in pods)
        and victim.metadata.name not in {p.metadata.name for p in pods},
        timeout=60, what="the deleted base pod to be replaced",
    )
    new = [p for p in after if p.metadata.name != before[1].metadata.name][0]
    assert new.status.pod_ip not in (old_ip, before[1].status.pod_ip)
    assert (await arklet_call(new.status.pod_ip, "health"))["code"] == "SUCCESS"
    assert await arklet_refuses(old_ip)


async def test_annotations_choose_flavour_port_or_no_arklet(api, namespace):
    core = client.CoreV1Api(api)
    variants = {
        "flavour-2025": {simpods.ARKLET_FLAVOUR: "2025"},
        "other-port": {simpods.ARKLET_PORT: "1300"},
        "no-arklet": {simpods.ARKLET_FLAVOUR: "none"},
    }
    for name, ann in variants.items():
        await core.create_namespaced_pod(namespace, {
            "metadata": {"name": name, "labels": {"app": "variant"}, "annotations": ann},
            "spec": {"containers": [{"name": "base", "image": "base:dev"}]},
        })
    pods = {p.metadata.name: p for p in await kt.wait_ready_pods(api, namespace, "app=variant", 3)}

    health = await arklet_call(pods["flavour-2025"].status.pod_ip, "health")
    assert "baseIdentity" not in health, health  # neither real generation sends it
    assert "java used metaspace" in health["data"]["healthData"]["jvm"]  # 2.1.6's extra keys
    assert health["data"]["healthData"]["masterBizInfo"]["bizState"] == "activated"
    assert (await arklet_call(pods["other-port"].status.pod_ip, "health", port=1300))["code"] == "SUCCESS"
    assert await arklet_refuses(pods["other-port"].status.pod_ip, 1238)
    assert await arklet_refuses(pods["no-arklet"].status.pod_ip)


async def test_simulator_control_reaches_each_base(api, namespace, arklets):
    await kt.create_base_deployment(api, namespace, replicas=1)
    (pod,) = await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    ip = pod.status.pod_ip
    await arklet_call(ip, "installBiz", body={"bizName": "provider", "bizVersion": "1.0.0",
                                              # through the module repository (proxy)
                                              "bizUrl": "http://repo.example/x/"
                                                        "provider-1.0.0-ark-biz.jar"})
    log = await arklets.requests(ip)
    assert [r["command"] for r in log["requests"]][-1:] == ["installBiz"]
    assert [b["bizName"] for b in await arklets.bizzes(ip)] == ["provider"]


async def test_orphans_are_garbage_collected(api, namespace):
    core = client.CoreV1Api(api)
    owner = await core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    await core.create_namespaced_config_map(namespace, {"metadata": {
        "name": "dependent",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                             "uid": owner.metadata.uid}],
    }})
    await core.delete_namespaced_config_map("owner", namespace)

    async def dependent_gone() -> bool:
        try:
            await core.read_namespaced_config_map("dependent", namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    assert await kt.wait_for(dependent_gone, timeout=60, what="the orphaned ConfigMap to be collected")

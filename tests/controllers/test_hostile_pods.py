"""Whoever may label a pod must not get the controller to delete it.

The delete-pod labels act only on base pods: pods owned, through their ReplicaSet, by a base
Deployment that a ModuleReplicaSet or ModuleDeployment names. Against the real API server and the
base simulator, with a real controller process.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.bodies import SELECTOR

pytestmark = pytest.mark.cluster
MRS = f"{c.LABEL_MODULE_REPLICASET}=rs"


def bare_pod(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "example/none:dev"}]}}


async def test_delete_pod_label_on_a_pod_that_is_no_base_pod_is_ignored(
        api, namespace, controller):
    core = client.CoreV1Api(api)
    await kt.create_base_deployment(api, namespace, 2)
    await kt.create_base_deployment(api, namespace, 1, name="other-deployment", app="other")
    base_pods = await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    (other,) = await kt.wait_ready_pods(api, namespace, "app=other", 1)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 1))
    (module,) = await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                                  lambda ms: len(ms) == 1 and kt.phase(ms[0]) == "Available",
                                  what="one Available instance")
    victim = module["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME]
    assert victim in {p.metadata.name for p in base_pods}

    # A bare pod that even carries the base pods' labels (it matches the ModuleReplicaSet's
    # selector), and a pod of a Deployment nobody names: both labelled by someone who may only
    # patch pods. Then a real base pod, labelled the same way.
    await core.create_namespaced_pod(namespace, bare_pod(
        "stray", {"app": "dynamic-stock", c.LABEL_DELETE_POD: "true"}))
    await core.patch_namespaced_pod(other.metadata.name, namespace,
                                    {"metadata": {"labels": {c.LABEL_DELETE_POD: "true"}}})
    await core.patch_namespaced_pod(
        "stray", namespace, {"metadata": {"labels": {c.LABEL_DELETE_POD_DIRECTLY: "true"}}})
    await core.patch_namespaced_pod(victim, namespace,
                                    {"metadata": {"labels": {c.LABEL_DELETE_POD: "true"}}})

    async def alive(name: str) -> bool:
        try:
            pod = await core.read_namespaced_pod(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return pod.metadata.deletion_timestamp is None

    async def not_alive(name: str) -> bool:
        return not await alive(name)

    # The base pod still goes, as the label asks ...
    await kt.wait_for(lambda: not_alive(victim), timeout=60, what="the base pod to be deleted")
    await kt.wait_for(lambda: kt.modules_per_pod(api, namespace, MRS),
                      lambda p: sum(p.values()) == 1 and victim not in p, timeout=60,
                      what="the instance placed on another base pod")
    # ... while the controller looked at the other two, said so once, and left them alone.
    for name in ("stray", other.metadata.name):
        async def events_while_alive(name=name):
            assert await alive(name), f"{name} was deleted although it is no base pod"
            return await kt.events_for(api, namespace, name)

        events = await kt.wait_for(
            events_while_alive, lambda evs: any(e.reason == "NotABasePod" for e in evs),
            timeout=30, what=f"a NotABasePod Event on {name}")
        assert [e.reason for e in events].count("NotABasePod") == 1
        assert await alive(name), f"{name} was deleted although it is no base pod"
    assert not [e for e in await kt.events_for(api, namespace, "stray")
                if e.reason == "BaseRemoved"]

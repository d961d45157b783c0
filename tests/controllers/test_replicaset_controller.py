"""The ModuleReplicaSet controller against the real API server and simulated bases."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.basesim import pods as simpods
from module_controller_dev.devcluster import testing as kt

from helpers.controller_args import MODULE_STEP

pytestmark = pytest.mark.cluster
SELECTOR = "app=dynamic-stock"
MRS = f"{c.LABEL_MODULE_REPLICASET}=rs"


async def preload(api, namespace, pods):
    """Pods 0..3 carry 0, 1, 2, 3 modules of other names (bound by hand)."""
    for index, pod in enumerate(pods):
        for j in range(index):
            await kt.create_module(api, namespace, kt.module_body(
                f"pre-{index}-{j}", module=f"other-{j}", labels={
                    c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
                    c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}))
    await kt.wait_for(lambda: kt.modules_per_pod(api, namespace),
                      lambda per: sum(per.values()) == 6, what="6 preloaded modules Available")


async def expect(api, namespace, pods, wanted: list[int]):
    names = [p.metadata.name for p in pods]
    await kt.wait_for(
        lambda: kt.modules_per_pod(api, namespace, MRS),
        lambda per: [per.get(n, 0) for n in names] == wanted
        and not [m for m in per if m not in names],
        timeout=60, what=f"instances per base {wanted}")
    # ... and nothing extra left behind once removals finish (deleting ones included).
    await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                      lambda ms: len(ms) == sum(wanted), timeout=30,
                      what=f"exactly {sum(wanted)} Module objects")


@pytest.mark.parametrize("policy, steps", [
    # (replicas, instances per base 0..3); bases carry 0/1/2/3 other modules, max 4
    ("scatter", [(3, [1, 1, 1, 0]), (1, [1, 0, 0, 0]), (4, [1, 1, 1, 1]), (0, [0, 0, 0, 0])]),
    ("stacking", [(3, [0, 1, 1, 1]), (1, [0, 0, 0, 1]), (4, [1, 1, 1, 1]), (0, [0, 0, 0, 0])]),
])
async def test_scale_0_3_1_4_places_by_policy(api, namespace, controller, policy, steps):
    await kt.create_base_deployment(api, namespace, 4)
    pods = sorted(await kt.wait_ready_pods(api, namespace, SELECTOR, 4), key=lambda p: p.metadata.name)
    await client.AppsV1Api(api).patch_namespaced_deployment(
        "dynamic-stock-deployment", namespace, {"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "4"}}})
    await preload(api, namespace, pods)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 0, policy=policy))
    for replicas, wanted in steps:
        await kt.patch_replicaset(api, namespace, "rs", {"spec": {"replicas": replicas}})
        await expect(api, namespace, pods, wanted)
    mrs = await kt.wait_for(lambda: kt.get_replicaset(api, namespace, "rs"),
                            lambda r: (r.get("status") or {}).get("replicas") == 0,
                            what="status replicas 0")
    assert mrs["status"]["observedGeneration"] == mrs["metadata"]["generation"]


async def test_capacity_one_never_stacks_and_overflow_waits_for_bases(api, namespace, controller):
    await kt.create_base_deployment(api, namespace, 2)
    await client.AppsV1Api(api).patch_namespaced_deployment(
        "dynamic-stock-deployment", namespace, {"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "1"}}})
    await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("a", 2, module="alpha"))
    await kt.create_replicaset(api, namespace, kt.replicaset_body("b", 2, module="beta"))

    def failing(r):
        cond = next((x for x in (r.get("status") or {}).get("conditions") or []
                     if x["type"] == c.CONDITION_REPLICA_FAILURE), None)
        return cond is not None and cond["status"] == "True" and cond["reason"] == c.REASON_INSUFFICIENT_BASES

    async def any_failing():
        return [await kt.get_replicaset(api, namespace, n) for n in ("a", "b")]

    await kt.wait_for(any_failing, lambda rs: any(failing(r) for r in rs),
                      what="an InsufficientBases condition")
    per = await kt.modules_per_pod(api, namespace, phase_wanted=None)
    assert sum(per.values()) == 2 and all(v == 1 for v in per.values()), per

    await client.AppsV1Api(api).patch_namespaced_deployment_scale(
        "dynamic-stock-deployment", namespace, {"spec": {"replicas": 4}})
    per = await kt.wait_for(lambda: kt.modules_per_pod(api, namespace),
                            lambda p: sum(p.values()) == 4, timeout=60, what="all four placed")
    assert all(v == 1 for v in per.values()), per
    # The condition clears when everything is placed; availability follows the installs.
    await kt.wait_for(any_failing, lambda rs: not any(failing(r) for r in rs)
                      and all(r["status"].get("availableReplicas") == 2 for r in rs),
                      what="the condition to clear and both to be Available")


async def test_killed_base_pod_gets_its_instance_placed_again(api, namespace, controller):
    await kt.create_base_deployment(api, namespace, 2)
    await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 1))
    (first,) = await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                                 lambda ms: len(ms) == 1 and kt.phase(ms[0]) == "Available",
                                 what="one Available instance")
    victim = first["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME]
    await client.CoreV1Api(api).delete_namespaced_pod(victim, namespace)
    per = await kt.wait_for(lambda: kt.modules_per_pod(api, namespace, MRS),
                            lambda p: sum(p.values()) == 1 and victim not in p, timeout=30,
                            what="the instance placed again on another pod")
    assert len(per) == 1


async def test_template_version_change_upgrades_in_place(api, namespace, arklets, controller):
    await kt.create_base_deployment(api, namespace, 2)
    pods = await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 2))
    before = await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                               lambda ms: len(ms) == 2 and all(kt.phase(m) == "Available" for m in ms),
                               what="two Available instances")
    await kt.patch_replicaset(api, namespace, "rs", {"spec": {"template": {"spec": {"module": {
        "version": "2.0.0", "url": "http://repo.example/provider-2.0.0-ark-biz.jar"}}}}})
    after = await kt.wait_for(
        lambda: kt.list_modules(api, namespace, MRS),
        # observedGeneration: the template's patch relabels the Module at once, while its status
        # still says Available for the old spec until the Module controller has looked.
        lambda ms: len(ms) == 2 and all(kt.phase(m) == "Available" and
                                        m["metadata"]["labels"][c.LABEL_MODULE_VERSION] == "2.0.0"
                                        and m["status"].get("observedGeneration")
                                        == m["metadata"]["generation"]
                                        for m in ms),
        what="both upgraded")
    assert {m["metadata"]["name"] for m in after} == {m["metadata"]["name"] for m in before}
    for pod in pods:
        bizzes = await arklets.bizzes(pod.status.pod_ip)
        assert [(b["bizName"], b["bizVersion"]) for b in bizzes] == [("provider", "2.0.0")]


@pytest.mark.parametrize("label, uninstalled", [(c.LABEL_DELETE_POD, True),
                                                (c.LABEL_DELETE_POD_DIRECTLY, False)])
async def test_delete_pod_labels_take_modules_off_then_delete_the_pod(
        api, namespace, arklets, controller, label, uninstalled):
    # The base's Arklet outlives the delete request by a few seconds, so its request log can
    # still be read once the pod is on its way out.
    await kt.create_base_deployment(api, namespace, 2,
                                    annotations={simpods.TERMINATION_DELAY: "10"})
    pods = await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 1))
    (module,) = await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                                  lambda ms: len(ms) == 1 and kt.phase(ms[0]) == "Available",
                                  timeout=MODULE_STEP, what="one Available instance")
    victim = module["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME]
    ip = next(p.status.pod_ip for p in pods if p.metadata.name == victim)
    await client.CoreV1Api(api).patch_namespaced_pod(victim, namespace,
                                                     {"metadata": {"labels": {label: "true"}}})

    async def leaving():
        return {p.metadata.name for p in await kt.list_pods(api, namespace, SELECTOR)
                if not p.metadata.deletion_timestamp}

    # One Module step (its removal: query, uninstall, finalizer), then the pod's delete.
    await kt.wait_for(leaving, lambda names: victim not in names, timeout=MODULE_STEP,
                      what="the labelled pod to be deleted")
    uninstalls = [r for r in (await arklets.requests(ip))["requests"]
                  if r["command"] == "uninstallBiz"]
    assert len(uninstalls) == (1 if uninstalled else 0)
    per = await kt.wait_for(lambda: kt.modules_per_pod(api, namespace, MRS),
                            lambda p: sum(p.values()) == 1 and victim not in p,
                            timeout=MODULE_STEP, what="the instance placed on another pod")
    assert len(per) == 1


async def test_base_deployment_count_labels(api, namespace, controller):
    await kt.create_base_deployment(api, namespace, 2)
    await kt.wait_ready_pods(api, namespace, SELECTOR, 2)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("one", 2, module="one"))
    await kt.create_replicaset(api, namespace, kt.replicaset_body("two", 1, module="two"))

    async def labels():
        d = await client.AppsV1Api(api).read_namespaced_deployment("dynamic-stock-deployment", namespace)
        return d.metadata.labels or {}

    got = await kt.wait_for(labels, lambda got: got.get(c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE) == "2"
                            and got.get(c.LABEL_MIN_MODULE_INSTANCE_COUNT_ON_BASE) == "1", timeout=30,
                            what="count labels 2/1")
    assert got[c.LABEL_AVERAGE_MODULE_INSTANCE_COUNT_ON_BASE] == "1.50"

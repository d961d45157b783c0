"""Which pods are base pods, on the dev cluster: placement goes by
ownership (pod -> ReplicaSet -> the named Deployment), a missing base Deployment is reported
and never guessed, the ModuleDeployment outlives its base Deployment, and a change of
baseDeploymentName moves every instance to the new base.

Two base Deployments share the label ``app=dynamic-stock`` (the other one adds ``variant``), as
in the report; a bare pod copies the labels too.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import bootstrap
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from helpers.controller_args import MODULE_STEP
from helpers.arklet_log import bizzes_on
from helpers.bodies import BASE, md_body
from helpers.cluster import bases, live_modules, pod_of, wait_md

pytestmark = pytest.mark.cluster
OTHER = "other-base"


async def other_base(api, namespace: str, replicas: int) -> list:
    """A second Deployment whose pods carry the first one's label ``app=dynamic-stock`` too."""
    body = bootstrap.base_deployment(replicas, name=OTHER)
    labels = {"app": "dynamic-stock", "variant": "other"}
    body["spec"]["selector"] = {"matchLabels": labels}
    body["spec"]["template"]["metadata"]["labels"] = labels
    await client.AppsV1Api(api).create_namespaced_deployment(namespace, body)
    return await kt.wait_ready_pods(api, namespace, "variant=other", replicas)


async def stray_pod(api, namespace: str, labels: dict[str, str]):
    """A bare pod (owned by nothing) that the simulator runs with a fake Arklet."""
    await client.CoreV1Api(api).create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "example/none:dev"}]}})
    (pod,) = await kt.wait_ready_pods(api, namespace, "pod-is=stray", 1)
    return pod


def condition(md: dict | None, type_: str) -> dict:
    return next((x for x in ((md or {}).get("status") or {}).get("conditions") or []
                 if x["type"] == type_), {})


def deployment_owner_refs(md: dict | None) -> list[dict]:
    return [r for r in (md or {})["metadata"].get("ownerReferences") or []
            if r.get("kind") == "Deployment"]


async def test_instances_go_only_on_pods_of_the_named_deployment(
        api, namespace, arklets, controller, dev_cluster):
    await kt.create_base_deployment(api, namespace, 2)
    mine = await kt.wait_ready_pods(api, namespace, "app=dynamic-stock,!variant", 2)
    others = await other_base(api, namespace, 2)
    stray = await stray_pod(api, namespace, {"app": "dynamic-stock", "pod-is": "stray"})
    # Four instances wanted, two pods of the named Deployment: before placement went by
    # ownership, the other four pods (all labelled app=dynamic-stock) took the rest.
    apply(dev_cluster.kubeconfig, namespace, md_body("md", replicas=4))
    mine_names = {p.metadata.name for p in mine}
    await kt.wait_for(lambda: live_modules(api, namespace),
                      lambda ms: sum(kt.phase(m) == "Available" for m in ms) == 2,
                      timeout=MODULE_STEP, what="two Available instances")
    rs = await kt.wait_for(
        lambda: kt.list_replicasets(api, namespace),
        lambda rss: len(rss) == 1 and condition(rss[0], c.CONDITION_REPLICA_FAILURE).get(
            "reason") == c.REASON_INSUFFICIENT_BASES,
        timeout=MODULE_STEP, what="the revision to report that bases ran out")
    assert rs[0]["status"]["replicas"] == 2
    assert {pod_of(m) for m in await live_modules(api, namespace)} == mine_names
    for pod in [*others, stray]:
        assert await bizzes_on(arklets, pod.status.pod_ip) == [], pod.metadata.name


async def test_missing_base_deployment_is_reported_not_guessed(
        api, namespace, arklets, controller, dev_cluster):
    # The selector the controller used to guess for a missing Deployment was app=<its name>.
    stray = await stray_pod(api, namespace, {"app": BASE, "pod-is": "stray"})
    apply(dev_cluster.kubeconfig, namespace, md_body("md", replicas=1))
    md = await wait_md(api, namespace, "md", lambda md: condition(
        md, c.CONDITION_REPLICA_FAILURE).get("reason") == c.REASON_BASE_NOT_FOUND,
        "ReplicaFailure BaseNotFound", timeout=MODULE_STEP)
    assert "spec.baseDeploymentName" in condition(md, c.CONDITION_REPLICA_FAILURE)["message"]
    assert condition(md, c.CONDITION_AVAILABLE)["status"] == "False"
    # The condition is written where the reconcile stops: nothing was created before it.
    assert await kt.list_replicasets(api, namespace) == []
    assert await kt.list_modules(api, namespace) == []
    await kt.wait_for(lambda: kt.events_for(api, namespace, "md"),
                      lambda evs: any(e.reason == c.REASON_BASE_NOT_FOUND for e in evs),
                      timeout=MODULE_STEP, what="a BaseNotFound Event")

    # The Deployment appears: the ModuleDeployment resumes on its pods, not on the stray one.
    (base,) = await bases(api, namespace, 1)
    md = await wait_md(api, namespace, "md", lambda md: kt.progress(md) == "Completed"
                       and not condition(md, c.CONDITION_REPLICA_FAILURE),
                       "Completed, the failure cleared", timeout=MODULE_STEP)
    assert [pod_of(m) for m in await live_modules(api, namespace)] == [base.metadata.name]
    assert await bizzes_on(arklets, stray.status.pod_ip) == []


async def test_module_deployment_outlives_its_base_deployment(
        api, namespace, arklets, controller, dev_cluster):
    apps = client.AppsV1Api(api)
    await bases(api, namespace, 2)
    deployment = await apps.read_namespaced_deployment(BASE, namespace)
    # Made the way earlier versions left it: owned by the base Deployment.
    body = md_body("md", replicas=2)
    body["metadata"]["ownerReferences"] = [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": BASE,
        "uid": deployment.metadata.uid, "controller": False, "blockOwnerDeletion": False}]
    apply(dev_cluster.kubeconfig, namespace, body)
    await wait_md(api, namespace, "md", lambda md: kt.progress(md) == "Completed"
                  and not deployment_owner_refs(md), "Completed, no Deployment owner",
                  timeout=MODULE_STEP)

    await apps.delete_namespaced_deployment(BASE, namespace)
    # The garbage collector takes the ReplicaSet and the pods; the ModuleDeployment stays.
    await kt.wait_for(lambda: kt.list_pods(api, namespace, "app=dynamic-stock"),
                      lambda pods: pods == [], timeout=MODULE_STEP, what="the base pods gone")
    await kt.wait_for(lambda: apps.list_namespaced_replica_set(namespace),
                      lambda rss: rss.items == [], timeout=MODULE_STEP,
                      what="the base ReplicaSet gone")
    md = await wait_md(api, namespace, "md", lambda md: md is not None and condition(
        md, c.CONDITION_REPLICA_FAILURE).get("reason") == c.REASON_BASE_NOT_FOUND,
        "BaseNotFound", timeout=MODULE_STEP)
    assert not md["metadata"].get("deletionTimestamp")

    # The Deployment is back: the ModuleDeployment resumes on the new pods.
    pods = await bases(api, namespace, 2)
    await kt.wait_for(lambda: live_modules(api, namespace), lambda ms: len(ms) == 2 and all(
        kt.phase(m) == "Available" for m in ms), timeout=MODULE_STEP,
        what="two Available instances on the new base pods")
    assert {pod_of(m) for m in await live_modules(api, namespace)} == \
        {p.metadata.name for p in pods}
    await wait_md(api, namespace, "md", lambda md: not condition(
        md, c.CONDITION_REPLICA_FAILURE), "the BaseNotFound condition cleared",
        timeout=MODULE_STEP)


async def test_changing_the_base_deployment_moves_every_instance(
        api, namespace, arklets, controller, dev_cluster):
    await kt.create_base_deployment(api, namespace, 2)
    old = await kt.wait_ready_pods(api, namespace, "app=dynamic-stock,!variant", 2)
    new = await other_base(api, namespace, 2)
    apply(dev_cluster.kubeconfig, namespace, md_body("md", replicas=2))
    await wait_md(api, namespace, "md", lambda md: kt.progress(md) == "Completed",
                  "Completed on the first base", timeout=MODULE_STEP)

    body = md_body("md", replicas=2)
    body["spec"]["baseDeploymentName"] = OTHER
    apply(dev_cluster.kubeconfig, namespace, body)
    new_names = {p.metadata.name for p in new}
    await kt.wait_for(lambda: kt.list_modules(api, namespace), lambda ms: len(ms) == 2 and all(
        kt.phase(m) == "Available" and pod_of(m) in new_names for m in ms),
        timeout=2 * MODULE_STEP, what="both instances on the new base, none left elsewhere")
    for pod in old:
        assert await bizzes_on(arklets, pod.status.pod_ip) == [], pod.metadata.name
    (rs,) = await kt.list_replicasets(api, namespace)
    assert rs["metadata"]["labels"][c.LABEL_DEPLOYMENT_NAME] == OTHER
    md = await kt.get_deployment(api, namespace, "md")
    assert deployment_owner_refs(md) == []

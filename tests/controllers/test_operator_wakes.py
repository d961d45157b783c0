"""A pod event wakes only what that pod can affect, counted on the dev cluster.

Two ModuleDeployments, ``near`` on the base Deployment of pod P and ``far`` on another one. P
changes (a label of the user's); ``near``'s ModuleDeployment, revision and Module are
reconciled again, ``far``'s are not. Reconciles are counted from the work queues' own DEBUG
line per reconcile (``<queue>: <key> reconciled in ...``), so the controller runs at DEBUG.

No wait proves that something does *not* happen, so ``far``'s objects are then woken on
purpose (an annotation on its Module) and each count must have grown by exactly that one
reconcile: a wake by P's event would have run before it (a second line) or while it ran (run
again: a second line).

The same for the max-module-count label of a base Deployment: it wakes the revisions and the
waiting (unbound) Modules that may place on that Deployment's pods, not those of the other one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from helpers.controller_args import FAST, MODULE_STEP
from helpers.bodies import BASE, md_body
from helpers.cluster import wait_md
from helpers.controller import running_controller

pytestmark = pytest.mark.cluster
FAR_BASE = "far-base"


def reconciles(log: str, queue: str, namespace: str, name: str) -> int:
    return len(re.findall(re.escape(f"{queue}: {(namespace, name)!r} reconciled in "), log))


@pytest.fixture
def debug_controller(dev_cluster, namespace: str, tmp_path: Path):
    # DEBUG: the counted lines are the queues' DEBUG lines (a CONTROLLER_LOG_LEVEL above DEBUG
    # would hide them, and the waits below would say so).
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log",
                            FAST + ["--log-level=DEBUG"]) as proc:
        yield proc


def _settled(md: dict | None) -> bool:
    status = (md or {}).get("status") or {}
    return kt.progress(md) == "Completed" and status.get("availableReplicas") == 1


async def _objects(api, namespace: str, md: str) -> dict[str, str]:
    """Queue name -> name of the ModuleDeployment's object of that kind (one each)."""
    (mrs,) = await kt.list_replicasets(api, namespace, f"{c.LABEL_MODULE_DEPLOYMENT}={md}")
    (module,) = await kt.list_modules(api, namespace, f"{c.LABEL_MODULE_DEPLOYMENT}={md}")
    return {"ModuleDeployment": md, "ModuleReplicaSet": mrs["metadata"]["name"],
            "Module": module["metadata"]["name"]}


async def _two_releases(api, namespace: str, dev_cluster) -> tuple[dict, dict]:
    """``near`` on BASE (app=dynamic-stock) and ``far`` on FAR_BASE (app=far), one instance each,
    released and with nothing left to do; their objects per queue."""
    await kt.create_base_deployment(api, namespace, 1)
    await kt.create_base_deployment(api, namespace, 1, name=FAR_BASE, app="far")
    await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 1)
    await kt.wait_ready_pods(api, namespace, "app=far", 1)
    far_body = md_body("far", 1)
    far_body["spec"]["baseDeploymentName"] = FAR_BASE
    # A module name belongs to one ModuleDeployment per namespace (behaviour §2.8).
    far_body["spec"]["template"]["spec"]["module"].update(
        name="far-provider", url="http://repo.example/far-provider-1.0.2-ark-biz.jar")
    apply(dev_cluster.kubeconfig, namespace, md_body("near", 1))
    apply(dev_cluster.kubeconfig, namespace, far_body)
    for name in ("near", "far"):
        await wait_md(api, namespace, name, _settled, "released", timeout=MODULE_STEP * 2)
    near = await _objects(api, namespace, "near")
    far = await _objects(api, namespace, "far")
    # The base Deployments' count labels are the last write of the release (delayed to fold a
    # burst); after them nothing is left to do for either ModuleDeployment.
    for deployment in (BASE, FAR_BASE):
        await kt.wait_for(lambda d=deployment: _labels(api, namespace, d),
                          lambda labels: c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE in labels,
                          timeout=MODULE_STEP, what=f"count labels on {deployment}")
    return near, far


async def test_a_pod_change_reconciles_its_release_and_nothing_else(
        api, namespace, arklets, debug_controller, dev_cluster):
    near, far = await _two_releases(api, namespace, dev_cluster)
    (near_pod,) = await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 1)

    log = debug_controller.log_text()
    before = {(q, n): reconciles(log, q, namespace, n)
              for objects in (near, far) for q, n in objects.items()}
    await client.CoreV1Api(api).patch_namespaced_pod(
        near_pod.metadata.name, namespace, {"metadata": {"labels": {"touched": "1"}}})

    # The related ones are woken ...
    for queue, name in near.items():
        await kt.wait_for(
            lambda q=queue, n=name: _count(debug_controller, q, namespace, n),
            lambda count, q=queue, n=name: count > before[(q, n)],
            timeout=MODULE_STEP, what=f"a reconcile of {queue} {name} after its pod changed")

    # ... the unrelated ones are not. Each is woken once on purpose: an annotation on far's
    # Module wakes the Module and, as any change of a Module does, its revision and its
    # ModuleDeployment; none of them writes anything, so each counts exactly one reconcile.
    await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, c.MODULE.plural, far["Module"],
        {"metadata": {"annotations": {"test/mark": "1"}}},
        _content_type="application/merge-patch+json")
    for queue, name in far.items():
        await kt.wait_for(
            lambda q=queue, n=name: _count(debug_controller, q, namespace, n),
            lambda count, q=queue, n=name: count > before[(q, n)],
            timeout=MODULE_STEP, what=f"the marked reconcile of {queue} {name}")
    log = debug_controller.log_text()
    after = {q: reconciles(log, q, namespace, n) - before[(q, n)] for q, n in far.items()}
    assert after == {q: 1 for q in far}, (
        f"reconciles of the far release's objects since the pod of the near one changed "
        f"(1 each: the marked one): {after}")


async def _labels(api, namespace: str, deployment: str) -> dict[str, str]:
    body = await client.AppsV1Api(api).read_namespaced_deployment(deployment, namespace)
    return body.metadata.labels or {}


async def _count(proc: ControllerProcess, queue: str, namespace: str, name: str) -> int:
    return reconciles(proc.log_text(), queue, namespace, name)


async def _relabel(api, namespace: str, deployment: str, labels: dict[str, str]) -> None:
    await client.AppsV1Api(api).patch_namespaced_deployment(
        deployment, namespace, {"metadata": {"labels": labels}})


async def _mark(api, namespace: str, plural: str, name: str) -> None:
    await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, plural, name,
        {"metadata": {"annotations": {"test/mark": "1"}}},
        _content_type="application/merge-patch+json")


async def _reconciled_since(proc: ControllerProcess, namespace: str, counts: dict, what: str
                            ) -> None:
    """Wait until each (queue, name) of ``counts`` has been reconciled more often than that."""
    for (queue, name), count in counts.items():
        await kt.wait_for(lambda q=queue, n=name: _count(proc, q, namespace, n),
                          lambda now, c0=count: now > c0, timeout=MODULE_STEP,
                          what=f"a reconcile of {queue} {name} ({what})")


async def test_a_capacity_change_wakes_only_what_may_place_on_that_deployment(
        api, namespace, arklets, debug_controller, dev_cluster):
    near, far = await _two_releases(api, namespace, dev_cluster)
    revisions = {(q, n): reconciles(debug_controller.log_text(), q, namespace, n)
                 for q, n in (("ModuleReplicaSet", near["ModuleReplicaSet"]),
                              ("ModuleReplicaSet", far["ModuleReplicaSet"]))}
    # Both bases full (one module each, room for one), and a hand-made Module of another module
    # waiting for room on each: unbound, Pending. Each step is awaited in the log, so nothing of
    # the set-up is still to run when the counting starts.
    for deployment in (BASE, FAR_BASE):
        await _relabel(api, namespace, deployment, {c.LABEL_MAX_MODULE_COUNT: "1"})
    await _reconciled_since(debug_controller, namespace, revisions, "after its base's capacity")
    waiting = {"near": "wait-near", "far": "wait-far"}
    for app, name in (("dynamic-stock", waiting["near"]), ("far", waiting["far"])):
        await kt.create_module(api, namespace, kt.module_body(name, module="other", app=app))
    for name in waiting.values():
        module = await kt.wait_module_phase(api, namespace, name, "Pending", timeout=MODULE_STEP)
        assert not (module["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_NAME)
    # The status write is inside the first reconcile; its log line comes when it returns.
    await _reconciled_since(debug_controller, namespace,
                            {("Module", n): 0 for n in waiting.values()}, "its first")
    watched = {side: {"ModuleReplicaSet": objects["ModuleReplicaSet"], "Module": waiting[side]}
               for side, objects in (("near", near), ("far", far))}

    log = debug_controller.log_text()
    before = {(side, q): reconciles(log, q, namespace, n)
              for side, objects in watched.items() for q, n in objects.items()}
    # Still no room on BASE (0), so nothing is placed; what may place there looks again.
    await _relabel(api, namespace, BASE, {c.LABEL_MAX_MODULE_COUNT: "0"})
    await _reconciled_since(debug_controller, namespace,
                            {(q, n): before[("near", q)] for q, n in watched["near"].items()},
                            "after BASE's capacity changed")

    # FAR_BASE's revision and its waiting Module were not woken. Woken, they would have been
    # queued with the near ones (one routing of one event) and be seen here most of the time;
    # to be sure, they are then marked once on purpose, and each must count exactly that one
    # reconcile (see the module docstring).
    log = debug_controller.log_text()
    early = {q: reconciles(log, q, namespace, n) - before[("far", q)]
             for q, n in watched["far"].items()}
    assert early == {q: 0 for q in watched["far"]}, (
        f"FAR_BASE's objects reconciled after BASE's capacity changed: {early}")
    await _mark(api, namespace, c.MODULE_REPLICA_SET.plural, watched["far"]["ModuleReplicaSet"])
    await _mark(api, namespace, c.MODULE.plural, watched["far"]["Module"])
    await _reconciled_since(debug_controller, namespace,
                            {(q, n): before[("far", q)] for q, n in watched["far"].items()},
                            "the marked one")
    log = debug_controller.log_text()
    after = {q: reconciles(log, q, namespace, n) - before[("far", q)]
             for q, n in watched["far"].items()}
    assert after == {q: 1 for q in watched["far"]}, (
        f"reconciles of FAR_BASE's revision and waiting Module since BASE's capacity changed "
        f"(1 each: the marked one): {after}")

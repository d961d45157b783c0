"""Releases that the cluster allows to progress do progress: freed room wakes the revisions that
wait for it, and a base that restarts gets its modules back however often it restarts.

Each case is a stall found by trying sequences of operations as a user would; before the fix
each waited for good (or until the controller was restarted).
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl, kubectl_apply as apply

from module_controller.planning.module_lifecycle import INSTALLS_PER_GENERATION

from helpers.arklet_log import bizzes_on, installs, request_log
from helpers.bodies import BASE, md_body
from helpers.cluster import bases, live_modules, pod_of, wait_md
from helpers.controller import running_controller
from helpers.controller_args import FAST, MODULE_STEP
from helpers.release import completed

pytestmark = pytest.mark.cluster

ONE_GROUP = {"batchCount": 1, "needConfirm": False}


def other_module(name: str, replicas: int, module: str) -> dict:
    """A ModuleDeployment of biz ``module`` (the module repository generates its jar)."""
    body = md_body(name, replicas, **ONE_GROUP)
    spec = body["spec"]["template"]["spec"]["module"]
    spec["name"] = module
    spec["url"] = f"http://repo.example.com/modules/{module}-{spec['version']}-ark-biz.jar"
    return body


def short_of_bases(mrs: dict | None) -> bool:
    return any(x["type"] == c.CONDITION_REPLICA_FAILURE and x["status"] == "True"
               and x["reason"] == c.REASON_INSUFFICIENT_BASES
               for x in ((mrs or {}).get("status") or {}).get("conditions") or [])


async def test_freed_room_wakes_the_revision_waiting_for_it(api, namespace, controller,
                                                            dev_cluster):
    """2 bases with max-module-count=1; ``ca`` (2 replicas) fills them, ``cb`` (1 replica) is
    short of bases; deleting ``ca`` frees both bases and ``cb`` is placed. Before, the Modules'
    removal woke only their own ModuleReplicaSet, and ``cb`` waited until a controller restart."""
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    await client.AppsV1Api(api).patch_namespaced_deployment(
        BASE, namespace, {"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "1"}}})
    apply(kc, namespace, md_body("ca", 2, **ONE_GROUP))
    await wait_md(api, namespace, "ca", completed(1, 2), "ca on both bases", timeout=MODULE_STEP)

    apply(kc, namespace, other_module("cb", 1, "consumer"))
    await kt.wait_for(lambda: kt.get_replicaset(api, namespace, "cb-replicas-1"), short_of_bases,
                      timeout=MODULE_STEP, what="cb short of bases")

    kubectl(kc, namespace, "delete", "moduledeployment", "ca", "--wait=false")
    await wait_md(api, namespace, "cb", completed(1, 1), "cb placed once ca is gone",
                  timeout=2 * MODULE_STEP)
    (placed,) = [m for m in await live_modules(api, namespace)
                 if m["spec"]["module"]["name"] == "consumer"]
    assert pod_of(placed)


#: The drift check's period for the restart test: each restart is found within one period.
DRIFT_PERIOD = 3.0


@pytest.fixture
def drifting_controller(dev_cluster, namespace, tmp_path):
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log",
                            [*FAST, f"--drift-check-period={DRIFT_PERIOD:g}"]) as proc:
        yield proc


async def test_a_base_that_restarts_often_gets_its_module_back_every_time(
        api, namespace, arklets, drifting_controller):
    """A healthy base whose JVM restarts 7 times (the fake Arklet forgets every biz, and its
    health reports a fresh uptime): each time the drift check finds the biz missing and the
    Module reinstalls it. Before, the 5th reinstall hit the bound meant for bases that drop what
    they install (``INSTALLS_PER_GENERATION``) and the Module stayed Failed InstallNotKept."""
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await kt.create_module(api, namespace, kt.module_body("m", labels={
        c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name, c.LABEL_BASE_INSTANCE_IP: ip}))
    module = await kt.wait_module_phase(api, namespace, "m", "Available", timeout=MODULE_STEP)
    restarts = INSTALLS_PER_GENERATION + 2
    for restart in range(1, restarts + 1):
        # Restarted once the last install is recorded (the base runs what status says).
        before = module["status"].get("lastInstallTime")
        await arklets.restart(ip)
        assert await bizzes_on(arklets, ip) == []
        module = await kt.wait_for(
            lambda: kt.get_module(api, namespace, "m"),
            lambda m, before=before: kt.phase(m) == "Available"
            and m["status"].get("lastInstallTime") != before,
            timeout=DRIFT_PERIOD + MODULE_STEP,
            what=f"the module reinstalled after restart {restart}")
        assert await bizzes_on(arklets, ip) == ["provider:1.0.0"]
    assert len(installs(await request_log(arklets, ip))) == restarts + 1
    assert module["status"]["installs"] <= INSTALLS_PER_GENERATION, module["status"]


async def test_the_longest_gray_time_the_api_admits_is_planned_not_raised(
        api, namespace, controller, dev_cluster):
    """``grayTimeBetweenBatchSeconds`` at its maximum (int32; 1e12 is refused by the API server,
    tests/api): the first group completes and the release waits for the gray time's end, a date
    in 2094, instead of every reconcile raising OverflowError."""
    await bases(api, namespace, 2)
    apply(dev_cluster.kubeconfig, namespace, md_body(
        "gray", 2, batchCount=2, needConfirm=False, grayTimeBetweenBatchSeconds=c.MAX_SECONDS))
    md = await wait_md(api, namespace, "gray",
                       lambda md: bool(kt.release_status(md).get("nextReconcileTime")),
                       "the gray time after group 1 planned", timeout=MODULE_STEP)
    rs = kt.release_status(md)
    assert rs["progress"] == "Executing" and rs["nextReconcileTime"] > "2090", rs
    assert (md["status"] or {}).get("availableReplicas") == 1
    log = controller.log_text()
    assert "OverflowError" not in log and "Traceback" not in log, log[-3000:]

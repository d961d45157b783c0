"""NotReady is not gone: in peer mode a base that turns NotReady keeps its
instance for --base-not-ready-grace; a blip shorter than that costs no uninstall and no
reinstall, a longer outage takes the instance off.

The pod's Ready condition is flipped through the pods/status API, as a kubelet whose readiness
probe fails would; the base simulator leaves a running pod's status alone.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from helpers.controller_args import FAST, MODULE_STEP
from helpers.arklet_log import installs, log_marks, request_log, uninstalls
from helpers.bodies import md_body
from helpers.cluster import bases, live_modules, pod_of, wait_md

pytestmark = pytest.mark.cluster


async def set_ready(api, namespace: str, name: str, ready: bool) -> None:
    core = client.CoreV1Api(api)
    pod = await core.read_namespaced_pod_status(name, namespace)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted = "True" if ready else "False"
    conditions = []
    for cond in pod.status.conditions or []:
        item = {"type": cond.type, "status": cond.status,
                "lastTransitionTime": cond.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if cond.type in ("Ready", "ContainersReady") and cond.status != wanted:
            item.update(status=wanted, lastTransitionTime=now)
        conditions.append(item)
    await core.patch_namespaced_pod_status(name, namespace, {"status": {"conditions": conditions}},
                                           _content_type="application/merge-patch+json")


async def peer_on_two_bases(api, namespace: str, kubeconfig) -> list:
    pods = await bases(api, namespace, 2)
    body = md_body("peer", replicas=-1)
    apply(kubeconfig, namespace, body)
    await kt.wait_for(lambda: live_modules(api, namespace), lambda ms: len(ms) == 2 and all(
        kt.phase(m) == "Available" for m in ms), timeout=MODULE_STEP,
        what="one Available instance on each base")
    return sorted(pods, key=lambda p: p.metadata.name)


@pytest.fixture
def patient_controller(dev_cluster, namespace: str, tmp_path: Path):
    """The controller with a grace no readiness blip of this test can outlast."""
    level = [f"--log-level={os.environ['CONTROLLER_LOG_LEVEL']}"] \
        if os.environ.get("CONTROLLER_LOG_LEVEL") else []
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log",
                             namespaces=[namespace],
                             extra_args=FAST + ["--base-not-ready-grace=3600"] + level).start()
    yield proc
    crashed = not proc.alive
    proc.stop()
    print(proc.log_text()[-8000:])
    assert not crashed, "the controller exited during the test"


async def test_a_readiness_blip_costs_nothing(api, namespace, arklets, patient_controller,
                                              dev_cluster):
    pods = await peer_on_two_bases(api, namespace, dev_cluster.kubeconfig)
    blip = pods[0]
    marks = await log_marks(arklets, [p.status.pod_ip for p in pods])
    await set_ready(api, namespace, blip.metadata.name, False)
    # The ModuleDeployment has looked at the NotReady base (its instance no longer counts as
    # Available) and still wants one instance per base.
    md = await wait_md(api, namespace, "peer",
                       lambda md: ((md or {}).get("status") or {}).get("availableReplicas") == 1,
                       "the NotReady base's instance not Available", timeout=MODULE_STEP)
    assert md["status"]["desiredReplicas"] == 2
    (rs,) = await kt.list_replicasets(api, namespace)
    assert rs["spec"]["replicas"] == 2

    await set_ready(api, namespace, blip.metadata.name, True)
    await wait_md(api, namespace, "peer",
                  lambda md: ((md or {}).get("status") or {}).get("availableReplicas") == 2,
                  "both instances Available again", timeout=MODULE_STEP)
    for pod in pods:
        log = await request_log(arklets, pod.status.pod_ip, since=marks[pod.status.pod_ip])
        assert installs(log, ok=False) == [] and uninstalls(log) == [], pod.metadata.name
    assert {pod_of(m) for m in await live_modules(api, namespace)} == \
        {p.metadata.name for p in pods}


async def test_after_the_grace_a_not_ready_base_loses_its_instance(
        api, namespace, arklets, controller, dev_cluster):
    # controller_args.BASE_NOT_READY_GRACE (1 s) applies here.
    pods = await peer_on_two_bases(api, namespace, dev_cluster.kubeconfig)
    down = pods[0]
    await set_ready(api, namespace, down.metadata.name, False)
    # Taken off = the Module object gone, not only marked deleted: its uninstall comes first.
    await kt.wait_for(lambda: kt.list_modules(api, namespace),
                      lambda ms: [pod_of(m) for m in ms] == [pods[1].metadata.name],
                      timeout=MODULE_STEP, what="the NotReady base's instance taken off")
    log = await request_log(arklets, down.status.pod_ip)
    assert uninstalls(log), "the instance was uninstalled from the base that stayed NotReady"
    md = await kt.get_deployment(api, namespace, "peer")
    assert md["status"]["desiredReplicas"] == 1

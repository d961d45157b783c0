"""The cluster admin's switches over what ModuleDeployment rights become (docs/security.md, item 4):
--module-services and --pod-deletion, each on the real controller and the dev cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller_dev.devcluster.kubectl import kubectl_apply, kubectl_patch as patch
from module_controller.planning import limits

from helpers.controller_args import FAST, MODULE_STEP

pytestmark = pytest.mark.cluster

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
MD = "moduledeployment-sample-provider"  # 1 instance, serviceStrategy on port 8080
SELECTOR = "app=dynamic-stock"


@pytest.fixture
def run_controller(dev_cluster, namespace, tmp_path):
    """A controller for this test's namespace with extra flags (the ``controller`` fixture's
    flags are fixed)."""
    procs: list[ControllerProcess] = []

    def start(*flags: str) -> ControllerProcess:
        proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log",
                                 namespaces=[namespace], extra_args=FAST + list(flags)).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        crashed = not proc.alive
        proc.stop()
        print(proc.log_text()[-8000:])
        assert not crashed, "the controller exited during the test"


def sample(namespace: str, **operation: object) -> dict:
    body = yaml.safe_load((SAMPLES / "seed003_moduledeployment_provider.yaml").read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"]["operationStrategy"].update(operation)
    return body


async def restricted(api, namespace: str) -> dict | None:
    md = await kt.get_deployment(api, namespace, MD)
    return next((x for x in (md or {}).get("status", {}).get("conditions") or []
                 if x["type"] == limits.CONDITION_RESTRICTED), None)


async def service_names(api, namespace: str) -> list[str]:
    return [s.metadata.name for s in
            (await client.CoreV1Api(api).list_namespaced_service(namespace)).items]


async def wait_event(api, namespace: str, name: str, reason: str) -> None:
    await kt.wait_for(lambda: kt.events_for(api, namespace, name),
                      lambda events: any(e.reason == reason for e in events),
                      timeout=30, what=f"Event {reason} on {name}")


async def test_module_services_disabled_refuses_the_service_and_says_why(
        api, namespace, dev_cluster, run_controller):
    run_controller("--module-services=disabled")
    await kt.create_base_deployment(api, namespace, 1)
    await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    kubectl_apply(dev_cluster.kubeconfig, namespace, sample(namespace))
    # The rest of the spec is served: the release completes.
    await kt.wait_progress(api, namespace, MD, "Completed", timeout=MODULE_STEP)
    cond = await kt.wait_for(lambda: restricted(api, namespace), timeout=30,
                             what="condition Restricted")
    assert cond["status"] == "True" and cond["reason"] == limits.REASON_SERVICE_DISABLED
    assert "spec.operationStrategy.serviceStrategy.enableModuleService" in cond["message"]
    await wait_event(api, namespace, MD, limits.REASON_SERVICE_DISABLED)
    assert "provider-service" not in await service_names(api, namespace)
    # The user turns the Service off: nothing is refused any more, the condition goes.
    patch(dev_cluster.kubeconfig, namespace, "mddeploy", MD,
          {"spec": {"operationStrategy": {"serviceStrategy": {"enableModuleService": False}}}})
    await kt.wait_for(lambda: restricted(api, namespace), lambda cond: cond is None,
                      timeout=MODULE_STEP, what="condition Restricted removed")


async def test_module_services_clusterip_makes_no_node_port(api, namespace, dev_cluster,
                                                            run_controller):
    run_controller("--module-services=clusterip")
    await kt.create_base_deployment(api, namespace, 1)
    await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    kubectl_apply(dev_cluster.kubeconfig, namespace, sample(namespace))
    svc = await kt.wait_for(
        lambda: client.CoreV1Api(api).read_namespaced_service("provider-service", namespace),
        timeout=MODULE_STEP, what="the module Service")
    assert svc.spec.type == "ClusterIP"
    assert all(p.node_port is None for p in svc.spec.ports)
    assert await restricted(api, namespace) is None


async def test_no_pod_deletion_takes_modules_off_but_keeps_the_pod(api, namespace, dev_cluster,
                                                                   arklets, run_controller):
    run_controller("--no-pod-deletion")
    await kt.create_base_deployment(api, namespace, 1)
    [pod] = await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    body = sample(namespace, upgradePolicy="scaleup_then_scaledown",
                  serviceStrategy={"enableModuleService": False})
    kubectl_apply(dev_cluster.kubeconfig, namespace, body)
    await kt.wait_progress(api, namespace, MD, "Completed", timeout=MODULE_STEP)
    # scaleup_then_scaledown asks for base pod deletion: refused, named.
    cond = await kt.wait_for(lambda: restricted(api, namespace), timeout=30,
                             what="condition Restricted")
    assert cond["reason"] == limits.REASON_POD_DELETION_DISABLED
    assert "spec.operationStrategy.upgradePolicy" in cond["message"]
    await wait_event(api, namespace, MD, limits.REASON_POD_DELETION_DISABLED)

    # A delete-pod label: the module is taken off (uninstalled), the pod stays.
    patch(dev_cluster.kubeconfig, namespace, "pod", pod.metadata.name,
          {"metadata": {"labels": {c.LABEL_DELETE_POD: c.LABEL_TRUE}}})
    await wait_event(api, namespace, pod.metadata.name, "PodDeletionDisabled")
    live = await client.CoreV1Api(api).read_namespaced_pod(pod.metadata.name, namespace)
    assert live.metadata.uid == pod.metadata.uid and live.metadata.deletion_timestamp is None
    assert [m for m in await kt.list_modules(api, namespace)
            if (m["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_NAME)
            == pod.metadata.name] == []
    assert await arklets.bizzes(pod.status.pod_ip) == []

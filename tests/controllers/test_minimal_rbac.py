"""The controller works with exactly the permissions of rbac/namespaced (docs/security.md, RBAC).

The real controller process runs under the ServiceAccount's own identity: a kubeconfig with a
token from the TokenRequest API, not the admin's client certificate, so every call it makes is
authorised by the Role and nothing else. It drives a release through confirmation to
Completed, from a ModuleTemplate (whose status it writes), with a module Service, the leader
Lease, base count labels and a base pod retired by the delete-pod label, then deletes the
ModuleDeployment and cleans everything offline. A verb missing from the Role shows up as a
``forbidden`` answer in the controller's log (a watch, a write or an Event post that failed),
which fails the test even if a retry got round it.
tests/api/test_api_rbac.py checks the other side: what the Role does not grant.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess, free_port
from module_controller_dev.devcluster.kubectl import kubectl, kubectl_apply, kubectl_patch as patch

from helpers.controller_args import FAST, MODULE_STEP
from helpers.bodies import SELECTOR
from helpers.cluster import bases
from rbac_helpers import can_i, install_role, service_account_kubeconfig

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
MD = "moduledeployment-sample"
# Starting the controller: list everything once and take the Lease (held by nobody yet).
START_TIMEOUT = 60.0


def release(namespace: str) -> tuple[dict, dict]:
    """The seed release (2 replicas in 2 groups, confirmation after the first) with a module
    Service, its module taken from a ModuleTemplate so that the template's status is written."""
    samples = REPO / "config" / "samples"
    template = yaml.safe_load((samples / "moduletemplate.yaml").read_text())
    template["metadata"]["namespace"] = namespace
    body = yaml.safe_load((samples / "seed003_moduledeployment.yaml").read_text())
    body["metadata"]["namespace"] = namespace
    template["template"]["spec"]["module"] = body["spec"]["template"]["spec"]["module"]
    del body["spec"]["template"]
    body["spec"]["templateRef"] = {"name": template["metadata"]["name"]}
    body["spec"]["operationStrategy"]["serviceStrategy"] = {"enableModuleService": True,
                                                             "port": 8080}
    return template, body


async def test_controller_runs_with_exactly_the_namespaced_role(api, namespace, arklets,
                                                                 dev_cluster, tmp_path):
    admin = dev_cluster.kubeconfig
    core = client.CoreV1Api(api)
    install_role(admin, namespace, tmp_path / "rbac")
    sa = await service_account_kubeconfig(api, admin, namespace, tmp_path / "sa.kubeconfig")
    # RBAC objects reach the authorizer through informers; the Lease rule is the Role's last.
    await kt.wait_for(lambda: asyncio.to_thread(
        can_i, sa, namespace, "update", "leases.coordination.k8s.io"), timeout=30,
        what="the Role to take effect for the ServiceAccount")
    # The token really is the ServiceAccount's, restricted (the admin may do all of these).
    for verb, resource in (("delete", "moduledeployments.serverless.alipay.com"),
                           ("update", "modules.serverless.alipay.com"),
                           ("get", "secrets"), ("list", "namespaces")):
        assert not can_i(sa, namespace, verb, resource), (verb, resource)

    await bases(api, namespace, 3)
    proc = ControllerProcess(sa, tmp_path / "controller.log", namespaces=[namespace],
                             extra_args=FAST + ["--leader-election",
                                                f"--lease-namespace={namespace}"],
                             probe_port=free_port()).start()
    try:
        await asyncio.to_thread(proc.wait_ready, START_TIMEOUT)
        template, body = release(namespace)
        kubectl_apply(admin, namespace, template)
        kubectl_apply(admin, namespace, body)
        # The controller pauses the release itself (a patch of spec.pause) after group 1.
        await kt.wait_progress(api, namespace, MD, "Paused", batch=1, timeout=MODULE_STEP)
        patch(admin, namespace, "mddeploy", MD, {"spec": {"pause": False}})
        await kt.wait_progress(api, namespace, MD, "Completed", timeout=MODULE_STEP)
        # The template's status says who uses it (a moduletemplates/status patch).
        await kt.wait_for(lambda: client.CustomObjectsApi(api).get_namespaced_custom_object(
            c.GROUP, c.VERSION, namespace, "moduletemplates", template["metadata"]["name"]),
            lambda t: (t.get("status") or {}).get("usedBy") == [MD], timeout=MODULE_STEP,
            what="the ModuleTemplate's status.usedBy")
        service = await core.read_namespaced_service("provider-service", namespace)
        assert service.spec.type == "NodePort"
        lease = await client.CoordinationV1Api(api).read_namespaced_lease("module-controller",
                                                                         namespace)
        assert lease.spec.holder_identity

        async def base_labels():
            base = await client.AppsV1Api(api).read_namespaced_deployment(
                "dynamic-stock-deployment", namespace)
            return base.metadata.labels or {}

        await kt.wait_for(base_labels, lambda labels: labels.get(
            c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE) == "1", timeout=MODULE_STEP,
            what="the base Deployment's count labels")

        # A base pod retired by the delete-pod label: modules taken off, the pod deleted.
        hosting = [p for p in await kt.list_pods(api, namespace, SELECTOR)
                   if (p.metadata.labels or {}).get(c.module_label_key("provider")) == "true"]
        assert len(hosting) == 2, [p.metadata.name for p in hosting]
        victim = hosting[0].metadata
        patch(admin, namespace, "pod", victim.name, {"metadata": {"labels": {
            c.LABEL_DELETE_POD: c.LABEL_TRUE}}})

        async def victim_state():
            try:
                pod = await core.read_namespaced_pod(victim.name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return "gone"
                raise
            return "deleting" if pod.metadata.deletion_timestamp else "there"

        await kt.wait_for(victim_state, lambda s: s != "there", timeout=2 * MODULE_STEP,
                          what="the labelled base pod to be deleted by the controller")

        # Offline: the ModuleDeployment goes with its revisions, Modules and Service. (Offline
        # follows the operation strategy too: without this it would wait for a confirmation.)
        patch(admin, namespace, "mddeploy", MD, {"spec": {"operationStrategy": {
            "needConfirm": False}}})
        kubectl(admin, namespace, "delete", "mddeploy", MD, "--wait=false")
        await kt.wait_for(lambda: kt.get_deployment(api, namespace, MD), lambda md: md is None,
                          timeout=3 * MODULE_STEP, what="the ModuleDeployment to be gone")
        assert await kt.list_modules(api, namespace) == []
        assert await kt.list_replicasets(api, namespace) == []
        names = [s.metadata.name for s in (await core.list_namespaced_service(namespace)).items]
        assert "provider-service" not in names
        for pod in await kt.list_pods(api, namespace, SELECTOR):
            if pod.status.pod_ip and kt.pod_ready(pod):
                assert await arklets.bizzes(pod.status.pod_ip) == [], pod.metadata.name
        events = await kt.wait_for(
            lambda: core.list_namespaced_event(namespace),
            lambda listed: any(e.source and e.source.component == "module-controller"
                               for e in listed.items),
            timeout=30, what="an Event posted by the controller")
        assert events
    finally:
        code = proc.stop()
        log = proc.log_text()
        print(log[-8000:])
    assert "forbidden" not in log.lower(), [line for line in log.splitlines()
                                            if "forbidden" in line.lower()][:5]
    assert code == 0, log[-3000:]

"""Scaling out: one controller per set of namespaces, each with its own identity and Lease
(docs/deploy.md, "More than one controller").

Two controllers run side by side on one cluster, each under the ServiceAccount of rbac/namespaced
installed in its own namespace, with leader election on a Lease there. Each releases its own
ModuleDeployment; neither asks the API server for anything in the other's namespace (such a
request would be refused for lack of rights and show as ``forbidden`` in its log), and killing
one leaves the other working.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess, free_port
from module_controller_dev.devcluster.kubectl import kubectl_apply, kubectl_patch as patch

from helpers.controller_args import FAST, MODULE_STEP
from helpers.cluster import bases
from rbac_helpers import can_i, install_role, service_account_kubeconfig

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
MD = "moduledeployment-sample"
START_TIMEOUT = 60.0  # list everything once and take a free Lease


def release(namespace: str, replicas: int) -> dict:
    body = yaml.safe_load((REPO / "config" / "samples" / "seed003_moduledeployment.yaml")
                          .read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"]["replicas"] = replicas
    body["spec"]["operationStrategy"]["needConfirm"] = False
    return body


async def prepare(api, admin: Path, namespace: str, directory: Path) -> Path:
    """rbac/namespaced, two base pods, and the ServiceAccount's kubeconfig for ``namespace``."""
    install_role(admin, namespace, directory / "rbac")
    kubeconfig = await service_account_kubeconfig(api, admin, namespace,
                                                  directory / "sa.kubeconfig")
    await kt.wait_for(lambda: asyncio.to_thread(
        can_i, kubeconfig, namespace, "update", "leases.coordination.k8s.io"), timeout=30,
        what=f"the Role in {namespace} to take effect")
    await bases(api, namespace, 2)
    return kubeconfig


def controller(kubeconfig: Path, namespace: str, log: Path) -> ControllerProcess:
    return ControllerProcess(kubeconfig, log, namespaces=[namespace], probe_port=free_port(),
                             extra_args=FAST + ["--leader-election",
                                                f"--lease-namespace={namespace}"]).start()


async def test_two_controllers_with_disjoint_namespaces_stay_apart(api, namespace, dev_cluster,
                                                                   tmp_path):
    admin = dev_cluster.kubeconfig
    other = f"t-{uuid.uuid4().hex[:8]}"
    await kt.create_namespace(api, other)
    procs: list[ControllerProcess] = []
    try:
        a_config = await prepare(api, admin, namespace, tmp_path / "a")
        b_config = await prepare(api, admin, other, tmp_path / "b")
        # Each identity is confined to its namespace: the split is enforced, not only agreed.
        assert not can_i(a_config, other, "list", "modules.serverless.alipay.com")
        assert not can_i(b_config, namespace, "list", "modules.serverless.alipay.com")

        a = controller(a_config, namespace, tmp_path / "a.log")
        b = controller(b_config, other, tmp_path / "b.log")
        procs = [a, b]
        await asyncio.gather(asyncio.to_thread(a.wait_ready, START_TIMEOUT),
                             asyncio.to_thread(b.wait_ready, START_TIMEOUT))
        kubectl_apply(admin, namespace, release(namespace, 2))
        kubectl_apply(admin, other, release(other, 1))
        md_a = await kt.wait_progress(api, namespace, MD, "Completed", timeout=MODULE_STEP)
        md_b = await kt.wait_progress(api, other, MD, "Completed", timeout=MODULE_STEP)
        assert (md_a["status"]["availableReplicas"], md_b["status"]["availableReplicas"]) == (2, 1)

        leases = client.CoordinationV1Api(api)
        for ns in (namespace, other):
            lease = await leases.read_namespaced_lease("module-controller", ns)
            assert lease.spec.holder_identity, ns

        # One controller gone: the other keeps serving its own namespace.
        a.kill()
        patch(admin, other, "mddeploy", MD, {"spec": {"replicas": 2}})
        md_b = await kt.wait_for(lambda: kt.get_deployment(api, other, MD),
                                 lambda md: md["status"].get("observedGeneration")
                                 == md["metadata"]["generation"]
                                 and md["status"]["releaseStatus"]["progress"] == "Completed"
                                 and md["status"].get("availableReplicas") == 2,
                                 timeout=MODULE_STEP, what="the second release in the other "
                                 "namespace after the first controller was killed")
        # ... and left the first namespace's instances as they were.
        assert len(await kt.list_modules(api, namespace)) == 2
    finally:
        for proc in procs:
            proc.stop()
        await kt.delete_namespace(api, other)
    for proc, name in zip(procs, ("a", "b"), strict=True):
        log = proc.log_text()
        refused = [line for line in log.splitlines() if "forbidden" in line.lower()]
        assert not refused, (name, refused[:5])

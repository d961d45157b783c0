"""The real node's objects in the API: node RBAC, readiness, draining, the real base Deployment."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from .. import kubebody
from . import bootstrap, images, realnode

Log = Callable[[str], None]
ARKLET_PORT = 1238

# The node authorizer is not enabled: the kubelet's group gets the system:node role by RBAC.
NODE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "module-controller-dev:nodes"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "system:node"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                  "name": "system:nodes"}],
}


def base_deployment(replicas: int, image: str, proxy: str) -> dict[str, Any]:
    """``default/dynamic-stock-deployment`` as real 2025 base containers.

    Installs fetch the module jar with java.net.URL; the module repository is also the bases'
    HTTP proxy (every http:// url goes there), reached on the node's address. The readiness
    probe asks Arklet's ``health`` (by POST, with curl: Arklet answers a GET with HTTP 500, so
    an httpGet probe never passes): a base takes modules only once Arklet answers.
    """
    body = bootstrap.base_deployment(replicas)
    host, _, port = proxy.rpartition(":")
    container = body["spec"]["template"]["spec"]["containers"][0]
    container.update({
        "image": image,
        "imagePullPolicy": "Never",  # imported into the node's containerd, never pulled
        "env": [{"name": "JAVA_TOOL_OPTIONS",
                 "value": f"-Dhttp.proxyHost={host} -Dhttp.proxyPort={port} "
                          "-Dhttp.nonProxyHosts="}],
        "readinessProbe": {"exec": {"command": list(images.PROBE_COMMAND)},
                           "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "50m", "memory": "320Mi"},
                      "limits": {"memory": "600Mi"}},
    })
    body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 20
    return body


async def _prepare(kubeconfig: Path, timeout: float, log: Log) -> None:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        rbac = client.RbacAuthorizationV1Api(api)
        try:
            await rbac.create_cluster_role_binding(kubebody.body(NODE_BINDING))
        except ApiException as exc:
            if exc.status != 409:
                raise
        core = client.CoreV1Api(api)
        deadline = time.monotonic() + timeout
        while True:
            try:
                node = await core.read_node(realnode.NODE_NAME)
                ready = any(c.type == "Ready" and c.status == "True"
                            for c in node.status.conditions or [])
                tainted = any(t.key == "node.kubernetes.io/not-ready"
                              for t in node.spec.taints or [])
                if ready and not tainted:
                    log(f"real node {realnode.NODE_NAME} is Ready "
                        f"(kubelet {node.status.node_info.kubelet_version}, "
                        f"{node.status.node_info.container_runtime_version})")
                    return
            except ApiException as exc:
                if exc.status != 404:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"real node {realnode.NODE_NAME} not Ready (untainted) after "
                                   f"{timeout:.0f}s; see the kubelet's log")
            await asyncio.sleep(0.5)


def prepare(kubeconfig: Path, *, timeout: float, log: Log) -> None:
    """Let the kubelet register (RBAC) and wait until its node is Ready and schedulable."""
    asyncio.run(_prepare(kubeconfig, max(timeout, 90.0), log))


async def _drain(kubeconfig: Path, node: str, log: Log, timeout: float) -> None:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        core = client.CoreV1Api(api)
        await core.patch_node(node, {"spec": {"unschedulable": True}})
        selector = f"spec.nodeName={node}"
        pods = (await core.list_pod_for_all_namespaces(field_selector=selector)).items
        for pod in pods:
            try:
                await core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        deadline = time.monotonic() + timeout
        while True:
            left = (await core.list_pod_for_all_namespaces(field_selector=selector)).items
            if not left:
                break
            if time.monotonic() > deadline:
                for pod in left:  # the kubelet did not finish: the containers go by ctr
                    await core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                                     grace_period_seconds=0)
                break
            await asyncio.sleep(0.5)
        if pods:
            log(f"deleted {len(pods)} pods of the real node")


def drain(kubeconfig: Path, node: str, *, log: Log, timeout: float = 60.0) -> None:
    """Cordon ``node`` and delete its pods, waiting for the kubelet to stop them."""
    asyncio.run(_drain(kubeconfig, node, log, timeout))

"""The answer to one of our own writes wakes every watcher of the object it changed, as its watch
event would, on the dev cluster's API server: the case of a base retired by its
ModuleReplicaSet (``scaleup_then_scaledown``), whose delete-pod label used to be cached by hand
with only the base pod reconciler woken. Its watch event then came as an echo of a version
already cached and was dropped, so the Module on that pod, its ModuleReplicaSet and
ModuleDeployment and the Deployment's count labels never heard of it.

The reconcilers' queues record what they are asked to look at (as in test_operator_wiring.py);
the caches are primed from the API server as the operator primes them.
"""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller.controllers import wake as q
from module_controller.controllers.modulereplicaset import ReplicaSetReconciler
from module_controller_dev.devcluster import bootstrap, testing as kt
from module_controller.kube.io import KubeIO

from helpers.wired import offline_context, recording_wake

pytestmark = pytest.mark.cluster
MD, MRS, MODULE = "provider", "provider-1", "provider-1-abcde"


def _release_on(namespace: str, pod_name: str) -> list[tuple[str, dict]]:
    """A ModuleDeployment on the base Deployment, its revision, and its Module bound to the pod
    (cached only: what they are is the caches' business, not the API server's)."""
    def meta(name: str, **labels: str) -> dict:
        return {"name": name, "namespace": namespace, "uid": f"{name}-uid",
                "resourceVersion": "1", "labels": labels}

    md = {"kind": c.MODULE_DEPLOYMENT.kind, "metadata": meta(MD),
          "spec": {"baseDeploymentName": bootstrap.BASE_DEPLOYMENT}}
    mrs = {"kind": c.MODULE_REPLICA_SET.kind, "metadata": meta(
        MRS, **{c.LABEL_MODULE_DEPLOYMENT: MD,
                c.LABEL_DEPLOYMENT_NAME: bootstrap.BASE_DEPLOYMENT}), "spec": {}}
    module = {"kind": c.MODULE.kind, "metadata": meta(
        MODULE, **{c.LABEL_MODULE_DEPLOYMENT: MD, c.LABEL_MODULE_REPLICASET: MRS,
                   c.LABEL_BASE_INSTANCE_NAME: pod_name}),
        "spec": {"module": {"name": "provider", "version": "1.0.0"}}}
    return [(c.MODULE_DEPLOYMENT.kind, md), (c.MODULE_REPLICA_SET.kind, mrs),
            (c.MODULE.kind, module)]


async def test_retiring_a_base_wakes_every_watcher_of_its_pod(api, namespace, arklets):
    await kt.create_base_deployment(api, namespace, 1)
    (pod,) = await kt.wait_ready_pods(api, namespace, f"app={bootstrap.BASE_APP_LABEL}", 1)
    wake, queues = recording_wake()
    ctx = offline_context(kube=KubeIO(api), wake=wake)
    routes = ctx.writer.routes
    for kind, source in routes.sources.items():  # primed as the operator primes its caches
        for item in (await source.lister(ctx.kube)(namespace)).items:
            routes.listed(kind, {"kind": kind, **item})
    for kind, obj in _release_on(namespace, pod.metadata.name):
        routes.listed(kind, obj)

    await ReplicaSetReconciler(ctx)._retire_base(namespace, pod.metadata.name)

    woken = {name: set(r.keys) for name, r in queues.items() if r.keys}
    assert woken == {
        q.BASE_PODS: {(namespace, pod.metadata.name)},  # takes its modules off, deletes it
        q.MODULES: {(namespace, MODULE)},  # its base is going
        q.REPLICASETS: {(namespace, MRS)},  # counts the instance as going, places elsewhere
        q.MODULE_DEPLOYMENTS: {(namespace, MD)},  # counts the base's pods (peer mode)
        q.BASE_DEPLOYMENTS: {(namespace, bootstrap.BASE_DEPLOYMENT)},  # count labels
    }
    cached = ctx.caches.pods.get(namespace, pod.metadata.name)
    assert cached is not None and \
        cached["metadata"]["labels"].get(c.LABEL_DELETE_POD) == c.LABEL_TRUE

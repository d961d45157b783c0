"""A namespace as upstream's Go v1 controller left it: bases running what the recorded objects
say, and the recorded objects (status through the status subresource), with their names, labels,
finalizers and owner references rewritten to this namespace's base Deployment and pods."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller.arklet import ArkletClient, ArkletSettings
from module_controller.arklet.protocol import BizRef

from helpers.cluster import bases
from migration_data import of_kind

MERGE = "application/merge-patch+json"
PLURALS = {"ModuleDeployment": "moduledeployments", "ModuleReplicaSet": "modulereplicasets",
           "Module": "modules"}
#: The migrate CLI: a server-side apply, its wait for Established (60 s) and a few requests.
CLI_TIMEOUT = 180.0


@dataclass
class World:
    md: dict
    mrs: dict
    modules: list[dict]
    pods: list            # the base pods, by name
    ips: list[str]


async def _create(api, namespace: str, obj: dict) -> dict:
    custom = client.CustomObjectsApi(api)
    plural = PLURALS[obj["kind"]]
    status = obj.pop("status", None)
    created = await custom.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                           plural, obj)
    if status:
        created = await custom.patch_namespaced_custom_object_status(
            c.GROUP, c.VERSION, namespace, plural, created["metadata"]["name"],
            {"status": status}, _content_type=MERGE)
    return created


def _meta(obj: dict, namespace: str, owners: list[dict]) -> dict:
    meta = obj["metadata"]
    keep = {k: meta[k] for k in ("name", "labels", "annotations", "finalizers") if k in meta}
    return {**keep, "namespace": namespace, "ownerReferences": owners}


async def upstream_world(api, namespace: str, recording: str, base_count: int = 3,
                         extra_conditions: tuple[dict, ...] = ()) -> World:
    """``extra_conditions`` are appended to the ModuleDeployment's, as upstream appends one per
    group (several of one type)."""
    pods = await bases(api, namespace, base_count)
    deployment = await client.AppsV1Api(api).read_namespaced_deployment(
        "dynamic-stock-deployment", namespace)
    md = of_kind(recording, "ModuleDeployment")[0]
    mrs = of_kind(recording, "ModuleReplicaSet")[0]
    modules = of_kind(recording, "Module")
    # The bases run what the objects say: upstream's controller installed it.
    async with ArkletClient(ArkletSettings()) as arklet:
        for module, pod in zip(modules, pods):
            info = module["spec"]["module"]
            await arklet.install(pod.status.pod_ip, BizRef(info["name"], info["version"],
                                                           info["url"]))
    md["status"]["conditions"] += list(extra_conditions)
    md["metadata"] = _meta(md, namespace, [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name,
        "uid": deployment.metadata.uid, "controller": True, "blockOwnerDeletion": True}])
    md = await _create(api, namespace, md)
    mrs["metadata"] = _meta(mrs, namespace, [{
        "apiVersion": c.API_VERSION, "kind": "ModuleDeployment", "name": md["metadata"]["name"],
        "uid": md["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
    mrs = await _create(api, namespace, mrs)
    created = []
    for module, pod in zip(modules, pods):
        module["metadata"] = _meta(module, namespace, [{
            "apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name,
            "uid": pod.metadata.uid, "blockOwnerDeletion": True}])
        module["metadata"]["labels"].update({
            c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
            c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip})
        created.append(await _create(api, namespace, module))
    return World(md=md, mrs=mrs, modules=created, pods=pods,
                 ips=[p.status.pod_ip for p in pods])


async def migrate(kubeconfig: Path, *args: str) -> tuple[int, str]:
    """``module-controller migrate ARGS`` as a user runs it: (exit code, its output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "module_controller.cli", "migrate", *args,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    return proc.returncode, out.decode()

"""What ``dev up`` puts into a fresh cluster: the CRDs and the sample base Deployment."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from .. import kubebody

BASE_DEPLOYMENT = "dynamic-stock-deployment"
BASE_APP_LABEL = "dynamic-stock"


def base_deployment(replicas: int, name: str = BASE_DEPLOYMENT, app: str = BASE_APP_LABEL) -> dict[str, Any]:
    """The base Deployment the seed samples name (``baseDeploymentName: dynamic-stock-deployment``)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "containers": [{
                        "name": "base",
                        # Never pulled: the base simulator plays the kubelet and serves a fake
                        # Arklet on the pod's IP instead of running a JVM.
                        "image": "koupleless/dynamic-stock-base:dev",
                        "ports": [{"name": "arklet", "containerPort": 1238}],
                    }],
                },
            },
        },
    }


def default_crds_dir() -> Path | None:
    """``./crds`` when run from a checkout, else the one next to the installed package."""
    for candidate in (Path.cwd() / "crds", Path(__file__).resolve().parents[3] / "crds"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None


def _crd_documents(crds_dir: Path) -> list[dict[str, Any]]:
    docs = [doc for path in sorted(crds_dir.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
    return [doc for doc in docs if doc and doc.get("kind") == "CustomResourceDefinition"]


async def apply_crds(api: client.ApiClient, crds_dir: Path, timeout: float) -> list[str]:
    ext = client.ApiextensionsV1Api(api)
    names = []
    for doc in await asyncio.to_thread(_crd_documents, crds_dir):
        name = doc["metadata"]["name"]
        try:
            await ext.create_custom_resource_definition(kubebody.body(doc))
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = await ext.read_custom_resource_definition(name)
            doc["metadata"]["resourceVersion"] = current.metadata.resource_version
            await ext.replace_custom_resource_definition(name, kubebody.body(doc))
        names.append(name)
    deadline = time.monotonic() + timeout
    custom = client.CustomObjectsApi(api)
    for name in names:
        while True:
            crd = await ext.read_custom_resource_definition(name)
            conds = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
            if conds.get("Established") == "True":
                # Established is not yet servable: a list right after answers 429 "storage is
                # (re)initializing" for a moment. Return only once a list works.
                try:
                    await custom.list_cluster_custom_object(
                        crd.spec.group, crd.spec.versions[0].name, crd.spec.names.plural, limit=1)
                    break
                except ApiException as exc:
                    if exc.status != 429:
                        raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not servable after {timeout:.0f}s")
            await asyncio.sleep(0.1)
    return names


async def wait_default_service_account(api: client.ApiClient, namespace: str, timeout: float) -> None:
    """Pods are rejected until the namespace's ``default`` ServiceAccount exists."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    while True:
        try:
            await core.read_namespaced_service_account("default", namespace)
            return
        except ApiException as exc:
            if exc.status != 404:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"no default ServiceAccount in {namespace} after {timeout:.0f}s "
                               "(is kube-controller-manager running?)")
        await asyncio.sleep(0.1)


async def _run(kubeconfig: Path, crds_dir: Path | None, bases: int, timeout: float,
               log: Callable[[str], None], base_body: dict[str, Any] | None = None) -> None:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        crds_dir = crds_dir or default_crds_dir()
        if crds_dir is not None:
            names = await apply_crds(api, crds_dir, timeout)
            log(f"applied {len(names)} CRDs from {crds_dir}")
        await wait_default_service_account(api, "default", timeout)
        if bases > 0:
            apps = client.AppsV1Api(api)
            try:
                await apps.create_namespaced_deployment(
                    "default", kubebody.body(base_body or base_deployment(bases)))
                log(f"created base Deployment default/{BASE_DEPLOYMENT} with {bases} replicas")
            except ApiException as exc:
                if exc.status != 409:
                    raise


def run(kubeconfig: Path, *, crds_dir: Path | None, bases: int, timeout: float,
        log: Callable[[str], None], base_body: dict[str, Any] | None = None) -> None:
    """``base_body``: the base Deployment to create instead of the simulated one."""
    asyncio.run(_run(kubeconfig, crds_dir, bases, timeout, log, base_body))

"""Helpers shared by the test suite and the benchmarks: waiting with a deadline, base Deployments.

Nothing here sleeps to synchronise: every wait polls a condition and fails loudly at its deadline,
saying what it was waiting for and what it saw last.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, TypeVar

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.api import constants as c
from module_controller.api import objects

from .. import kubebody
from . import bootstrap
from ..kubebody import MERGE_PATCH

T = TypeVar("T")
#: A Kubernetes object (or a part of one) as JSON.
Obj = dict[str, Any]
GROUP, VERSION = c.GROUP, c.VERSION


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call ``probe`` until ``check(result)`` holds; return that result or raise WaitTimeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_error: BaseException | None = None
    while True:
        try:
            result: T = await probe()
            last, last_error = result, None
            if check(result):
                return result
        except (ApiException, OSError, asyncio.TimeoutError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            seen = f"last error: {last_error!r}" if last_error else f"last value: {last!r}"
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; {seen}")
        await asyncio.sleep(interval)


def pod_ready(pod: client.V1Pod) -> bool:
    if pod.metadata.deletion_timestamp or not pod.status or pod.status.phase != "Running":
        return False
    if not pod.status.pod_ip:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


async def list_pods(api: client.ApiClient, namespace: str, selector: str) -> list[client.V1Pod]:
    result = await client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector)
    return result.items


async def wait_ready_pods(api: client.ApiClient, namespace: str, selector: str, count: int,
                          timeout: float = 60.0) -> list[client.V1Pod]:
    """Wait until exactly ``count`` pods match ``selector``, all Running and Ready with an IP."""

    async def probe() -> list[client.V1Pod]:
        return await list_pods(api, namespace, selector)

    return await wait_for(
        probe,
        lambda pods: len(pods) == count and all(pod_ready(p) for p in pods),
        timeout=timeout,
        what=f"{count} ready pods matching {selector} in {namespace}",
    )


async def create_base_deployment(api: client.ApiClient, namespace: str, replicas: int,
                                 name: str = bootstrap.BASE_DEPLOYMENT,
                                 app: str = bootstrap.BASE_APP_LABEL,
                                 annotations: dict[str, str] | None = None) -> Obj:
    body = bootstrap.base_deployment(replicas, name=name, app=app)
    if annotations:
        body["spec"]["template"]["metadata"]["annotations"] = annotations
    await client.AppsV1Api(api).create_namespaced_deployment(namespace, kubebody.body(body))
    return body


async def create_namespace(api: client.ApiClient, name: str, timeout: float = 30.0) -> str:
    await client.CoreV1Api(api).create_namespace(kubebody.body({"metadata": {"name": name}}))
    await bootstrap.wait_default_service_account(api, name, timeout)
    return name


#: Our kinds whose finalizers only a running controller removes.
FINALIZED_PLURALS = ("moduledeployments", "modulereplicasets", "modules")


async def delete_namespace(api: client.ApiClient, name: str, release_finalizers: bool = True
                           ) -> None:
    """Delete a test namespace without leaving it Terminating for good.

    A test's controller has stopped by the time its namespace goes, and the finalizers of our
    kinds are removed only by a controller. Left alone, such a namespace stays Terminating and
    kube-controller-manager's namespace controller goes through it again every ~8 s, listing
    and deleting every resource type in it: 150 of them (what a whole-suite run leaves) cost
    ~450 API requests/s and over a core of the control plane for the rest of the session, which
    slowed every later test on a busy machine (docs/testing.md, "the flake hunt"). So the
    finalizers are released first (``release_finalizers=False`` keeps them).
    """
    if release_finalizers:
        custom = client.CustomObjectsApi(api)
        for plural in FINALIZED_PLURALS:
            try:
                listed = await custom.list_namespaced_custom_object(GROUP, VERSION, name, plural)
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            for item in listed.get("items") or []:
                if not item["metadata"].get("finalizers"):
                    continue
                try:
                    await custom.patch_namespaced_custom_object(
                        GROUP, VERSION, name, plural, item["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                        **MERGE_PATCH)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
    try:
        await client.CoreV1Api(api).delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


# ----------------------------------------------------------------- Modules


def module_body(name: str, *, module: str = "provider", version: str = "1.0.0",
                app: str = bootstrap.BASE_APP_LABEL, labels: dict[str, str] | None = None,
                upgrade_policy: str = "install_then_uninstall") -> Obj:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Module",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "module": {"name": module, "version": version,
                       "url": f"http://repo.example/{module}-{version}-ark-biz.jar"},
            "upgradePolicy": upgrade_policy,
        },
    }


async def create_module(api: client.ApiClient, namespace: str, body: Obj) -> Obj:
    created: Obj = await client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "modules", body)
    return created


async def get_custom(api: client.ApiClient, plural: str, namespace: str, name: str) -> Obj | None:
    """One of our custom objects, or None if it does not exist."""
    try:
        found: Obj = await client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name)
        return found
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def get_module(api: client.ApiClient, namespace: str, name: str) -> Obj | None:
    return await get_custom(api, "modules", namespace, name)


async def list_modules(api: client.ApiClient, namespace: str, selector: str = "") -> list[Obj]:
    result = await client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "modules", label_selector=selector)
    items: list[Obj] = result["items"]
    return items


def phase(module: Obj | None) -> str | None:
    return objects.phase(module or {})


async def wait_module_phase(api: client.ApiClient, namespace: str, name: str, wanted: str,
                            timeout: float = 30.0) -> Obj:
    found = await wait_for(lambda: get_module(api, namespace, name),
                           lambda m: phase(m) == wanted, timeout=timeout,
                           what=f"Module {namespace}/{name} to be {wanted}")
    assert found is not None  # it has the phase wanted
    return found


async def wait_module_gone(api: client.ApiClient, namespace: str, name: str,
                           timeout: float = 30.0) -> None:
    await wait_for(lambda: get_module(api, namespace, name), lambda m: m is None,
                   timeout=timeout, what=f"Module {namespace}/{name} to be deleted")


async def events_for(api: client.ApiClient, namespace: str, name: str) -> list[client.CoreV1Event]:
    result = await client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}")
    return result.items


async def patch_module(api: client.ApiClient, namespace: str, name: str, patch: Obj) -> Obj:
    patched: Obj = await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "modules", name, patch, **MERGE_PATCH)
    return patched


async def delete_module(api: client.ApiClient, namespace: str, name: str) -> None:
    await client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "modules", name)


def replicaset_body(name: str, replicas: int, *, module: str = "provider", version: str = "1.0.0",
                    policy: str = "scatter", app: str = bootstrap.BASE_APP_LABEL,
                    upgrade_policy: str = "install_then_uninstall") -> Obj:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModuleReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {"spec": {"module": {
                "name": module, "version": version,
                "url": f"http://repo.example/{module}-{version}-ark-biz.jar"}}},
            "operationStrategy": {"upgradePolicy": upgrade_policy},
            "schedulingStrategy": {"schedulingPolicy": policy},
        },
    }


async def create_replicaset(api: client.ApiClient, namespace: str, body: Obj) -> Obj:
    created: Obj = await client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "modulereplicasets", body)
    return created


async def patch_replicaset(api: client.ApiClient, namespace: str, name: str, patch: Obj) -> Obj:
    patched: Obj = await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "modulereplicasets", name, patch, **MERGE_PATCH)
    return patched


async def get_replicaset(api: client.ApiClient, namespace: str, name: str) -> Obj | None:
    return await get_custom(api, "modulereplicasets", namespace, name)


async def modules_per_pod(api: client.ApiClient, namespace: str, selector: str = "",
                          phase_wanted: str | None = "Available") -> dict[str, int]:
    """Pod name -> number of (Available, not deleting) Modules matching ``selector``."""
    out: dict[str, int] = {}
    for m in await list_modules(api, namespace, selector):
        if m["metadata"].get("deletionTimestamp"):
            continue
        if phase_wanted and phase(m) != phase_wanted:
            continue
        pod = m["metadata"].get("labels", {}).get(c.LABEL_BASE_INSTANCE_NAME)
        out[pod] = out.get(pod, 0) + 1
    return out


# ----------------------------------------------------------------- ModuleDeployments

async def get_deployment(api: client.ApiClient, namespace: str, name: str) -> Obj | None:
    return await get_custom(api, "moduledeployments", namespace, name)


def release_status(md: Obj | None) -> Obj:
    return ((md or {}).get("status") or {}).get("releaseStatus") or {}


def progress(md: Obj | None) -> str | None:
    return release_status(md).get("progress")


async def wait_progress(api: client.ApiClient, namespace: str, name: str, wanted: str,
                        timeout: float = 60.0, batch: int | None = None) -> Obj:
    def ok(md: Obj | None) -> bool:
        if md is None or progress(md) != wanted:
            return False
        return batch is None or md["status"]["releaseStatus"].get("currentBatch") == batch
    found = await wait_for(lambda: get_deployment(api, namespace, name), ok, timeout=timeout,
                           what=f"ModuleDeployment {namespace}/{name} progress {wanted}"
                                + (f" at group {batch}" if batch else ""))
    assert found is not None  # ok() holds for it
    return found


async def list_replicasets(api: client.ApiClient, namespace: str, selector: str = "") -> list[Obj]:
    result = await client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "modulereplicasets", label_selector=selector)
    items: list[Obj] = result["items"]
    return items

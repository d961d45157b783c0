"""Base pods, Modules and ModuleDeployments on the dev cluster, and waiting for them.

Nothing here sleeps to synchronise: every wait polls with a deadline (``kt.wait_for``), and
:func:`holds_for` checks that a condition stays true for a while (it fails as soon as it does
not).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from typing import Any, Awaitable, Callable

from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.bodies import INSTALL_LATENCY, SELECTOR
from helpers.state import state_dump


async def bases(api, namespace: str, count: int, *, annotations: dict[str, str] | None = None,
                latency: float = 0.0) -> list:
    """The base Deployment with ``count`` replicas, once all its pods are ready: the pods, by
    name. ``latency``: seconds each install takes on these bases (the simulator's annotation)."""
    if latency:
        annotations = {**(annotations or {}), INSTALL_LATENCY: str(latency)}
    await kt.create_base_deployment(api, namespace, count, annotations=annotations)
    pods = await kt.wait_ready_pods(api, namespace, SELECTOR, count)
    return sorted(pods, key=lambda p: p.metadata.name)


async def ready_pods(api, namespace: str) -> list:
    return [p for p in await kt.list_pods(api, namespace, SELECTOR) if kt.pod_ready(p)]


async def delete_pod(api, namespace: str, name: str) -> None:
    await client.CoreV1Api(api).delete_namespaced_pod(name, namespace)


async def live_modules(api, namespace: str) -> list[dict]:
    return [m for m in await kt.list_modules(api, namespace)
            if not m["metadata"].get("deletionTimestamp")]


def pod_of(module: dict) -> str | None:
    return (module["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_NAME)


def ip_of(module: dict) -> str | None:
    return (module["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_IP)


async def patch_md(api, namespace: str, name: str, patch: dict) -> dict:
    """A merge patch of a ModuleDeployment through the API."""
    return await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, "moduledeployments", name, patch,
        _content_type="application/merge-patch+json")


async def wait_md(api, namespace: str, name: str, check: Callable[[dict | None], bool], what: str,
                  timeout: float = 60.0) -> dict | None:
    """Wait for the ModuleDeployment to satisfy ``check``; on timeout, the message also shows
    the Modules and ModuleReplicaSets as they were."""
    try:
        return await kt.wait_for(lambda: kt.get_deployment(api, namespace, name), check,
                                 timeout=timeout, what=f"ModuleDeployment {name}: {what}")
    except kt.WaitTimeout as exc:
        raise kt.WaitTimeout(f"{exc}\n{await state_dump(api, namespace)}") from None


async def holds_for(probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool],
                    seconds: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``probe`` for ``seconds``; fail at the first result that breaks ``check``."""
    deadline = time.monotonic() + seconds
    last = None
    while True:
        last = await probe()
        assert check(last), f"{what} stopped holding; saw {last!r}"
        if time.monotonic() >= deadline:
            return last
        await asyncio.sleep(interval)


# ----------------------------------------------------------------- Services of module services

async def endpoint_ips(api, namespace: str, service: str) -> set[str]:
    """Addresses of the ready endpoints in the Service's EndpointSlices (discovery.k8s.io/v1)."""
    slices = await client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}")
    out: set[str] = set()
    for s in slices.items:
        for ep in s.endpoints or []:
            ready = ep.conditions.ready if ep.conditions else None
            if ready is False:
                continue
            out.update(ep.addresses or [])
    return out


_REFUSED_ADDRESS = re.compile(r'Invalid value: "([^"]+)": may not be in the loopback range')


async def refused_endpoint_sets(api, namespace: str, service: str,
                                since: dt.datetime) -> list[set[str]]:
    """Endpoint address sets the endpointslice controller computed for ``service`` but could not
    write because the addresses are loopback ones (the base simulator's pod IPs), from its
    FailedToUpdateEndpointSlices Events last seen at or after ``since``."""
    out = []
    for event in await kt.events_for(api, namespace, service):
        message = event.message or ""
        if event.reason != "FailedToUpdateEndpointSlices" or "loopback" not in message:
            continue
        seen = event.last_timestamp or event.event_time or event.first_timestamp
        if seen is None or seen < since:
            continue
        out.append(set(_REFUSED_ADDRESS.findall(message)))
    return out

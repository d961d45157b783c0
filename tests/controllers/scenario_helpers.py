"""Helpers for the release scenario tests: ModuleDeployment bodies, fake-Arklet logs, waits.

Nothing here sleeps to synchronise: every wait polls with a deadline (``kt.wait_for``), and
:func:`holds_for` checks that a condition stays true for a while (it fails as soon as it does
not).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import yaml
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller.devcluster import testing as kt
from module_controller.devcluster.testing import kubectl_apply as apply, release_status

__all__ = ["apply", "release_status"]  # and everything defined below

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
SELECTOR = "app=dynamic-stock"
BASE = "dynamic-stock-deployment"
MODULE = "provider"
URL_TEMPLATE = ("http://serverless-opensource.oss-cn-shanghai.aliyuncs.com/module-packages/"
                "stable/dynamic-provider-{version}-ark-biz.jar")
INSTALL_LATENCY = "sim.serverless.alipay.com/install-latency"


def url_of(version: str) -> str:
    return URL_TEMPLATE.format(version=version)


def md_body(name: str, replicas: int, version: str = "1.0.2", url: str | None = None,
            **strategy: Any) -> dict:
    """A ModuleDeployment of ``provider`` built from the basic sample; ``strategy`` goes into
    ``spec.operationStrategy`` as written (camelCase keys)."""
    body = yaml.safe_load((SAMPLES / "moduledeployment_basic.yaml").read_text())
    body["metadata"]["name"] = name
    body["spec"]["replicas"] = replicas
    module = body["spec"]["template"]["spec"]["module"]
    module["version"] = version
    module["url"] = url or url_of(version)
    if strategy:
        body["spec"]["operationStrategy"] = copy.deepcopy(strategy)
    return body


async def bases(api, namespace: str, count: int, annotations: dict[str, str] | None = None):
    await kt.create_base_deployment(api, namespace, count, annotations=annotations)
    return await kt.wait_ready_pods(api, namespace, SELECTOR, count)


async def wait_md(api, namespace: str, name: str, check: Callable[[dict | None], bool], what: str,
                  timeout: float = 60.0) -> dict | None:
    """Wait for the ModuleDeployment to satisfy ``check``; on timeout, the message also shows
    the Modules and ModuleReplicaSets as they were."""
    try:
        return await kt.wait_for(lambda: kt.get_deployment(api, namespace, name), check,
                                 timeout=timeout, what=f"ModuleDeployment {name}: {what}")
    except kt.WaitTimeout as exc:
        raise kt.WaitTimeout(f"{exc}\n{await snapshot(api, namespace)}") from None


async def live_modules(api, namespace: str) -> list[dict]:
    return [m for m in await kt.list_modules(api, namespace)
            if not m["metadata"].get("deletionTimestamp")]


def pod_of(module: dict) -> str | None:
    return (module["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_NAME)


def ip_of(module: dict) -> str | None:
    return (module["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_IP)


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


# ----------------------------------------------------------------- fake Arklet request logs

async def request_log(arklets, ip: str, since: int = 0) -> list[dict]:
    return (await arklets.requests(ip, since=since))["requests"]


async def log_marks(arklets, ips) -> dict[str, int]:
    """The last ``seq`` of every base's log, to look only at what comes after."""
    out = {}
    for ip in ips:
        log = await request_log(arklets, ip)
        out[ip] = log[-1]["seq"] if log else 0
    return out


def body_field(record: dict, field: str) -> Any:
    body = record.get("body")
    return body.get(field) if isinstance(body, dict) else None


def installs(log: list[dict], version: str | None = None, ok: bool = True) -> list[dict]:
    """installBiz records (successful ones unless ``ok`` is False), of ``version`` if given."""
    return [r for r in log if r["command"] == "installBiz"
            and (not ok or r["code"] == "SUCCESS")
            and (version is None or body_field(r, "bizVersion") == version)]


def uninstalls(log: list[dict], version: str | None = None) -> list[dict]:
    return [r for r in log if r["command"] == "uninstallBiz" and r["code"] == "SUCCESS"
            and (version is None or body_field(r, "bizVersion") == version)]


async def bizzes_on(arklets, ip: str) -> list[str]:
    return sorted(f"{b['bizName']}:{b['bizVersion']}" for b in await arklets.bizzes(ip))


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


async def snapshot(api, namespace: str, arklets=None) -> dict:
    """What the Modules, ModuleReplicaSets and fake Arklets look like now (for failure messages)."""
    modules = [(m["metadata"]["name"], pod_of(m), m["spec"]["module"]["version"],
                kt.phase(m), (m.get("status") or {}).get("reason"),
                (m.get("status") or {}).get("message"), bool(m["metadata"].get("deletionTimestamp")))
               for m in await kt.list_modules(api, namespace)]
    replicasets = [(r["metadata"]["name"], r["spec"].get("replicas"),
                    (r.get("status") or {}).get("availableReplicas"))
                   for r in await kt.list_replicasets(api, namespace)]
    out: dict = {"modules": modules, "replicasets": replicasets}
    if arklets is not None:
        out["bizzes"] = {}
        for p in await kt.list_pods(api, namespace, SELECTOR):
            ip = p.status.pod_ip
            if ip:
                out["bizzes"][ip] = [(b["bizVersion"], b["bizState"]) for b in await arklets.bizzes(ip)]
    return out

"""A namespace's state as text, one line an object, for the message of a failing wait."""

from __future__ import annotations

import asyncio
import json
from typing import Iterable, Mapping

from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.api import constants as c
from module_controller.api import objects
from module_controller_dev.devcluster import testing as kt

from helpers.bodies import SELECTOR


def describe_state(md: dict | None, replicasets: Iterable[dict], modules: Iterable[dict],
                   pods: Iterable = (), bizzes: Mapping[str, list[dict]] | None = None) -> str:
    """The ModuleDeployment (spec and status), its ModuleReplicaSets, the Modules and the base
    pods with the bizzes their fake Arklets hold (``bizzes``: pod IP -> queryAllBiz)."""
    lines = []
    if md is not None:
        lines.append(f"ModuleDeployment spec={json.dumps(md.get('spec'))}")
        lines.append(f"  generation={md['metadata'].get('generation')} "
                     f"status={json.dumps(md.get('status'))}")
    for r in replicasets:
        status = {k: v for k, v in (r.get("status") or {}).items() if k != "conditions"}
        lines.append(f"MRS {r['metadata']['name']} replicas={r['spec'].get('replicas')} "
                     f"version={r['spec']['template']['spec']['module'].get('version')} "
                     f"status={json.dumps(status)}")
    for m in modules:
        labels = m["metadata"].get("labels") or {}
        status = m.get("status") or {}
        lines.append(f"Module {m['metadata']['name']} v={m['spec']['module'].get('version')} "
                     f"pod={labels.get(c.LABEL_BASE_INSTANCE_NAME)} phase={objects.phase(m)} "
                     f"deleting={bool(m['metadata'].get('deletionTimestamp'))} "
                     f"reason={status.get('reason')} message={status.get('message')!r}")
    for p in pods:
        ip = p.status.pod_ip if p.status else None
        held = [(b["bizName"], b["bizVersion"], b["bizState"]) for b in (bizzes or {}).get(ip, [])]
        lines.append(f"Pod {p.metadata.name} ip={ip} ready={kt.pod_ready(p)} "
                     f"deleting={bool(p.metadata.deletion_timestamp)} bizzes={held}")
    return "\n".join(lines)


async def state_dump(api, namespace: str, arklets=None, selector: str = SELECTOR) -> str:
    """:func:`describe_state` of what is in ``namespace`` now (the base pods and their bizzes
    only when the fake Arklets' ``arklets`` control client is given). Never raises: the API
    server may be the thing that failed."""
    try:
        replicasets = await kt.list_replicasets(api, namespace)
        modules = await kt.list_modules(api, namespace)
        pods: list = []
        bizzes: dict[str, list[dict]] = {}
        if arklets is not None:
            pods = await kt.list_pods(api, namespace, selector)
            for p in pods:
                if p.status and p.status.pod_ip:
                    bizzes[p.status.pod_ip] = await arklets.bizzes(p.status.pod_ip)
    except (ApiException, OSError, asyncio.TimeoutError) as exc:
        return f"(could not list: {exc!r})"
    return describe_state(None, replicasets, modules, pods, bizzes)

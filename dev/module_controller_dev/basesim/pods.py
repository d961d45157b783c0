"""Pure decisions of the simulated scheduler and kubelet: what to do with a pod, and its status.

Pods are plain dicts in the API's JSON shape (camelCase), as the watch delivers them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

ANNOTATION_PREFIX = "sim.serverless.alipay.com/"
# "2023" (default), "2025", or "none" for a pod that serves no Arklet at all.
ARKLET_FLAVOUR = ANNOTATION_PREFIX + "arklet"
# Seconds every installBiz takes on this base (float).
INSTALL_LATENCY = ANNOTATION_PREFIX + "install-latency"
# Seconds between the delete request and the Arklet going away, as a JVM shutting down would
# (bounded by the pod's grace period).
TERMINATION_DELAY = ANNOTATION_PREFIX + "termination-delay"
# The real annotation a base uses when Arklet had to take another port.
ARKLET_PORT = "serverless.alipay.com/arklet-port"

DEFAULT_FLAVOUR = "2023"
DEFAULT_ARKLET_PORT = 1238
NODE_IP = "127.0.0.1"


class Action(Enum):
    IGNORE = "ignore"        # not ours, finished, or nothing to do
    BIND = "bind"            # pending: choose a node
    START = "start"          # bound to one of our nodes, not yet running here
    TERMINATE = "terminate"  # graceful deletion requested


@dataclass(frozen=True)
class BaseSettings:
    """How the simulator should run one pod's fake Arklet, read from its annotations."""

    flavour: str | None  # None: no Arklet
    port: int
    install_latency: float
    termination_delay: float


def decide(pod: dict[str, Any], our_nodes: set[str], running: bool) -> Action:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    node = spec.get("nodeName")
    if meta.get("deletionTimestamp"):
        return Action.TERMINATE if node in our_nodes else Action.IGNORE
    if not node:
        return Action.BIND
    if node not in our_nodes or running:
        return Action.IGNORE
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return Action.IGNORE
    return Action.START


def _float(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def settings(pod: dict[str, Any]) -> BaseSettings:
    ann = pod.get("metadata", {}).get("annotations") or {}
    flavour = ann.get(ARKLET_FLAVOUR, DEFAULT_FLAVOUR)
    try:
        port = int(ann.get(ARKLET_PORT, DEFAULT_ARKLET_PORT))
    except ValueError:
        port = DEFAULT_ARKLET_PORT
    grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
    return BaseSettings(
        flavour=None if flavour == "none" else flavour,
        port=port,
        install_latency=_float(ann.get(INSTALL_LATENCY), 0.0),
        termination_delay=min(_float(ann.get(TERMINATION_DELAY), 0.0), float(grace or 0)),
    )


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def running_status(pod: dict[str, Any], ip: str) -> dict[str, Any]:
    """The status a kubelet reports for a pod whose containers all started and are ready."""
    now = _now()
    containers = pod.get("spec", {}).get("containers", [])
    return {
        "phase": "Running",
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": now}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in containers
        ],
    }


def node_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "simulated": "true"}},
    }


def node_status() -> dict[str, Any]:
    now = _now()
    return {
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "simulated by module-controller's base simulator",
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        }],
        "addresses": [{"type": "InternalIP", "address": NODE_IP}],
        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
    }

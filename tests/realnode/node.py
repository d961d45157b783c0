"""Helpers of the real-node tier: deploy the controller, ask the bases, wait with deadlines.

Every fact about modules is read from the bases' own ``queryAllBiz`` (POST to the pod's address
on the node's bridge), never from the controller's status alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

from module_controller_dev.devcluster import State, realnode
from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller_dev.realbase.jvm import DEFAULT_START_TIMEOUT
from helpers.controller_args import FAST, MODULE_STEP

T = TypeVar("T")
BASES = 3
BASE_SELECTOR = "app=dynamic-stock"
CONTROLLER_NS = "module-controller-system"
CONTROLLER_SELECTOR = "app.kubernetes.io/name=module-controller"
DRIFT_PERIOD = 5.0
CONTROLLER_ARGS = [*FAST, f"--drift-check-period={DRIFT_PERIOD:g}"]
# A base container from start to Arklet answering (16-45 s on two cores; the realbase bound).
BASE_START = DEFAULT_START_TIMEOUT
# The controller pod: its startupProbe allows 30 x 2 s, then the readiness probe's period.
CONTROLLER_START = 60.0 + 5.0 * 3
# The lease changes hands within its duration; the new leader then starts from a cold cache.
LEASE_HANDOVER = 30.0 + CONTROLLER_START
REPO = Path(__file__).resolve().parents[2]


def poll(probe: Callable[[], T], check: Callable[[T], bool], *, timeout: float, what: str,
         interval: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
            if check(last):
                return last
        except (OSError, ValueError, AssertionError, urllib.error.URLError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# ------------------------------------------------------------------------------- the bases

def arklet(ip: str, command: str, body: dict | None = None, timeout: float = 10.0) -> dict:
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(f"http://{ip}:1238/{command}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def modules_on(ip: str) -> list[tuple[str, str, str]]:
    """(name, version, state) of every biz the base at ``ip`` runs, its own base left out."""
    reply = arklet(ip, "queryAllBiz")
    if reply.get("code") != "SUCCESS":
        raise AssertionError(f"queryAllBiz on {ip}: {reply}")
    return sorted((b["bizName"], b["bizVersion"], b["bizState"]) for b in reply["data"]
                  if not b["bizName"].startswith("base-"))


def base_pods(kubectl: Kubectl, ready_only: bool = True) -> list[dict]:
    pods = kubectl.get_json("pods", "-n", "default", "-l", BASE_SELECTOR)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return [p for p in live if ready(p)] if ready_only else live


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def fleet(kubectl: Kubectl) -> dict[str, list[tuple[str, str, str]]]:
    """Pod name -> what its base runs, for every Ready base pod."""
    return {p["metadata"]["name"]: modules_on(p["status"]["podIP"]) for p in base_pods(kubectl)}


def instances(kubectl: Kubectl, name: str = "provider") -> list[tuple[str, str]]:
    """(pod, version) of every ACTIVATED ``name`` biz over the Ready bases."""
    return sorted((pod, v) for pod, bizzes in fleet(kubectl).items()
                  for n, v, s in bizzes if n == name and s.lower() == "activated")


def wait_bases(kubectl: Kubectl, count: int = BASES) -> list[dict]:
    """Exactly ``count`` base pods, all Ready (none starting or terminating)."""
    def probe() -> list[dict]:
        pods = base_pods(kubectl, ready_only=False)
        return pods if all(ready(p) for p in pods) else []
    return poll(probe, lambda pods: len(pods) == count, timeout=BASE_START,
                what=f"{count} Ready base pods")


def java_pid(pod: dict) -> int:
    """Host PID of the base container's JVM (the container's first process)."""
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    for line in realnode.ctr("tasks", "ls").stdout.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == container_id:
            return int(fields[1])
    raise AssertionError(f"no containerd task for {container_id}")


# ------------------------------------------------------------------------------- controller

def render_controller(image: str) -> list[dict]:
    """What ``module-controller manifests --image IMAGE`` gives users (with test flags)."""
    argv = [sys.executable, "-m", "module_controller.cli", "manifests", "--image", image,
            *(f"--extra-arg={arg}" for arg in CONTROLLER_ARGS)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def without_kube_proxy(objects: list[dict], state: State) -> list[dict]:
    """The overlay a node without kube-proxy needs: the API server's reachable address.

    Pods find the API server through KUBERNETES_SERVICE_HOST/PORT, which the kubelet sets to
    the ``kubernetes`` Service's ClusterIP; with no kube-proxy a ClusterIP does not route, so the
    overlay names the address the API server listens on (the node's bridge address).
    """
    for obj in objects:
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container.setdefault("env", []).extend([
                    {"name": "KUBERNETES_SERVICE_HOST", "value": state.host},
                    {"name": "KUBERNETES_SERVICE_PORT", "value": str(state.ports["kube-apiserver"])},
                ])
    return objects


def deploy_controller(kubectl: Kubectl, state: State, image: str) -> None:
    objects = without_kube_proxy(render_controller(image), state)
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(objects), timeout=120)
    kubectl.run("-n", CONTROLLER_NS, "rollout", "status", "deployment/module-controller",
                f"--timeout={int(CONTROLLER_START * 2)}s", timeout=CONTROLLER_START * 2 + 10)


def controller_pods(kubectl: Kubectl) -> list[dict]:
    pods = kubectl.get_json("pods", "-n", CONTROLLER_NS, "-l", CONTROLLER_SELECTOR)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def leader(kubectl: Kubectl) -> str:
    lease = kubectl.get_json("lease", "-n", CONTROLLER_NS, "module-controller")
    return lease["spec"]["holderIdentity"]


# ------------------------------------------------------------------------------- releases

def md_body(name: str, replicas: int, *, version: str = "1.0.2", batches: int = 1,
            confirm: bool = False, gray: int = 0) -> dict:
    return {
        "apiVersion": "serverless.alipay.com/v1alpha1", "kind": "ModuleDeployment",
        "metadata": {"name": name},
        "spec": {
            "baseDeploymentName": "dynamic-stock-deployment", "replicas": replicas,
            "template": {"spec": {"module": {
                "name": "provider", "version": version,
                "url": f"http://modules.test/dynamic-provider-{version}-ark-biz.jar"}}},
            "operationStrategy": {"upgradePolicy": "install_then_uninstall", "needConfirm": confirm,
                                  "batchCount": batches, "grayTimeBetweenBatchSeconds": gray},
            "schedulingStrategy": {"schedulingPolicy": "scatter"},
        },
    }


def md(kubectl: Kubectl, name: str) -> dict:
    return kubectl.get_json("moduledeployment", "-n", "default", name)


def progress(kubectl: Kubectl, name: str) -> str | None:
    return (md(kubectl, name).get("status") or {}).get("releaseStatus", {}).get("progress")


def confirm(kubectl: Kubectl, name: str) -> None:
    """Let a release waiting for confirmation go on (pause=false), as a user does."""
    found = kubectl.run("get", "moduledeployment", "-n", "default", name, "-o", "json",
                        check=False)
    if found.returncode == 0 and (json.loads(found.stdout).get("status") or {}).get(
            "releaseStatus", {}).get("progress") == "Paused":
        kubectl.run("patch", "moduledeployment", "-n", "default", name, "--type=merge",
                    "-p", json.dumps({"spec": {"pause": False}}))


def release_deadline(replicas: int) -> float:
    """Each Module's step to its bound, plus a base restart's worth for the cold start."""
    return MODULE_STEP * replicas + BASE_START


def modules(kubectl: Kubectl) -> list[dict]:
    return kubectl.get_json("modules", "-n", "default")["items"]


def delete_release(kubectl: Kubectl, name: str) -> None:
    kubectl.run("delete", "moduledeployment", "-n", "default", name, "--ignore-not-found",
                "--wait=false")

    def offline() -> list:
        confirm(kubectl, name)  # an offline release with needConfirm waits after each group
        return instances(kubectl)
    poll(offline, lambda found: not found, timeout=release_deadline(BASES),
         what=f"{name}'s modules gone from the bases")
    poll(lambda: modules(kubectl), lambda found: not found, timeout=release_deadline(BASES),
         what="no Module objects left")


# ------------------------------------------------------------------------------- teardown

def leftovers(directory: Path, node: dict) -> list[str]:
    """What a real node left on the machine after ``dev down``: should be nothing."""
    left = []
    bridge = node.get("bridge", realnode.DEFAULT_BRIDGE)
    if Path(f"/sys/class/net/{bridge}").exists():
        left.append(f"bridge {bridge}")
    prefixes = [str(directory), str(realnode.RUN_DIR), "/run/containerd", "/var/lib/kubelet"]
    left += [f"mount {m}" for m in realnode._mounts_under(prefixes)]
    for path in (*realnode.FIXED_HOST_PATHS,):
        if path not in node.get("before", {}).get("paths", []) and Path(path).exists():
            left.append(f"path {path}")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(directory).encode() in cmdline or b"containerd-shim" in cmdline:
            left.append(f"process {pid} {cmdline[:80]!r}")
    if Path("/run/netns").is_dir():
        left += [f"netns {n.name}" for n in Path("/run/netns").iterdir()
                 if n.name.startswith("cni-")]
    for hierarchy in ("memory", "cpu", "pids"):
        if (realnode.CGROUP_ROOT / hierarchy / "k8s.io").exists():
            left.append(f"cgroup {hierarchy}/k8s.io")
    return left

"""A release on a real fleet: 3 module names x 10 instances on 10 real base pods, batchCount 3.

Everything runs on the dev cluster's real node (``dev up --real-node``): the controller as users
deploy it (``module-controller manifests --image``, two replicas, leader election) and ten real
2025 base containers. The figure is apply -> all three ModuleDeployments Completed, next to a
floor computed from install latencies measured first on the same bases (installBiz straight to
Arklet, then uninstallBiz): the groups one after the other, and in each group as many install
rounds as its instances need on the bases, one install at a time per base.
Also: Arklet calls per module (the leader's own counter) and the controller pod's CPU and memory
from its cgroup. Writes bench/results/realnode-fleet.json.

    sudo .venv/bin/python bench/realnode_fleet.py      (root, a real node must be possible here)
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import yaml

from module_controller_dev.devcluster import DevCluster, State, binaries, images, realnode
from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller.manifests.render import render
from module_controller_dev.realbase.build import require as require_jars

BASES = 10
NAMES = ("fleet-a", "fleet-b", "fleet-c")
BATCHES = 3
PROBE_ROUNDS = 3  # direct installs per base for the latency floor
NS = "module-controller-system"
OUT = Path(__file__).resolve().parent / "results" / "realnode-fleet.json"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def poll(probe, check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
            if check(value):
                return value
        except (OSError, ValueError, AssertionError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def arklet(ip: str, command: str, body: dict | None = None, timeout: float = 60) -> dict:
    req = urllib.request.Request(f"http://{ip}:1238/{command}", json.dumps(body or {}).encode(),
                                 {"Content-Type": "application/json"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def renamed_jar(src: Path, name: str) -> bytes:
    """The provider jar as another module: Arklet takes name and web context from the manifest."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "META-INF/MANIFEST.MF":
                text = data.decode().replace("Ark-Biz-Name: provider", f"Ark-Biz-Name: {name}")
                data = text.replace("web-context-path: provider", f"web-context-path: {name}").encode()
            zout.writestr(item, data)
    return out.getvalue()


def md_body(name: str) -> dict:
    return {
        "apiVersion": "serverless.alipay.com/v1alpha1", "kind": "ModuleDeployment",
        "metadata": {"name": name},
        "spec": {"baseDeploymentName": "dynamic-stock-deployment", "replicas": BASES,
                 "template": {"spec": {"module": {
                     "name": name, "version": "1.0.2",
                     "url": f"http://modules.test/dynamic-{name}-1.0.2-ark-biz.jar"}}},
                 "operationStrategy": {"upgradePolicy": "install_then_uninstall",
                                       "needConfirm": False, "batchCount": BATCHES,
                                       "grayTimeBetweenBatchSeconds": 0},
                 "schedulingStrategy": {"schedulingPolicy": "scatter"}},
    }


def base_ips(kubectl: Kubectl) -> list[str]:
    pods = kubectl.get_json("pods", "-n", "default", "-l", "app=dynamic-stock")["items"]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in p["status"].get("conditions", []))]
    return [p["status"]["podIP"] for p in ready]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def install_rounds() -> int:
    """Install rounds a release needs at least: groups one after the other, and in each group a
    base runs one install at a time (all names' instances of a group over the bases)."""
    sizes = [BASES // BATCHES + (1 if i < BASES % BATCHES else 0) for i in range(BATCHES)]
    return sum(-(-len(NAMES) * size // BASES) for size in sizes)


def measure_installs(ips: list[str], jar_url: str) -> list[float]:
    samples = []
    for _ in range(PROBE_ROUNDS):
        for ip in ips:
            started = time.monotonic()
            reply = arklet(ip, "installBiz", {"bizName": "provider", "bizVersion": "1.0.2",
                                              "bizUrl": jar_url})
            samples.append(time.monotonic() - started)
            if reply.get("code") != "SUCCESS":
                raise SystemExit(f"direct install on {ip} failed: {reply}")
            arklet(ip, "uninstallBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    return samples


def controller_cgroup(kubectl: Kubectl, pod: dict) -> dict:
    """CPU seconds and peak memory of the controller container, from its cgroup (v1)."""
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    pid = next(int(line.split()[1]) for line in realnode.ctr("tasks", "ls").stdout.splitlines()[1:]
               if line.split()[0] == cid)
    paths = dict(line.split(":", 2)[1:] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    mem = Path("/sys/fs/cgroup/memory") / paths["memory"].lstrip("/")
    cpu = Path("/sys/fs/cgroup/cpuacct") / paths.get("cpuacct", paths.get("cpu,cpuacct", "")).lstrip("/")
    return {"cpu_seconds": int((cpu / "cpuacct.usage").read_text()) / 1e9,
            "memory_peak_mb": int((mem / "memory.max_usage_in_bytes").read_text()) / 2**20,
            "memory_now_mb": int((mem / "memory.usage_in_bytes").read_text()) / 2**20}


def module_timeline(kubectl: Kubectl, applied: float) -> dict:
    """When Modules were created and became Available, seconds after apply (1 s resolution)."""
    import datetime as dt

    def at(stamp: str) -> float:
        return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp() - applied
    created, available = [], []
    for m in kubectl.get_json("modules", "-n", "default")["items"]:
        created.append(at(m["metadata"]["creationTimestamp"]))
        if (m.get("status") or {}).get("lastTransitionTime"):
            available.append(at(m["status"]["lastTransitionTime"]))
    return {"created": sorted(round(c) for c in created),
            "available": sorted(round(a) for a in available)}


def arklet_calls(kubectl: Kubectl, pod: str) -> dict[str, float]:
    text = kubectl.run("get", "--raw", f"/api/v1/namespaces/{NS}/pods/{pod}:8080/proxy/metrics").stdout
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if "_arklet_calls_total{" in line and not line.startswith("#"):
            command = line.split('command="', 1)[1].split('"', 1)[0]
            calls[command] = calls.get(command, 0) + float(line.rsplit(" ", 1)[1])
    return calls


def run(state: State, kubectl: Kubectl) -> dict:
    ref = images.build_controller(log)
    images.ctr_import(realnode.SOCKET, ref, log)
    objects = render(NS, ref.ref)
    for obj in objects:  # what a node without kube-proxy needs (docs/deploy.md)
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).extend([
                {"name": "KUBERNETES_SERVICE_HOST", "value": state.host},
                {"name": "KUBERNETES_SERVICE_PORT", "value": str(state.ports["kube-apiserver"])}])
    # Bases first: ten JVMs starting on two shared cores kept the controller past its 60 s
    # startup probe (the kubelet restarted it over and over); the figure is the release's.
    ips = poll(lambda: base_ips(kubectl), lambda ips: len(ips) == BASES, 900, f"{BASES} Ready bases")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(objects), timeout=120)
    kubectl.run("-n", NS, "rollout", "status", "deployment/module-controller", "--timeout=600s",
                timeout=610)
    log(f"{BASES} bases Ready; measuring direct installs")
    latencies = measure_installs(ips, "http://modules.test/dynamic-provider-1.0.2-ark-biz.jar")
    p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
    lease = kubectl.get_json("lease", "-n", NS, "module-controller")["spec"]["holderIdentity"]
    leader = kubectl.get_json("pod", "-n", NS, lease)
    before_cpu = controller_cgroup(kubectl, leader)["cpu_seconds"]
    before_calls = arklet_calls(kubectl, lease)

    load_before = Path("/proc/loadavg").read_text().split()[0]
    started, wall = time.monotonic(), time.time()
    kubectl.apply([md_body(n) for n in NAMES], namespace="default")

    def progress() -> list:
        return [(kubectl.get_json("moduledeployment", "-n", "default", n).get("status") or {})
                .get("releaseStatus", {}).get("progress") for n in NAMES]
    poll(progress, lambda p: p == ["Completed"] * len(NAMES), 1800, "3 releases Completed")
    elapsed = time.monotonic() - started

    on_bases = {ip: sorted(b["bizName"] for b in arklet(ip, "queryAllBiz")["data"]
                           if not b["bizName"].startswith("base-")) for ip in ips}
    expected = sorted(NAMES)
    exact = all(names == expected for names in on_bases.values())
    after_calls = arklet_calls(kubectl, lease)
    calls = {k: after_calls.get(k, 0) - before_calls.get(k, 0) for k in after_calls}
    cgroup = controller_cgroup(kubectl, leader)
    instances = BASES * len(NAMES)
    timeline = module_timeline(kubectl, wall)
    return {
        "bases": BASES, "module_names": len(NAMES), "instances": instances, "batchCount": BATCHES,
        "apply_to_completed_s": round(elapsed, 2),
        "install_latency_s": {"samples": len(latencies), "p50": round(p50, 3),
                              "p99": round(p99, 3), "max": round(max(latencies), 3)},
        "install_rounds": install_rounds(),
        "floor_s": {"p50": round(install_rounds() * p50, 2),
                    "p99": round(install_rounds() * p99, 2)},
        "x_floor_p50": round(elapsed / (install_rounds() * p50), 1),
        "arklet_calls": calls,
        "arklet_calls_per_module": round(sum(calls.values()) / instances, 2),
        "exact_on_bases": exact,
        "leader_cgroup": {"cpu_seconds_release": round(cgroup["cpu_seconds"] - before_cpu, 2),
                          "memory_peak_mb": round(cgroup["memory_peak_mb"], 1),
                          "memory_now_mb": round(cgroup["memory_now_mb"], 1)},
        "module_timeline_s": timeline,
        "loadavg_1m": {"before": float(load_before),
                       "after": float(Path("/proc/loadavg").read_text().split()[0])},
        "controller_image": ref.ref,
        "kube_version": binaries.KUBE_VERSION,
    }


def main() -> int:
    reason = realnode.missing()
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 2
    jar_dir = binaries.cache_root() / "realbase-fleet-bench" / "modules-2025"
    jar_dir.mkdir(parents=True, exist_ok=True)
    source = require_jars().module("2025", "1.0.2")
    for name in NAMES:
        (jar_dir / f"dynamic-{name}-1.0.2-ark-biz.jar").write_bytes(renamed_jar(source, name))
    with tempfile.TemporaryDirectory(prefix="mc-fleet-") as tmp:
        cluster = DevCluster(Path(tmp), log=log)
        try:
            state = cluster.up(bases=BASES, real_node=True, timeout=120,
                               crds_dir=Path(__file__).resolve().parents[1] / "crds")
            result = run(state, Kubectl(state.kubeconfig))
        finally:
            cluster.down()
            import shutil

            shutil.rmtree(jar_dir.parent, ignore_errors=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One real node for the dev cluster: a kubelet, containerd + runc, a CNI bridge.

``dev up --real-node`` starts the control plane bound to the node's bridge address (pods must
reach the API server), then containerd, kube-scheduler and a kubelet. Pods get addresses on a
bridge of their own (``--pod-subnet``, default ``10.213.0.0/24``): no default route, no
masquerading, so a pod reaches only the node's address and the other pods. The base simulator
does not run: every pod is a real container.

Some host paths cannot be moved by configuration (:data:`FIXED_HOST_PATHS`), which makes this one
node per machine, as root. ``teardown`` follows the order that leaves nothing behind: the node's
pods deleted (scheduler stopped and node cordoned first, so nothing comes back), the kubelet
stopped, leftover sandboxes killed and removed with ``ctr``, containerd stopped, the node's
mounts unmounted deepest first, network namespaces, bridge, cgroups and host paths removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import binaries, certs, kubeconfig

Log = Callable[[str], None]

NODE_NAME = "real-node-1"
DEFAULT_SUBNET = "10.213.0.0/24"
DEFAULT_BRIDGE = "mcbr0"
RUN_DIR = Path("/run/module-controller-node")
SOCKET = RUN_DIR / "containerd.sock"
# Written at start: the node's directory and bridge, for removing a dead node's leftovers.
OWNER_FILE = "node.json"
# Where containerd, its shims, CNI and the kubelet write whatever their configuration says.
FIXED_HOST_PATHS = ("/run/containerd", "/var/lib/cni", "/var/lib/kubelet", "/var/log/containers",
                    "/var/log/pods", str(RUN_DIR))
NETNS_DIR = Path("/run/netns")  # shared with whoever else makes namespaces: removed only if empty
CGROUP_ROOT = Path("/sys/fs/cgroup")
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
KUBELET_PORT = 10250


class RealNodeUnavailable(RuntimeError):
    """This machine cannot run the real node; the one-line message says what is missing."""


@dataclass(frozen=True)
class Network:
    subnet: str
    bridge: str

    @property
    def node_ip(self) -> str:
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    @property
    def prefix(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen


def parse_network(subnet: str, bridge: str = DEFAULT_BRIDGE) -> Network:
    try:
        net = ipaddress.ip_network(subnet)
    except ValueError as exc:
        raise RealNodeUnavailable(f"--pod-subnet {subnet!r} is not a network: {exc}") from None
    if net.version != 4 or not net.is_private or net.prefixlen > 28:
        raise RealNodeUnavailable(f"--pod-subnet {subnet!r} must be a private IPv4 network of at "
                                  "least 16 addresses (e.g. 10.213.0.0/24)")
    return Network(str(net), bridge)


def cni_bin_dir() -> str | None:
    return next((d for d in CNI_BIN_DIRS if Path(d, "bridge").exists()
                 and Path(d, "host-local").exists()), None)


def missing(check_node: bool = True) -> str | None:
    """What this machine lacks for a real node, in one line; None when it has everything.

    ``check_node``: also whether a node (live, or a dead one's leftovers: stalenode.py) is there.
    """
    if os.geteuid() != 0:
        return "the real node needs root (a kubelet, containerd, a bridge and cgroups)"
    lacking = [tool for tool in ("containerd", "ctr", "runc", "containerd-shim-runc-v2", "ip")
               if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if cni_bin_dir() is None:
        lacking.append("CNI plugins bridge and host-local (Debian: containernetworking-plugins)")
    if lacking:
        return (f"the real node needs {', '.join(lacking)} (Debian: apt-get install containerd "
                "runc containernetworking-plugins)")
    for controller in ("cpu", "memory", "pids"):
        if not (CGROUP_ROOT / controller).is_dir() and not (CGROUP_ROOT / "cgroup.controllers").exists():
            return f"the real node needs cgroups: no {controller} controller under {CGROUP_ROOT}"
    if check_node:
        from . import stalenode

        verdict = stalenode.judge(stalenode.observe())
        if verdict.state != "none":
            return verdict.reason
    return None


def _sh(*argv: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RealNodeUnavailable(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc


# ------------------------------------------------------------------------------- set-up

def snapshot() -> dict[str, Any]:
    """What exists before the node starts, so that teardown removes only what it made."""
    cgroups = {}
    if CGROUP_ROOT.is_dir():
        for hierarchy in CGROUP_ROOT.iterdir():
            if hierarchy.is_dir() and not hierarchy.is_symlink():
                cgroups[hierarchy.name] = sorted(p.name for p in hierarchy.iterdir() if p.is_dir())
    netns = sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []
    return {"paths": [p for p in FIXED_HOST_PATHS if Path(p).exists()], "cgroups": cgroups,
            "netns": netns, "netnsDir": NETNS_DIR.is_dir()}


def create_bridge(net: Network) -> None:
    _sh("ip", "link", "add", net.bridge, "type", "bridge")
    _sh("ip", "addr", "add", f"{net.node_ip}/{net.prefix}", "dev", net.bridge)
    _sh("ip", "link", "set", net.bridge, "up")


def write_files(node_dir: Path, pki_dir: Path, net: Network, server: str, ca_cert: Path) -> None:
    """containerd's config, the CNI network, kubelet and scheduler configs and credentials."""
    for sub in ("containerd", "cni/net.d", "cni/networks", "kubelet", "pods-logs", "plugins"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / OWNER_FILE).write_text(json.dumps({"nodeDir": str(node_dir), "bridge": net.bridge}))
    from .images import PAUSE_REF

    (node_dir / "containerd.toml").write_text(f"""version = 2
root = "{node_dir / 'containerd'}"
state = "{RUN_DIR / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{SOCKET}"
[ttrpc]
  address = "{RUN_DIR / 'containerd.sock.ttrpc'}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{node_dir / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_REF}"
  disable_apparmor = true
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which a sandboxed machine may not
  # grant even to root (runc then fails "failed to update /proc/self/oom_score_adj"): clamp the
  # kubelet's values to containerd's own.
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir()}"
    conf_dir = "{node_dir / 'cni/net.d'}"
""")
    first = ipaddress.ip_network(net.subnet)
    conflist = {
        "cniVersion": "0.4.0", "name": "module-controller-node",
        "plugins": [{
            # No gateway and no masquerading: pods get no default route, only the bridge's
            # subnet, so their traffic reaches the node address and other pods, nothing else.
            "type": "bridge", "bridge": net.bridge, "isGateway": False, "ipMasq": False,
            "hairpinMode": True,
            "ipam": {"type": "host-local", "subnet": net.subnet,
                     "rangeStart": str(first.network_address + 10),
                     "dataDir": str(node_dir / "cni/networks")},
        }],
    }
    (node_dir / "cni/net.d/10-module-controller.conflist").write_text(json.dumps(conflist, indent=1))

    node_cert, node_key = certs.client_cert(pki_dir, "kubelet", f"system:node:{NODE_NAME}",
                                            "system:nodes")
    kubeconfig.write(node_dir / "kubelet.kubeconfig", server, ca_cert, node_cert, node_key,
                     user=f"system:node:{NODE_NAME}")
    sched_cert, sched_key = certs.client_cert(pki_dir, "kube-scheduler", "system:kube-scheduler")
    kubeconfig.write(node_dir / "kube-scheduler.kubeconfig", server, ca_cert, sched_cert,
                     sched_key, user="system:kube-scheduler")
    (node_dir / "kubelet.yaml").write_text(json.dumps({
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": net.node_ip, "port": KUBELET_PORT, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": 0,
        "authentication": {"x509": {"clientCAFile": str(ca_cert)},
                           "webhook": {"enabled": False}, "anonymous": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{SOCKET}",
        "imageServiceEndpoint": f"unix://{SOCKET}",
        # cgroup v1 hosts: v1.36 refuses them unless told; no systemd here, so cgroupfs; no
        # QoS hierarchy and no node-allocatable enforcement on a shared development machine.
        "failCgroupV1": False, "failSwapOn": False, "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False, "enforceNodeAllocatable": [],
        "localStorageCapacityIsolation": False, "makeIPTablesUtilChains": False,
        # No DNS for pods: nothing may be resolved through the machine's resolver.
        "resolvConf": "", "clusterDNS": [],
        "evictionHard": {}, "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "podLogsDir": str(node_dir / "pods-logs"),
        "volumePluginDir": str(node_dir / "plugins"),
        "serializeImagePulls": False,
        "nodeStatusUpdateFrequency": "5s",
    }, indent=1))


def kubelet_argv(kubelet: Path, node_dir: Path, net: Network) -> list[str]:
    return [str(kubelet), f"--config={node_dir / 'kubelet.yaml'}",
            f"--kubeconfig={node_dir / 'kubelet.kubeconfig'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={net.node_ip}",
            f"--root-dir={node_dir / 'kubelet'}", f"--cert-dir={node_dir / 'kubelet-pki'}",
            "--v=1"]


def containerd_argv(node_dir: Path) -> list[str]:
    return [shutil.which("containerd") or "containerd", f"--config={node_dir / 'containerd.toml'}"]


def scheduler_argv(scheduler: Path, node_dir: Path) -> list[str]:
    config = node_dir / "kube-scheduler.kubeconfig"
    return [str(scheduler), f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
            f"--authorization-kubeconfig={config}", "--secure-port=0", "--leader-elect=false"]


def ctr(*args: str, timeout: float = 60.0, check: bool = False) -> subprocess.CompletedProcess[str]:
    return _sh(shutil.which("ctr") or "ctr", "--address", str(SOCKET), "-n", "k8s.io", *args,
               timeout=timeout, check=check)


def containerd_ready() -> bool:
    return SOCKET.exists() and ctr("version", timeout=5).returncode == 0


def node_binaries(log: Log) -> dict[str, Path]:
    return binaries.ensure_node(log)


# ------------------------------------------------------------------------------- teardown

def kill_sandboxes(log: Log) -> None:
    """Kill and remove every task and container containerd still has (kubelet already gone)."""
    tasks = ctr("tasks", "ls", "-q").stdout.split()
    for task in tasks:
        ctr("tasks", "kill", "-s", "SIGKILL", task)
    deadline = time.monotonic() + 20
    for task in tasks:
        while ctr("tasks", "delete", task).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    containers = ctr("containers", "ls", "-q").stdout.split()
    for container in containers:
        ctr("containers", "rm", container)
    if tasks or containers:
        log(f"removed {len(tasks)} leftover tasks and {len(containers)} containers")


def _mounts_under(prefixes: list[str]) -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == p or point.startswith(p.rstrip("/") + "/") for p in prefixes):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(prefixes: list[str], log: Log) -> None:
    points = _mounts_under(prefixes)
    for point in points:
        if _sh("umount", point, check=False).returncode != 0:
            _sh("umount", "-l", point, check=False)
    if points:
        log(f"unmounted {len(points)} mounts")


def remove_netns(before: list[str], dir_existed: bool, log: Log) -> None:
    """The pods' namespaces (containerd names them ``cni-<uuid>``) made since ``snapshot``."""
    if not NETNS_DIR.is_dir():
        return
    ours = [p for p in NETNS_DIR.iterdir() if p.name.startswith("cni-") and p.name not in before]
    for path in ours:
        _sh("ip", "netns", "delete", path.name, check=False)
        if path.exists():
            _sh("umount", str(path), check=False)
            path.unlink(missing_ok=True)
    if ours:
        log(f"removed {len(ours)} network namespaces")
    if not dir_existed:
        try:
            NETNS_DIR.rmdir()
        except OSError:
            pass


def remove_cgroups(before: dict[str, list[str]], log: Log) -> None:
    removed = 0
    for hierarchy, names in before.items():
        root = CGROUP_ROOT / hierarchy
        if not root.is_dir():
            continue
        for top in root.iterdir():
            if not top.is_dir() or top.name in names:
                continue
            # rmdir only: a cgroup that still has a process refuses, so nothing alive is lost.
            for d in sorted((p for p in top.rglob("*") if p.is_dir()),
                            key=lambda p: len(p.parts), reverse=True) + [top]:
                try:
                    d.rmdir()
                    removed += 1
                except OSError:
                    pass
    if removed:
        log(f"removed {removed} cgroups")


def remove_bridge(bridge: str) -> None:
    if Path(f"/sys/class/net/{bridge}").exists():
        _sh("ip", "link", "delete", bridge, check=False)


def remove_host_paths(before: list[str], log: Log) -> None:
    for path in FIXED_HOST_PATHS:
        if path not in before and Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            log(f"removed {path}")

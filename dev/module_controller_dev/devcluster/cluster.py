"""``module-controller-dev up | down | status``: a real control plane on loopback.

The cluster is etcd + kube-apiserver + kube-controller-manager, each a child process, plus the
module repository (an HTTP server for ark-biz jars, also the bases' HTTP proxy: the dev cluster's
bases reach "the internet" only through it) and the base simulator (which plays scheduler and
kubelet and serves fake Arklets). Everything it needs to
find again lives in the state directory: ``state.json`` (PIDs and ports), certificates, kubeconfig,
logs and etcd's data. ``up`` is idempotent for one directory; two directories never share a port
because every port is chosen free at start-up.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, TYPE_CHECKING

from . import binaries, certs, kubeconfig, processes, realnode

if TYPE_CHECKING:
    from .images import BuiltImage  # imported late at run time: the real node's only

# The order processes start in; ``down`` stops them in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "module-repository",
              "base-simulator")
# With a real node (``up(real_node=True)``, see realnode.py) every pod is a real container: the
# base simulator gives way to kube-scheduler, containerd and a kubelet.
REAL_NODE_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "module-repository",
                        "containerd", "kube-scheduler", "kubelet")

# Where the Maven-built real module jars land (``make jars``); served by the module
# repository under ``/modules-2025/<file>`` and ``/modules-2023/<file>`` (and by bare file name,
# 2025 first). Glob patterns: the repository expands them per request, so jars built after
# ``dev up`` are found.
MODULE_DIRS = ("realbase-*/modules-2025", "realbase-*/modules-2023")

# The controllers the dev cluster needs: Deployments make ReplicaSets make Pods, owner references
# are garbage-collected, namespaces are cleaned up, every namespace gets its default
# ServiceAccount (pods cannot be created without it), Services get EndpointSlices.
KCM_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "clusterrole-aggregation-controller",
    # kube-root-ca.crt in every namespace: a pod that mounts a ServiceAccount token needs it.
    "root-ca-certificate-publisher-controller",
)
# Only with a real node: it lifts the not-ready taint once the kubelet reports Ready (simulated
# nodes send no heartbeats, so it would taint and evict them).
REAL_NODE_KCM_CONTROLLERS = ("node-lifecycle-controller",)

SERVICE_CIDR = "10.0.0.0/24"
Log = Callable[[str], None]


class DevClusterError(RuntimeError):
    """A one-line problem with the dev cluster and what to do about it."""


def default_dir() -> Path:
    return binaries.cache_root() / "dev"


@dataclass
class State:
    """What ``state.json`` records about a running (or crashed) cluster."""

    dir: str
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    bases: int = 0
    started: float = 0.0
    #: The address the API server and the module repository listen on: loopback, or the real
    #: node's bridge address (pods must reach them).
    host: str = "127.0.0.1"
    #: The real node, when there is one: name, ip, subnet, bridge, what existed before it.
    node: dict[str, Any] = field(default_factory=dict)

    @property
    def components(self) -> tuple[str, ...]:
        return REAL_NODE_COMPONENTS if self.node else COMPONENTS

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def kubeconfig(self) -> Path:
        return self.path / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{self.host}:{self.ports['kube-apiserver']}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['base-simulator']}"

    @property
    def module_proxy(self) -> str | None:
        """``127.0.0.1:PORT`` of the module repository, the bases' HTTP proxy (None if absent)."""
        port = self.ports.get("module-repository")
        return f"{self.host}:{port}" if port else None

    @property
    def module_repo_url(self) -> str | None:
        """``http://127.0.0.1:PORT`` of the module repository (jars by path, see modulerepo)."""
        proxy = self.module_proxy
        return f"http://{proxy}" if proxy else None

    def save(self) -> None:
        tmp = self.path / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path / "state.json")

    @classmethod
    def load(cls, directory: Path) -> "State | None":
        try:
            data = json.loads((directory / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(**data)

    def alive(self) -> dict[str, bool]:
        return {name: processes.is_ours(pid, self.path) for name, pid in self.pids.items()}


class DevCluster:
    def __init__(self, directory: Path | None = None, log: Log | None = None):
        self.dir = (directory or default_dir()).resolve()
        self.log: Log = log or (lambda msg: print(msg, file=sys.stderr))
        self._children: dict[str, subprocess.Popen[bytes]] = {}  # started by this object
        self._node_images: list[BuiltImage] = []  # images the real node imports at start (up)
        self._base_image: BuiltImage | None = None

    # ----------------------------------------------------------------- public verbs

    def up(
        self,
        bases: int = 3,
        crds_dir: Path | None = None,
        apiserver_port: int = 0,
        timeout: float = 60.0,
        real_node: bool = False,
        pod_subnet: str = realnode.DEFAULT_SUBNET,
    ) -> State:
        """Start everything and return once the API answers and the simulator serves.

        ``real_node``: a kubelet with containerd instead of the base simulator (realnode.py);
        the base Deployment then runs real base containers on it."""
        bins = binaries.require()
        self.dir.mkdir(parents=True, exist_ok=True)
        existing = State.load(self.dir)
        if existing is not None:
            alive = existing.alive()
            if alive and all(alive.values()) and self._api_ready(existing):
                self.log(f"dev cluster already running in {self.dir}")
                return existing
            if any(alive.values()):
                running = ", ".join(n for n, a in alive.items() if a)
                raise DevClusterError(
                    f"dev cluster in {self.dir} is partly running ({running}) from an earlier "
                    f"run: run `module-controller-dev down --dir {self.dir}` first"
                )
            self.log(f"cleaning up state of a stopped cluster in {self.dir}")
            self._wipe()
        if apiserver_port and processes.port_in_use(apiserver_port):
            raise DevClusterError(
                f"port {apiserver_port} on 127.0.0.1 is in use: choose another --port or 0 for any"
            )

        state = State(dir=str(self.dir), bases=bases, started=time.time())
        if real_node:
            self._prepare_real_node(state, pod_subnet)
        state.ports = {
            "etcd": processes.free_port(),
            "etcd-peer": processes.free_port(),
            "kube-apiserver": apiserver_port or processes.free_port(),
            "module-repository": processes.free_port(),
        }
        if not real_node:
            state.ports["base-simulator"] = processes.free_port()
        try:
            if real_node:
                realnode.create_bridge(self._network(state))
            self._start_all(state, bins, timeout)
            from . import bootstrap  # imported late: it pulls in the Kubernetes client

            base_body = None
            if real_node:
                from . import nodeapi

                nodeapi.prepare(state.kubeconfig, timeout=timeout, log=self.log)
                if bases:
                    assert self._base_image is not None  # built by _prepare_real_node
                    base_body = nodeapi.base_deployment(bases, self._base_image.ref,
                                                        state.module_proxy or "")
            bootstrap.run(state.kubeconfig, crds_dir=crds_dir, bases=bases, timeout=timeout,
                          log=self.log, base_body=base_body)
        except BaseException:
            self.log(f"start-up failed; stopping what was started (logs kept in {self.dir / 'logs'})")
            self._stop_all(state)
            raise
        where = (f"real node {state.node['name']} ({state.node['ip']})" if state.node
                 else f"base simulator control {state.control_url}")
        self.log(f"dev cluster ready in {time.time() - state.started:.1f}s: API {state.server}, "
                 f"{where}, module repository {state.module_repo_url}")
        return state

    def _prepare_real_node(self, state: State, pod_subnet: str) -> None:
        """Check the machine, build what the node needs; raise a one-line error if it cannot."""
        reason = realnode.missing()
        if reason:
            raise DevClusterError(reason)
        net = realnode.parse_network(pod_subnet)
        self._node_bins = realnode.node_binaries(self.log)
        from . import images

        images.images_dir().mkdir(parents=True, exist_ok=True)
        self._node_images = [images.build_pause(self.log)]
        if state.bases:
            self._base_image = images.build_base("2025", self.log)
            self._node_images.append(self._base_image)
        state.host = net.node_ip
        state.node = {"name": realnode.NODE_NAME, "ip": net.node_ip, "subnet": net.subnet,
                      "bridge": net.bridge, "before": realnode.snapshot()}

    @staticmethod
    def _network(state: State) -> realnode.Network:
        return realnode.Network(state.node["subnet"], state.node["bridge"])

    def down(self) -> bool:
        """Stop everything ``up`` started in this directory; False if nothing was there."""
        state = State.load(self.dir)
        if state is None:
            return False
        self._stop_all(state)
        return True

    def status(self) -> dict[str, Any]:
        state = State.load(self.dir)
        if state is None:
            return {"dir": str(self.dir), "running": False, "components": {}}
        alive = state.alive()
        return {
            "dir": str(self.dir),
            "running": bool(alive) and all(alive.values()),
            "components": {
                name: {"pid": state.pids[name], "alive": alive[name], "port": state.ports.get(name)}
                for name in state.pids
            },
            "kubeconfig": str(state.kubeconfig),
            "server": state.server,
            "baseSimulator": state.control_url if "base-simulator" in state.ports else None,
            "moduleRepository": state.module_repo_url,
            "bases": state.bases,
            **({"node": self._node_status(state)} if state.node else {}),
        }

    def _node_status(self, state: State) -> dict[str, Any]:
        """The real node as the API server sees it (Ready, its pods' count), plus its network."""
        info = {k: state.node[k] for k in ("name", "ip", "subnet", "bridge")}
        pki = self.dir / "pki"
        try:
            ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
            ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
            with urllib.request.urlopen(f"{state.server}/api/v1/nodes/{state.node['name']}",
                                        timeout=5, context=ctx) as resp:
                node = json.loads(resp.read())
            conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
            info["ready"] = conditions.get("Ready") == "True"
            info["kubeletVersion"] = node["status"]["nodeInfo"]["kubeletVersion"]
            info["containerRuntime"] = node["status"]["nodeInfo"]["containerRuntimeVersion"]
            with urllib.request.urlopen(
                    f"{state.server}/api/v1/pods?fieldSelector=spec.nodeName%3D{state.node['name']}",
                    timeout=5, context=ctx) as resp:
                info["pods"] = len(json.loads(resp.read())["items"])
        except (OSError, ssl.SSLError, KeyError, ValueError) as exc:
            info["ready"] = False
            info["error"] = str(exc)
        return info

    def restart(self, component: str, timeout: float = 60.0, grace: float = 10.0) -> State:
        """Stop one component and start it again with the same ports, certificates and flags.

        For fault injection (e.g. a kube-apiserver restart in the middle of a release). The stop
        is SIGTERM, then SIGKILL after ``grace`` seconds. The new PID is recorded in
        ``state.json`` before waiting for readiness; etcd keeps its data directory, so the
        cluster's objects survive. Returns the updated state.
        """
        state = State.load(self.dir)
        if state is None:
            raise DevClusterError(f"no dev cluster in {self.dir}: run `module-controller-dev up` first")
        if component not in state.components:
            raise DevClusterError(f"unknown component {component!r}: one of "
                                  f"{', '.join(state.components)}")
        pid = state.pids.get(component)
        if pid:
            processes.stop(pid, self.dir, child=self._children.pop(component, None), grace=grace)
            self.log(f"stopped {component} (pid {pid})")
        self._start_component(state, binaries.require(), self._pki_files(), component, timeout)
        self.log(f"restarted {component} (pid {state.pids[component]})")
        return state

    # ----------------------------------------------------------------- internals

    def _start_all(self, state: State, bins: binaries.Binaries, timeout: float) -> None:
        pki = certs.generate(self.dir / "pki", extra_ips=(state.host,) if state.node else ())
        kubeconfig.write(state.kubeconfig, state.server, pki.ca_cert, pki.admin_cert, pki.admin_key,
                         user="dev-admin")
        kubeconfig.write(self.dir / "kube-controller-manager.kubeconfig", state.server,
                         pki.ca_cert, pki.kcm_cert, pki.kcm_key,
                         user="system:kube-controller-manager")
        if state.node:
            certs.client_cert(self.dir / "pki", "apiserver-kubelet-client",
                              "kube-apiserver-kubelet-client")
            realnode.write_files(self.dir / "node", self.dir / "pki", self._network(state),
                                 state.server, pki.ca_cert)
        for name in state.components:
            self._start_component(state, bins, pki, name, timeout)
            if name == "containerd":
                from . import images

                for image in self._node_images:
                    images.ctr_import(realnode.SOCKET, image, self.log)

    def _start_component(self, state: State, bins: binaries.Binaries, pki: certs.CertFiles,
                         name: str, timeout: float) -> None:
        """Spawn one component with its argv and wait until it is ready (if it can tell)."""
        self._spawn(state, name, self._argv(state, bins, pki, name))
        ready = self._readiness(state, name)
        if ready is not None:
            self._wait(state, name, ready, timeout)

    def _readiness(self, state: State, name: str) -> Callable[[], bool] | None:
        if name == "etcd":
            return lambda: self._http_ok(f"http://127.0.0.1:{state.ports['etcd']}/health")
        if name == "kube-apiserver":
            return lambda: self._api_ready(state)
        if name == "base-simulator":
            return lambda: self._http_ok(f"{state.control_url}/healthz")
        if name == "module-repository":
            return lambda: self._http_ok(f"{state.module_repo_url}/-/healthz")
        if name == "containerd":
            return realnode.containerd_ready
        return None  # kube-controller-manager: no port of its own (--secure-port=0)

    def _argv(self, state: State, bins: binaries.Binaries, pki: certs.CertFiles,
              name: str) -> list[str]:
        """The command line of ``name``: the same on first start and on every restart."""
        p = state.ports
        etcd_url = f"http://127.0.0.1:{p['etcd']}"
        peer_url = f"http://127.0.0.1:{p['etcd-peer']}"
        if name == "etcd":
            return [
                str(bins.etcd),
                "--name=dev",
                f"--data-dir={self.dir / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=dev={peer_url}",
                # A throw-away cluster: durability costs seconds per test run and buys nothing.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ]
        if name == "kube-apiserver":
            return [
                str(bins.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={state.host}",
                f"--advertise-address={state.host}",
                f"--secure-port={p['kube-apiserver']}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                # No kubelet or kube-proxy answers for 127.0.0.1; the endpoint reconciler would
                # only write a loopback address into the default/kubernetes Endpoints.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                f"--cert-dir={self.dir / 'pki'}",
                # Reach kubelets by their InternalIP, never by resolving a node's name.
                "--kubelet-preferred-address-types=InternalIP",
                *([f"--kubelet-client-certificate={self.dir / 'pki/apiserver-kubelet-client.crt'}",
                   f"--kubelet-client-key={self.dir / 'pki/apiserver-kubelet-client.key'}"]
                  if state.node else []),
            ]
        if name == "kube-controller-manager":
            kcm_config = self.dir / "kube-controller-manager.kubeconfig"
            return [
                str(bins.kube_controller_manager),
                f"--kubeconfig={kcm_config}",
                f"--authentication-kubeconfig={kcm_config}",
                f"--authorization-kubeconfig={kcm_config}",
                "--secure-port=0",
                "--leader-elect=false",
                # Each controller acts as its own ServiceAccount, with the bootstrap RBAC roles, as
                # kubeadm clusters do; the KCM identity alone may not run every controller.
                "--use-service-account-credentials=true",
                "--controllers=" + ",".join(
                    KCM_CONTROLLERS + (REAL_NODE_KCM_CONTROLLERS if state.node else ())),
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Big base Deployments should come up in seconds, not be rate-limited by the client.
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ]
        if name == "module-repository":
            return [
                sys.executable, "-m", "module_controller_dev.modulerepo",
                f"--host={state.host}",
                f"--port={p['module-repository']}",
                *(f"--dir={binaries.cache_root() / d}" for d in MODULE_DIRS),
                f"--state-dir={self.dir}",
            ]
        if name == "base-simulator":
            argv = [
                sys.executable, "-m", "module_controller_dev.basesim",
                f"--kubeconfig={state.kubeconfig}",
                f"--control-port={p['base-simulator']}",
                f"--state-dir={self.dir}",
            ]
            if state.module_proxy:
                argv.append(f"--module-proxy={state.module_proxy}")
            return argv
        if name == "containerd":
            return realnode.containerd_argv(self.dir / "node")
        if name == "kube-scheduler":
            return realnode.scheduler_argv(binaries.locate("kube-scheduler") or Path("kube-scheduler"),
                                           self.dir / "node")
        if name == "kubelet":
            return realnode.kubelet_argv(binaries.locate("kubelet") or Path("kubelet"),
                                         self.dir / "node", self._network(state))
        raise DevClusterError(f"unknown component {name!r}: one of {', '.join(COMPONENTS)}")

    def _pki_files(self) -> certs.CertFiles:
        """The certificate files ``up`` wrote (``certs.generate``'s names), not regenerated."""
        d = self.dir / "pki"
        return certs.CertFiles(
            ca_cert=d / "ca.crt", ca_key=d / "ca.key",
            serving_cert=d / "apiserver.crt", serving_key=d / "apiserver.key",
            admin_cert=d / "admin.crt", admin_key=d / "admin.key",
            kcm_cert=d / "kube-controller-manager.crt", kcm_key=d / "kube-controller-manager.key",
            sa_key=d / "sa.key", sa_pub=d / "sa.pub",
        )

    def _spawn(self, state: State, name: str, argv: list[str]) -> None:
        child = processes.start(name, argv, self.dir)
        self._children[name] = child
        state.pids[name] = child.pid
        state.save()  # recorded at once, so a crash here still lets `down` find it

    def _wait(self, state: State, name: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if self._children[name].poll() is not None:
                tail = processes.log_tail(self.dir, name)
                raise DevClusterError(f"{name} exited during start-up; last log lines:\n{tail}")
            time.sleep(0.1)
        raise DevClusterError(f"{name} not ready after {timeout:.0f}s; see {self.dir / 'logs' / name}.log")

    def _stop_all(self, state: State) -> None:
        if state.node:
            self._stop_real_node(state)
        for name in reversed(state.components):
            self._stop_one(state, name)
        if state.node:
            realnode.remove_bridge(state.node["bridge"])
        self._wipe()

    def _stop_one(self, state: State, name: str) -> None:
        pid = state.pids.get(name)
        if pid:
            processes.stop(pid, self.dir, child=self._children.pop(name, None))
            self.log(f"stopped {name} (pid {pid})")
            if state.node:  # the real node stops in steps: each process once
                del state.pids[name]

    def _stop_real_node(self, state: State) -> None:
        """The teardown order of realnode.py: pods, kubelet, sandboxes, containerd, the rest."""
        self._stop_one(state, "kube-scheduler")  # nothing is scheduled again
        kubelet_alive = state.alive().get("kubelet", False)
        if kubelet_alive and self._api_ready(state):
            from . import nodeapi

            try:
                nodeapi.drain(state.kubeconfig, state.node["name"], log=self.log)
            except Exception as exc:  # noqa: BLE001 - teardown goes on; ctr removes the rest
                self.log(f"draining the real node failed ({exc}); removing its containers directly")
        self._stop_one(state, "kubelet")
        if state.alive().get("containerd", False):
            realnode.kill_sandboxes(self.log)
        self._stop_one(state, "containerd")
        before = state.node.get("before", {})
        realnode.unmount_all([str(self.dir / "node"), str(realnode.RUN_DIR), "/run/containerd",
                              "/var/lib/kubelet"], self.log)
        realnode.remove_netns(before.get("netns", []), before.get("netnsDir", True), self.log)
        realnode.remove_cgroups(before.get("cgroups", {}), self.log)
        realnode.remove_host_paths(before.get("paths", []), self.log)
        import shutil

        shutil.rmtree(self.dir / "node", ignore_errors=True)

    def _wipe(self) -> None:
        # The cluster is disposable: a fresh `up` starts with empty etcd and fresh certificates.
        import shutil

        for sub in ("etcd-data", "pki"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        for f in ("state.json", "kubeconfig", "kube-controller-manager.kubeconfig"):
            (self.dir / f).unlink(missing_ok=True)

    @staticmethod
    def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                ok: bool = resp.status == 200
                return ok
        except (urllib.error.URLError, OSError):
            return False

    def _api_ready(self, state: State) -> bool:
        pki = self.dir / "pki"
        try:
            ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
            ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        except (OSError, ssl.SSLError):
            return False
        return self._http_ok(f"{state.server}/readyz", ctx)

"""``module-controller dev up | down | status``: a real control plane on loopback.

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
from typing import Callable

from . import binaries, certs, kubeconfig, processes

# The order processes start in; ``down`` stops them in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "module-repository",
              "base-simulator")

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
)

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

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def kubeconfig(self) -> Path:
        return self.path / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['kube-apiserver']}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['base-simulator']}"

    @property
    def module_proxy(self) -> str | None:
        """``127.0.0.1:PORT`` of the module repository, the bases' HTTP proxy (None if absent)."""
        port = self.ports.get("module-repository")
        return f"127.0.0.1:{port}" if port else None

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
        self._children: dict[str, subprocess.Popen] = {}  # started by this object

    # ----------------------------------------------------------------- public verbs

    def up(
        self,
        bases: int = 3,
        crds_dir: Path | None = None,
        apiserver_port: int = 0,
        timeout: float = 60.0,
    ) -> State:
        """Start everything and return once the API answers and the simulator serves."""
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
                    f"run: run `module-controller dev down --dir {self.dir}` first"
                )
            self.log(f"cleaning up state of a stopped cluster in {self.dir}")
            self._wipe()
        if apiserver_port and processes.port_in_use(apiserver_port):
            raise DevClusterError(
                f"port {apiserver_port} on 127.0.0.1 is in use: choose another --port or 0 for any"
            )

        state = State(dir=str(self.dir), bases=bases, started=time.time())
        state.ports = {
            "etcd": processes.free_port(),
            "etcd-peer": processes.free_port(),
            "kube-apiserver": apiserver_port or processes.free_port(),
            "module-repository": processes.free_port(),
            "base-simulator": processes.free_port(),
        }
        try:
            self._start_all(state, bins, timeout)
            from . import bootstrap  # imported late: it pulls in the Kubernetes client

            bootstrap.run(state.kubeconfig, crds_dir=crds_dir, bases=bases, timeout=timeout, log=self.log)
        except BaseException:
            self.log(f"start-up failed; stopping what was started (logs kept in {self.dir / 'logs'})")
            self._stop_all(state)
            raise
        self.log(f"dev cluster ready in {time.time() - state.started:.1f}s: API {state.server}, "
                 f"base simulator control {state.control_url}, "
                 f"module repository {state.module_repo_url}")
        return state

    def down(self) -> bool:
        """Stop everything ``up`` started in this directory; False if nothing was there."""
        state = State.load(self.dir)
        if state is None:
            return False
        self._stop_all(state)
        return True

    def status(self) -> dict:
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
            "baseSimulator": state.control_url,
            "moduleRepository": state.module_repo_url,
            "bases": state.bases,
        }

    def restart(self, component: str, timeout: float = 60.0, grace: float = 10.0) -> State:
        """Stop one component and start it again with the same ports, certificates and flags.

        For fault injection (e.g. a kube-apiserver restart in the middle of a release). The stop
        is SIGTERM, then SIGKILL after ``grace`` seconds. The new PID is recorded in
        ``state.json`` before waiting for readiness; etcd keeps its data directory, so the
        cluster's objects survive. Returns the updated state.
        """
        if component not in COMPONENTS:
            raise DevClusterError(f"unknown component {component!r}: one of {', '.join(COMPONENTS)}")
        state = State.load(self.dir)
        if state is None:
            raise DevClusterError(f"no dev cluster in {self.dir}: run `module-controller dev up` first")
        pid = state.pids.get(component)
        if pid:
            processes.stop(pid, self.dir, child=self._children.pop(component, None), grace=grace)
            self.log(f"stopped {component} (pid {pid})")
        self._start_component(state, binaries.require(), self._pki_files(), component, timeout)
        self.log(f"restarted {component} (pid {state.pids[component]})")
        return state

    # ----------------------------------------------------------------- internals

    def _start_all(self, state: State, bins: binaries.Binaries, timeout: float) -> None:
        pki = certs.generate(self.dir / "pki")
        kubeconfig.write(state.kubeconfig, state.server, pki.ca_cert, pki.admin_cert, pki.admin_key,
                         user="dev-admin")
        kubeconfig.write(self.dir / "kube-controller-manager.kubeconfig", state.server,
                         pki.ca_cert, pki.kcm_cert, pki.kcm_key,
                         user="system:kube-controller-manager")
        for name in COMPONENTS:
            self._start_component(state, bins, pki, name, timeout)

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
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
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
                f"--controllers={','.join(KCM_CONTROLLERS)}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Big base Deployments should come up in seconds, not be rate-limited by the client.
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ]
        if name == "module-repository":
            return [
                sys.executable, "-m", "module_controller.modulerepo",
                "--host=127.0.0.1",
                f"--port={p['module-repository']}",
                *(f"--dir={binaries.cache_root() / d}" for d in MODULE_DIRS),
                f"--state-dir={self.dir}",
            ]
        if name == "base-simulator":
            argv = [
                sys.executable, "-m", "module_controller.basesim",
                f"--kubeconfig={state.kubeconfig}",
                f"--control-port={p['base-simulator']}",
                f"--state-dir={self.dir}",
            ]
            if state.module_proxy:
                argv.append(f"--module-proxy={state.module_proxy}")
            return argv
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
        for name in reversed(COMPONENTS):
            pid = state.pids.get(name)
            if pid:
                processes.stop(pid, self.dir, child=self._children.pop(name, None))
                self.log(f"stopped {name} (pid {pid})")
        self._wipe()

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
                return resp.status == 200
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

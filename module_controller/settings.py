"""Run-time settings of the controller (flags and environment variables map onto these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arklet import ArkletSettings
from .runtime.backoff import CappedJitterBackoff


@dataclass(frozen=True)
class Settings:
    arklet: ArkletSettings = field(default_factory=ArkletSettings)
    #: Namespaces to watch; empty means all (cluster-wide).
    namespaces: tuple[str, ...] = ()
    #: Concurrent Module reconciles. Each one waits on its base's installBiz (seconds to tens of
    #: seconds for a real module) while holding its worker, so this bounds how many bases
    #: install at once: a group of 250 instances with 32 workers took 8 install rounds instead
    #: of 2. Idle workers cost next to nothing.
    module_workers: int = 256
    #: Retry schedule of a Module whose install keeps failing (and of any failed reconcile).
    retry_backoff: CappedJitterBackoff = field(
        default_factory=lambda: CappedJitterBackoff(1.0, 60.0))
    #: An install that has not answered after this long is shown as phase Upgrading; quicker
    #: ones go straight to Available, saving a status write per Module.
    slow_status_after: float = 1.0
    #: Port of /healthz, /readyz and /metrics; None: not served.
    probe_port: int | None = None
    #: Address the probe server binds. Loopback by default: /metrics tells whoever reaches it
    #: the cluster's module counts, so a controller run by hand (or on the dev cluster) does not
    #: serve it to the network. The in-cluster Deployment passes the pod IP (docs/deploy.md).
    probe_host: str = "127.0.0.1"
    #: Lease-based leader election among replicas (see runtime/leader.py).
    leader_election: bool = False
    lease_namespace: str = "default"
    lease_name: str = "module-controller"
    #: Seconds a base pod that turned NotReady still counts as a base (peer mode keeps its
    #: instance) before its modules are taken off: a readiness blip costs nothing.
    base_not_ready_grace: float = 30.0
    #: Seconds between drift checks (queryAllBiz against the Module objects); 0: off.
    drift_check_period: float = 60.0
    #: Uninstall bizzes that run on a base without a Module (off: only reported).
    drift_remove_orphans: bool = False
    #: What serviceStrategy may make: "nodeport" (the spec's behaviour), "clusterip" (reachable
    #: inside the cluster only) or "disabled" (none; docs/security.md, item 4).
    module_services: str = "nodeport"
    #: Delete base pods (delete-pod labels, scaleup_then_scaledown). Off: their modules are still
    #: taken off, the pod is left for its owner; the controller then needs no pod delete right.
    pod_deletion: bool = True
    #: Module url schemes the controller has a base download (the API server accepts http,
    #: https and file; file:// reads the base's own disk, so it is off unless allowed).
    url_schemes: tuple[str, ...] = ("http", "https")

"""The ``module-controller`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__


def _dev_parser(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser("dev", help="a local Kubernetes control plane with simulated bases")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)

    def with_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dir", type=Path, default=None,
                       help="state directory (default: <cache>/module-controller/dev)")
        return p

    up = with_dir(dev_sub.add_parser("up", help="start the dev cluster (idempotent)"))
    up.add_argument("--bases", type=int, default=3,
                    help="replicas of the base Deployment dynamic-stock-deployment (0: none)")
    up.add_argument("--port", type=int, default=0, help="kube-apiserver port (default: any free)")
    up.add_argument("--crds", type=Path, default=None, help="CRD directory (default: ./crds)")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each part")
    up.add_argument("--real-node", action="store_true",
                    help="one real node (kubelet, containerd, runc, CNI; root) instead of the base "
                         "simulator: the bases are real 2025 base containers")
    up.add_argument("--pod-subnet", default="10.213.0.0/24",
                    help="with --real-node: the pods' private subnet on the node's bridge "
                         "(no default route, no masquerading)")
    with_dir(dev_sub.add_parser("down", help="stop everything `dev up` started"))
    with_dir(dev_sub.add_parser("status", help="say what runs"))
    dev_sub.add_parser("controlplane", help="find or build etcd, kube-apiserver, kube-controller-manager")
    dev_sub.add_parser("jars", help="find or build the real base and module jars (Java, Maven)")
    images = with_dir(dev_sub.add_parser(
        "images", help="build the controller and base images without Docker (OCI tarballs), "
                       "import them into the real node's containerd, print their names (JSON)"))
    images.add_argument("--controller-tag", default=None,
                        help="tag of the controller image (default: a hash of its sources)")


def _run_dev(args: argparse.Namespace) -> int:
    from .devcluster import DevCluster, binaries

    if args.dev_command == "controlplane":
        bins = binaries.ensure(log=lambda m: print(m, file=sys.stderr))
        print(bins.etcd.parent if len({p.parent for p in bins.as_dict().values()}) == 1
              else "\n".join(str(p) for p in bins.as_dict().values()))
        return 0
    if args.dev_command == "jars":
        from .realbase.build import RealBaseUnavailable, ensure

        try:
            jars = ensure(log=lambda m: print(m, file=sys.stderr))
        except RealBaseUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(jars.dir)
        return 0
    cluster = DevCluster(args.dir)
    if args.dev_command == "images":
        return _run_images(cluster, args.controller_tag)
    if args.dev_command == "up":
        state = cluster.up(bases=args.bases, crds_dir=args.crds, apiserver_port=args.port,
                           timeout=args.timeout, real_node=args.real_node,
                           pod_subnet=args.pod_subnet)
        print(f"export KUBECONFIG={state.kubeconfig}")
        return 0
    if args.dev_command == "down":
        if not cluster.down():
            print(f"no dev cluster in {cluster.dir}", file=sys.stderr)
        return 0
    status = cluster.status()
    print(json.dumps(status, indent=2))
    return 0 if status["running"] else 3


def _run_images(cluster, controller_tag: str | None) -> int:
    """Build the images; import them when the dev cluster in ``cluster.dir`` has a real node."""
    from .devcluster import images

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        built = images.build_all(log, controller_tag=controller_tag)
    except (images.ImageBuildError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bases = built["bases"]
    assert isinstance(bases, dict)
    flat = [built["pause"], built["controller"], *bases.values()]
    state = cluster.status()
    if state.get("node") and state["running"]:
        from .devcluster import realnode

        for image in flat:
            images.ctr_import(realnode.SOCKET, image, log)  # type: ignore[arg-type]
    else:
        log(f"no real node runs in {cluster.dir}: images built, not imported")
    print(json.dumps({"controller": built["controller"].ref,  # type: ignore[union-attr]
                      "bases": {g: image.ref for g, image in bases.items()},
                      "pause": built["pause"].ref}))  # type: ignore[union-attr]
    return 0


def _run(args: argparse.Namespace) -> int:
    """Pick the cluster: --kubeconfig, $KUBECONFIG or in-cluster config, else a local dev cluster.

    ``~/.kube/config`` alone does not count: ``make run`` must never surprise anyone by acting on
    whatever cluster their default context happens to point at.
    """
    import asyncio
    import logging

    from .arklet import ArkletSettings
    from .controllers.operator import Operator
    from .runtime import gc_tuning
    from .runtime.backoff import CappedJitterBackoff
    from .kube.client import cluster_configured
    from .settings import Settings

    _configure_logging(args.log_level.upper(), args.log_format)
    # kopf logs every successful event handler at INFO: one line per watch event is noise.
    logging.getLogger("kopf.objects").setLevel(max(logging.WARNING, logging.getLogger().level))
    kubeconfig = args.kubeconfig
    if not kubeconfig and not cluster_configured():
        if args.no_dev:
            print("error: no cluster configured: set KUBECONFIG or pass --kubeconfig", file=sys.stderr)
            return 1
        from .devcluster import DevCluster

        state = DevCluster().up(bases=3)
        kubeconfig = str(state.kubeconfig)
        print(f"dev cluster is up with 3 bases. In another shell:\n"
              f"  export KUBECONFIG={state.kubeconfig}\n"
              f"  kubectl apply -f config/samples/seed003_moduledeployment.yaml\n"
              f"  kubectl get mddeploy,mdrs,md,pods -o wide\n"
              f"  export PATH={Path(sys.executable).parent}:$PATH  # `kubectl module` (the "
              "plugin kubectl-module); or once: pipx install .\n"
              f"  kubectl module status moduledeployment-sample\n"
              "Stop the dev cluster with: make dev-down", file=sys.stderr)
    settings = Settings(
        arklet=ArkletSettings(port=args.arklet_port, timeout=args.arklet_timeout,
                              install_timeout=args.install_timeout,
                              concurrency=args.arklet_concurrency,
                              per_base=args.arklet_per_base,
                              per_base_queue=args.arklet_per_base_queue),
        namespaces=tuple(args.namespace),
        module_workers=args.module_workers,
        retry_backoff=CappedJitterBackoff(args.retry_backoff_initial, args.retry_backoff_max),
        probe_port=args.probe_port,
        probe_host=args.probe_host,
        leader_election=args.leader_election,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        drift_check_period=args.drift_check_period,
        base_not_ready_grace=args.base_not_ready_grace,
        drift_remove_orphans=args.drift_remove_orphans,
        module_services=args.module_services,
        pod_deletion=args.pod_deletion,
        url_schemes=tuple(args.url_schemes),
    )
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf logs in through $KUBECONFIG as well
    gc_tuning.tune()
    return asyncio.run(Operator(settings, kubeconfig).run())


def _url_schemes(value: str) -> list[str]:
    from .api import constants as c
    schemes = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in schemes if s not in c.URL_SCHEMES]
    if not schemes or unknown:
        raise argparse.ArgumentTypeError(
            f"--url-schemes={value}: each of {', '.join(c.URL_SCHEMES)} (the API server accepts "
            "no other)")
    return schemes


def _configure_logging(level: str, fmt: str) -> None:
    import logging

    from .observability.decisions import FIELDS
    from .observability.redaction import RedactingFilter, exception_text

    handler = logging.StreamHandler()
    # On the handler, so records of every logger pass it: no url credentials in any log line.
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        class JsonFormatter(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                entry = {"time": self.formatTime(record), "level": record.levelname,
                         "logger": record.name, "message": record.getMessage()}
                entry.update(getattr(record, FIELDS, None) or {})  # a decision's own fields
                if record.exc_info or record.exc_text:
                    entry["exception"] = exception_text(self, record)
                return json.dumps(entry)
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    from .arklet.settings import ArkletSettings
    from .api import constants as c
    from .planning.limits import MODULE_SERVICES
    from .settings import Settings

    parser = argparse.ArgumentParser(
        prog="module-controller",
        description="Run the module controller, render its install set, or manage a local dev "
                    "cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    run = sub.add_parser("run", help="run the controller against $KUBECONFIG, or a dev cluster it starts")
    run.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG)")
    run.add_argument("--namespace", action="append", default=[],
                     help="namespace to watch (repeatable; default: all)")
    run.add_argument("--arklet-port", type=int, default=1238, help="default Arklet port")
    run.add_argument("--arklet-timeout", type=float, default=10.0,
                     help="total timeout of an Arklet call other than install (s)")
    run.add_argument("--install-timeout", type=float, default=120.0,
                     help="total timeout of installBiz (s)")
    run.add_argument("--arklet-concurrency", type=int, default=ArkletSettings.concurrency,
                     help="Arklet calls in flight at once, over all bases")
    run.add_argument("--arklet-per-base", type=int, default=ArkletSettings.per_base,
                     help="Arklet calls in flight at once on one base")
    run.add_argument("--arklet-per-base-queue", type=int, default=ArkletSettings.per_base_queue,
                     help="Arklet calls waiting for one base (each at most --arklet-timeout); "
                          "more are refused at once and retried later")
    run.add_argument("--module-workers", type=int, default=Settings.module_workers,
                     help="Module reconciles at once (each may wait on an install)")
    run.add_argument("--retry-backoff-initial", type=float, default=1.0,
                     help="first retry delay of a failed reconcile (s)")
    run.add_argument("--retry-backoff-max", type=float, default=60.0,
                     help="cap of the retry delay (s)")
    run.add_argument("--probe-port", type=int, default=None,
                     help="serve /healthz, /readyz and /metrics on this port (0: any free port)")
    run.add_argument("--probe-host", default=Settings.probe_host,
                     help="address the probe server binds (default: loopback only; the "
                          "Deployment passes the pod IP so that the kubelet reaches it)")
    run.add_argument("--leader-election", action=argparse.BooleanOptionalAction, default=False,
                     help="take a Lease so that of several replicas exactly one acts")
    run.add_argument("--lease-namespace", default=os.environ.get("POD_NAMESPACE", "default"),
                     help="namespace of the leader Lease (default: $POD_NAMESPACE or default)")
    run.add_argument("--lease-name", default="module-controller", help="name of the leader Lease")
    run.add_argument("--base-not-ready-grace", type=float, default=Settings.base_not_ready_grace,
                     help="seconds a NotReady base pod keeps its instances in peer mode before "
                          "they are taken off (default %(default)s)")
    run.add_argument("--drift-check-period", type=float, default=60.0,
                     help="seconds between comparisons of queryAllBiz with the Modules (0: off)")
    run.add_argument("--drift-remove-orphans", action="store_true",
                     help="uninstall bizzes that run on a base without a Module (default: report)")
    run.add_argument("--module-services", choices=MODULE_SERVICES, default=Settings.module_services,
                     help="Services that serviceStrategy may make: nodeport (default), clusterip "
                          "(in-cluster only) or disabled (none; the ModuleDeployment says so)")
    run.add_argument("--pod-deletion", action=argparse.BooleanOptionalAction,
                     default=Settings.pod_deletion,
                     help="delete base pods for delete-pod labels and scaleup_then_scaledown "
                          "(--no-pod-deletion: take their modules off, never delete a pod)")
    run.add_argument("--url-schemes", type=_url_schemes,
                     default=",".join(Settings.url_schemes),
                     help="module url schemes a base is asked to download, comma-separated, of "
                          f"{','.join(c.URL_SCHEMES)} (default: %(default)s); a Module with "
                          "another is Failed, reason UrlSchemeNotAllowed")
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.add_argument("--log-level", default="INFO")
    run.add_argument("--no-dev", action="store_true",
                     help="never start a dev cluster; fail if no cluster is configured")
    _dev_parser(sub)
    sub.add_parser("manifests", add_help=False,
                   help="render the install set (Namespace, CRDs, RBAC, Deployment): "
                        "--namespace NS --image IMG [--out DIR]; see `manifests --help`")
    sub.add_parser("migrate", add_help=False,
                   help="switch from upstream's v1 controller (crds) and back (to-upstream); "
                        "see `migrate --help` and docs/migration.md")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["migrate"]:
        from .migrate.cli import main as migrate_main

        return migrate_main(argv[1:])
    if argv[:1] == ["manifests"]:
        # The renderer owns its options (module-controller manifests --help, make manifests).
        from .manifests.render import main as manifests_main

        return manifests_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "run" and args.no_dev:
        # The image's path: nothing of the dev cluster (nor its dev-only dependencies, such as
        # cryptography for its certificates) is imported.
        try:
            return _run(args)
        except KeyboardInterrupt:
            return 130

    from .devcluster import BinariesError, DevClusterError

    try:
        if args.command == "dev":
            return _run_dev(args)
        if args.command == "run":
            return _run(args)
    except (BinariesError, DevClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``module-controller`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__


def _run(args: argparse.Namespace) -> int:
    """Run against --kubeconfig, $KUBECONFIG or the in-cluster config; nothing else.

    ``~/.kube/config`` alone does not count: the controller must never surprise anyone by acting
    on whatever cluster their default context happens to point at. A local dev cluster is the
    development tool's business (``module-controller-dev run``, ``make run``).
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
        print("error: no cluster configured: set KUBECONFIG or pass --kubeconfig "
              "(a local dev cluster: module-controller-dev run, or make run)", file=sys.stderr)
        return 1
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
        description="Run the module controller, render its install set, or migrate from "
                    "upstream's controller.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    run = sub.add_parser("run", help="run the controller against --kubeconfig, $KUBECONFIG or the "
                                     "in-cluster config")
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
    # `run` never starts a dev cluster; manifests of earlier releases pass this flag.
    run.add_argument("--no-dev", action="store_true",
                     help="no effect, accepted for manifests that pass it: run never starts a "
                          "dev cluster (module-controller-dev run does)")
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
    if args.command == "run":
        try:
            return _run(args)
        except KeyboardInterrupt:
            return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())

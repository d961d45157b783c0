"""The ``module-controller`` command."""

from __future__ import annotations

import argparse
import json
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
    with_dir(dev_sub.add_parser("down", help="stop everything `dev up` started"))
    with_dir(dev_sub.add_parser("status", help="say what runs"))
    dev_sub.add_parser("controlplane", help="find or build etcd, kube-apiserver, kube-controller-manager")


def _run_dev(args: argparse.Namespace) -> int:
    from .devcluster import DevCluster, binaries

    if args.dev_command == "controlplane":
        bins = binaries.ensure(log=lambda m: print(m, file=sys.stderr))
        print(bins.etcd.parent if len({p.parent for p in bins.as_dict().values()}) == 1
              else "\n".join(str(p) for p in bins.as_dict().values()))
        return 0
    cluster = DevCluster(args.dir)
    if args.dev_command == "up":
        state = cluster.up(bases=args.bases, crds_dir=args.crds, apiserver_port=args.port,
                           timeout=args.timeout)
        print(f"export KUBECONFIG={state.kubeconfig}")
        return 0
    if args.dev_command == "down":
        if not cluster.down():
            print(f"no dev cluster in {cluster.dir}", file=sys.stderr)
        return 0
    status = cluster.status()
    print(json.dumps(status, indent=2))
    return 0 if status["running"] else 3


def _run(args: argparse.Namespace) -> int:
    """Pick the cluster: $KUBECONFIG or in-cluster config if present, else a local dev cluster.

    ``~/.kube/config`` alone does not count: ``make run`` must never surprise anyone by acting on
    whatever cluster their default context happens to point at.
    """
    import os

    if os.environ.get("KUBECONFIG") or os.environ.get("KUBERNETES_SERVICE_HOST"):
        target = os.environ.get("KUBECONFIG") or "in-cluster config"
        print(f"cluster: {target}", file=sys.stderr)
    else:
        from .devcluster import DevCluster

        state = DevCluster().up(bases=3)
        print(f"dev cluster is up with 3 bases. Talk to it with:\n"
              f"  export KUBECONFIG={state.kubeconfig}\n"
              f"  kubectl get pods -o wide\n"
              f"Stop it with: module-controller dev down", file=sys.stderr)
    print("the controller itself is not implemented yet: stopping here (the cluster stays up)",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="module-controller", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    sub.add_parser("run", help="run the controller against $KUBECONFIG, or a dev cluster it starts")
    _dev_parser(sub)
    args = parser.parse_args(argv)

    from .devcluster import BinariesError, DevClusterError

    try:
        if args.command == "version":
            print(__version__)
            return 0
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

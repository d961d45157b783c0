"""The ``module-controller-dev`` command: the dev cluster and its parts, and ``run`` on it.

``run`` is the convenience ``make run`` offers: the controller against ``$KUBECONFIG`` (or
``--kubeconfig``) when a cluster is configured, else against a dev cluster it starts first. The
product's ``module-controller run`` never starts one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from module_controller import __version__

if TYPE_CHECKING:
    from .devcluster import DevCluster


def _with_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--dir", type=Path, default=None,
                   help="state directory (default: <cache>/module-controller/dev)")
    return p


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="module-controller-dev",
        description="A local Kubernetes control plane with simulated (or real) bases, and the "
                    "controller run on it. Development only: the controller image has none of it.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    up = _with_dir(sub.add_parser("up", help="start the dev cluster (idempotent)"))
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
    down = _with_dir(sub.add_parser("down", help="stop everything `up` started"))
    down.add_argument("--stale-node", action="store_true",
                      help="instead: remove what a dead real node (its kubelet and containerd "
                           "killed) left on this machine; refuses while a real node runs")
    _with_dir(sub.add_parser("status", help="say what runs"))
    sub.add_parser("controlplane", help="find or build etcd, kube-apiserver, kube-controller-manager")
    sub.add_parser("jars", help="find or build the real base and module jars (Java, Maven)")
    images = _with_dir(sub.add_parser(
        "images", help="build the controller and base images without Docker (OCI tarballs), "
                       "import them into the real node's containerd, print their names (JSON)"))
    images.add_argument("--controller-tag", default=None,
                        help="tag of the controller image (default: a hash of its sources)")
    sub.add_parser("run", add_help=False,
                   help="`module-controller run ARGS` against $KUBECONFIG or --kubeconfig, else "
                        "against a dev cluster with 3 bases it starts first")
    return top


def _run(argv: list[str]) -> int:
    """``module-controller run`` on the configured cluster, else on a dev cluster started here."""
    from module_controller.cli import main as controller_main
    from module_controller.kube.client import cluster_configured

    from .devcluster import DevCluster

    if "-h" in argv or "--help" in argv:
        return controller_main(["run", *argv])
    given = any(a == "--kubeconfig" or a.startswith("--kubeconfig=") for a in argv)
    if not given and not cluster_configured():
        state = DevCluster().up(bases=3)
        argv = ["--kubeconfig", str(state.kubeconfig), *argv]
        print(f"dev cluster is up with 3 bases. In another shell:\n"
              f"  export KUBECONFIG={state.kubeconfig}\n"
              f"  kubectl apply -f config/samples/seed003_moduledeployment.yaml\n"
              f"  kubectl get mddeploy,mdrs,md,pods -o wide\n"
              f"  export PATH={Path(sys.executable).parent}:$PATH  # `kubectl module` (the "
              "plugin kubectl-module); or once: pipx install .\n"
              f"  kubectl module status moduledeployment-sample\n"
              "Stop the dev cluster with: make dev-down", file=sys.stderr)
    return controller_main(["run", *argv])


def _images(cluster: DevCluster, controller_tag: str | None) -> int:
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


def _down_stale_node() -> int:
    """Remove a dead real node's leftovers, holding the tier's lock; refuse a live node."""
    import os

    from .devcluster import stalenode

    if os.geteuid() != 0:
        print("error: removing a real node's leftovers needs root", file=sys.stderr)
        return 1
    with stalenode.try_lock() as lock:
        verdict = stalenode.judge(stalenode.observe(lock_held=lock is None))
        if verdict.state == "live":
            print(f"error: refusing: {verdict.reason}", file=sys.stderr)
            return 1
        if verdict.state == "none":
            print("no real node and nothing left of one on this machine", file=sys.stderr)
            return 0
        print(verdict.reason.split(":")[0], file=sys.stderr)
        left = stalenode.remove(lambda m: print(m, file=sys.stderr))
    if left:
        print(f"error: still left: {', '.join(left)}", file=sys.stderr)
        return 1
    print("removed the dead real node's leftovers", file=sys.stderr)
    return 0


def _hint_stale_node() -> None:
    import os

    from .devcluster import stalenode

    if os.geteuid() == 0:
        verdict = stalenode.judge(stalenode.observe())
        if verdict.state == "dead":
            print(verdict.reason, file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    from .devcluster import DevCluster, binaries

    if args.command == "controlplane":
        bins = binaries.ensure(log=lambda m: print(m, file=sys.stderr))
        print(bins.etcd.parent if len({p.parent for p in bins.as_dict().values()}) == 1
              else "\n".join(str(p) for p in bins.as_dict().values()))
        return 0
    if args.command == "jars":
        from .realbase.build import RealBaseUnavailable, ensure

        try:
            jars = ensure(log=lambda m: print(m, file=sys.stderr))
        except RealBaseUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(jars.dir)
        return 0
    cluster = DevCluster(args.dir)
    if args.command == "images":
        return _images(cluster, args.controller_tag)
    if args.command == "up":
        state = cluster.up(bases=args.bases, crds_dir=args.crds, apiserver_port=args.port,
                           timeout=args.timeout, real_node=args.real_node,
                           pod_subnet=args.pod_subnet)
        print(f"export KUBECONFIG={state.kubeconfig}")
        return 0
    if args.command == "down":
        if args.stale_node:
            return _down_stale_node()
        if not cluster.down():
            print(f"no dev cluster in {cluster.dir}", file=sys.stderr)
            _hint_stale_node()
        return 0
    status = cluster.status()
    print(json.dumps(status, indent=2))
    return 0 if status["running"] else 3


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    from .devcluster import BinariesError, DevClusterError

    try:
        if argv[:1] == ["run"]:
            # The controller owns its options (module-controller run --help).
            return _run(argv[1:])
        args = top.parse_args(argv)
        if args.command == "version":
            print(__version__)
            return 0
        return _dispatch(args)
    except (BinariesError, DevClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

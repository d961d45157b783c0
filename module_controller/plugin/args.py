"""The command line of ``kubectl module`` (argparse; a usage error exits 2, as kubectl's do)."""

from __future__ import annotations

import argparse
from typing import Sequence

from .render import OUTPUTS

PROG = "kubectl module"
WRITERS = ("promote", "pause", "resume", "abort", "retry", "undo")
DESCRIPTION = ("Operate the releases of ModuleDeployments (serverless.alipay.com): status, "
               "promote, pause, resume, abort, retry, undo, history; and the modules of one "
               "base.")


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return number


def _revision(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"a revision is a number from 1: {value}")
    return number


def _common(suppress: bool) -> argparse.ArgumentParser:
    """kubectl's flags; accepted before and after the subcommand (SUPPRESS on the subcommands,
    so a flag given before the subcommand is not reset to a default after it)."""
    default = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-n", "--namespace", default=default,
                   help="namespace (default: the context's namespace, else default)")
    p.add_argument("--kubeconfig", default=default,
                   help="kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    p.add_argument("--context", default=default, help="kubeconfig context to use")
    p.add_argument("-o", "--output", choices=OUTPUTS, default=argparse.SUPPRESS if suppress
                   else "table", help="output format (default: table)")
    return p


def parser() -> argparse.ArgumentParser:
    common = _common(suppress=True)
    top = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, parents=[_common(False)])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        if name in WRITERS:
            p.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                           help="after the write, wait up to this long to report what the "
                                "controller did (0: do not wait; default: 10)")
        return p

    status = command("status", "revisions, groups, instances, conditions, events and what to do "
                               "next, for one ModuleDeployment")
    status.add_argument("name", metavar="NAME")
    status.add_argument("-w", "--watch", action="store_true",
                        help="redraw whenever something changes, until Ctrl-C or --timeout")
    status.add_argument("--interval", type=_positive, default=2.0,
                        help="seconds between two looks with --watch (default: 2)")
    status.add_argument("--timeout", type=_positive, default=None,
                        help="stop watching after this many seconds")
    status.add_argument("--until-done", action="store_true",
                        help="with --watch: exit 0 once the release completed (1 at --timeout)")
    status.add_argument("--events", type=int, default=5, metavar="N",
                        help="show the last N events (default: 5)")

    for name, help_ in (("promote", "confirm the group that waits (spec.confirmBatchNum); "
                                    "nothing when no group waits"),
                        ("pause", "set spec.pause: the release stops after the current group"),
                        ("resume", "clear spec.pause: the release continues"),
                        ("abort", "stop the running release and return to the last completed "
                                  "revision, in groups (the controller does it; see status)"),
                        ("retry", "release a given-up (aborted or rolled back) revision again, "
                                  "in groups"),
                        ("history", "the revisions: module version, url, created, completed or "
                                    "aborted")):
        command(name, help_).add_argument("name", metavar="NAME")

    undo = command("undo", "put the module of an earlier revision back into the spec (default: "
                           "the previous revision), like kubectl rollout undo")
    undo.add_argument("name", metavar="NAME")
    undo.add_argument("--to-revision", type=_revision, default=None, metavar="N",
                      help="the revision to return to (see history)")

    get = command("get", "list objects; `get modules --base POD|IP`: the modules of one base")
    get.add_argument("resource", choices=("modules", "module", "md"), metavar="modules")
    get.add_argument("--base", required=True, metavar="POD|IP",
                     help="base pod name or IP (labels base-instance-name / base-instance-ip)")
    return top


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed arguments; exits 2 with kubectl-like usage on errors."""
    return parser().parse_args(argv)

"""The command line of ``kubectl module`` (argparse; a usage error exits 2, as kubectl's do).

Imports nothing but argparse: ``--help`` and usage errors answer before any client loads.
"""

from __future__ import annotations

import argparse
from typing import Sequence

PROG = "kubectl module"
#: ``-o``: ``table`` is the default (narrow, at most 120 columns), ``wide`` adds columns.
OUTPUTS = ("table", "wide", "json", "yaml", "name")
WRITERS = ("promote", "pause", "resume", "abort", "retry", "undo", "set-version")
DESCRIPTION = (
    "Operate the releases of ModuleDeployments (serverless.alipay.com): list, status, promote, "
    "pause, resume, abort, retry, undo, set version, history; and the modules of one base.\n\n"
    "Groups are numbered 1..N in the order they run, everywhere (status, promote, messages): "
    "a release with confirmation pauses after group k is done, and spec.confirmBatchNum=k "
    "confirms that pause, so group k+1 starts.")
EPILOG = "Install: see the user guide (pipx/uv tool install puts kubectl-module on PATH)."


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
                   else "table", help="output format: table (default, at most 120 columns), "
                                      "wide (more columns, full texts), json, yaml, name")
    return p


def _wait(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                   help="after the write, wait up to this long to report what the controller "
                        "did (0: do not wait; default: 10)")


PROMOTE = ("confirm the pause after the group that is done: with group k done, writes "
           "spec.confirmBatchNum=k and group k+1 starts (nothing when no group waits); --full "
           "confirms every remaining pause and clears spec.pause, so the release runs to its "
           "end (gray times still apply)")


def parser() -> argparse.ArgumentParser:
    common = _common(suppress=True)
    top = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                  parents=[_common(False)])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str,
                parent: argparse._SubParsersAction[argparse.ArgumentParser] = sub
                ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_,
                                                       parents=[common])
        return p

    ls = command("list", "the ModuleDeployments of a namespace (-A: of all namespaces) with "
                         "version, progress and instance counts")
    ls.add_argument("-A", "--all-namespaces", action="store_true",
                    help="list the ModuleDeployments of every namespace")

    status = command("status", "revisions, groups, instances, conditions, events and what to do "
                               "next, for one ModuleDeployment")
    status.add_argument("name", metavar="NAME")
    status.add_argument("-w", "--watch", action="store_true",
                        help="follow the ModuleDeployment, its revisions, Modules and Events "
                             "(Kubernetes watches) and redraw when something changes, until "
                             "Ctrl-C or --timeout")
    status.add_argument("--interval", type=_positive, default=0.5, metavar="SECONDS",
                        help="with --watch: at most one redraw per this many seconds, changes "
                             "in between are drawn together (default: 0.5)")
    status.add_argument("--timeout", type=_positive, default=None,
                        help="stop watching after this many seconds")
    status.add_argument("--until-done", action="store_true",
                        help="with --watch: exit 0 once the release completed (1 at --timeout)")
    status.add_argument("--events", type=int, default=5, metavar="N",
                        help="show the last N events (default: 5)")

    promote = command("promote", PROMOTE)
    promote.add_argument("name", metavar="NAME")
    promote.add_argument("--full", action="store_true",
                         help="confirm every remaining pause, not only the waiting one")
    _wait(promote)

    for name, help_ in (("pause", "set spec.pause: the release stops after the running group"),
                        ("resume", "clear spec.pause: the release continues"),
                        ("abort", "ask the controller to give the running release up and return "
                                  "to the last completed revision, in groups (see status)"),
                        ("retry", "ask the controller to release a given-up (aborted or rolled "
                                  "back) revision again, in groups")):
        p = command(name, help_)
        p.add_argument("name", metavar="NAME")
        _wait(p)

    command("history", "the revisions: module version, created, how their release "
                       "ended").add_argument("name", metavar="NAME")

    undo = command("undo", "write the module of an earlier revision back into the spec "
                           "(default: the previous revision), like kubectl rollout undo; the "
                           "controller then releases it in groups")
    undo.add_argument("name", metavar="NAME")
    undo.add_argument("--to-revision", type=_revision, default=None, metavar="N",
                      help="the revision to return to (see history)")
    _wait(undo)

    set_ = command("set", "change a field of a ModuleDeployment's spec")
    set_sub = set_.add_subparsers(dest="field", required=True, metavar="FIELD")
    version = command("version", "write spec.template's module version (and url): the "
                                 "controller releases it as a new revision, in groups",
                      parent=set_sub)
    version.add_argument("name", metavar="NAME")
    version.add_argument("version", metavar="VERSION")
    version.add_argument("--url", default=None,
                         help="the jar of VERSION; needed when the spec's url names the old "
                              "version")
    version.add_argument("--keep-url", action="store_true",
                         help="keep the spec's url as it is (it serves the new version)")
    _wait(version)

    get = command("get", "`get modules --base POD|IP`: the modules of one base")
    get.add_argument("resource", choices=("modules", "module", "md"), metavar="modules")
    get.add_argument("--base", required=True, metavar="POD|IP",
                     help="base pod name or IP (labels base-instance-name / base-instance-ip)")
    return top


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed arguments; exits 2 with kubectl-like usage on errors."""
    parsed = parser().parse_args(argv)
    if parsed.command == "set":
        parsed.command = f"set-{parsed.field}"
    return parsed

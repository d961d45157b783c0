"""A real node that is gone but left its host state behind, told apart from one that runs.

When the process that ran a real node is killed (a session ends mid-test), the kubelet and
containerd die but the node's host state stays: its run directory with shm mounts, the bridge,
the pods' network namespaces, cgroups, the fixed host paths of realnode.py. ``observe`` gathers
the facts, ``judge`` (pure) decides between no node, a live node and a dead node's leftovers, and
``remove`` tears a dead node's leftovers down in realnode.py's order, skipping the steps that
need the dead processes (draining pods, ``ctr``). A live node is never touched: only its own
``module-controller-dev down`` stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from . import binaries, realnode

Log = Callable[[str], None]

# Only the node (or another kubelet/containerd, which would share the fixed host paths) runs these.
NODE_PROGRAMS = ("kubelet", "containerd")
SHIM_PREFIX = "containerd-shim"
NODE_CGROUPS = ("k8s.io", "kubepods")
STALE_COMMAND = "module-controller-dev down --stale-node"
LOCK_NAME = "realnode.lock"  # in the cache: held by the real-node test tier while it runs


@dataclass(frozen=True)
class NodeFacts:
    """What was seen on the machine; every field is plain data."""

    #: "pid program" of every live (not zombie) kubelet or containerd process.
    node_processes: tuple[str, ...] = ()
    #: Something accepts connections on the node's containerd socket.
    socket_answers: bool = False
    #: Another process holds the tier's lock (``realnode.lock`` in the cache).
    lock_held: bool = False
    #: What exists of a node: bridge, run directory, host paths, mounts, namespaces, cgroups.
    leftovers: tuple[str, ...] = ()
    #: The dev cluster directory that started the node, as it recorded at start ("" unknown).
    cluster_dir: str = ""


@dataclass(frozen=True)
class Verdict:
    state: str  # "none" | "live" | "dead"
    reason: str


def judge(facts: NodeFacts) -> Verdict:
    """No node, a live node (never touched), or a dead node's leftovers (safe to remove)."""
    signs = [f"process {p}" for p in facts.node_processes]
    if facts.socket_answers:
        signs.append(f"{realnode.SOCKET} answers")
    if facts.lock_held:
        signs.append(f"the tier's lock {LOCK_NAME} is held by another session")
    if signs:
        where = facts.cluster_dir or "DIR"
        return Verdict("live", f"a real node runs on this machine ({'; '.join(signs)}): one per "
                               f"machine; stop it first with `module-controller-dev down --dir "
                               f"{where}` (the dev cluster that started it)")
    if facts.leftovers:
        return Verdict("dead", f"a dead real node left {', '.join(facts.leftovers)} behind (no "
                               f"kubelet or containerd runs): remove them with `{STALE_COMMAND}`")
    return Verdict("none", "no real node and nothing left of one")


# ------------------------------------------------------------------------------- observation

def lock_path() -> Path:
    return binaries.cache_root() / LOCK_NAME


@contextlib.contextmanager
def try_lock() -> Iterator[IO[str] | None]:
    """The tier's lock, without waiting: the open file, or None when another process holds it."""
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield lock


def _processes() -> Iterator[tuple[int, str, str]]:
    """(pid, program, command line) of every live process; zombies have exited already."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if not cmdline or stat.rsplit(")", 1)[-1].split()[0] == "Z":
            continue
        argv = cmdline.decode(errors="replace").split("\0")
        yield int(entry), os.path.basename(argv[0]), " ".join(argv)


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(path))
        except OSError:  # refused: nobody listens any more
            return False
    return True


def owner() -> dict[str, str]:
    """What the node recorded at start (its directory, bridge), or {} for an older node."""
    try:
        data = json.loads((realnode.RUN_DIR / realnode.OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cgroups() -> list[Path]:
    if not realnode.CGROUP_ROOT.is_dir():
        return []
    return [h / name for h in realnode.CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()
            for name in NODE_CGROUPS if (h / name).is_dir()]


def orphans() -> list[tuple[int, str]]:
    """The dead node's shims and its pods' processes (in its cgroups): (pid, program)."""
    pids: set[int] = set()
    for group in _cgroups():
        for procs in group.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except (OSError, ValueError):
                continue
    found = []
    for pid, program, cmdline in _processes():
        if pid in pids or (program.startswith(SHIM_PREFIX) and str(realnode.SOCKET) in cmdline):
            found.append((pid, program))
    return found


def _mount_prefixes() -> list[str]:
    prefixes = [str(realnode.RUN_DIR), "/run/containerd", "/var/lib/kubelet"]
    node_dir = owner().get("nodeDir")
    return prefixes + ([node_dir] if node_dir else [])


def observe(lock_held: bool = False) -> NodeFacts:
    """Look at the machine. ``lock_held``: the caller found the tier's lock held by another."""
    node_processes = tuple(f"{pid} {program}" for pid, program, _ in _processes()
                           if program in NODE_PROGRAMS)
    left = []
    bridge = owner().get("bridge", realnode.DEFAULT_BRIDGE)
    if Path(f"/sys/class/net/{bridge}").exists():
        left.append(f"bridge {bridge}")
    left += [p for p in realnode.FIXED_HOST_PATHS if Path(p).exists()]
    mounts = realnode._mounts_under(_mount_prefixes())
    if mounts:
        left.append(f"{len(mounts)} mounts")
    if realnode.NETNS_DIR.is_dir():
        netns = [p.name for p in realnode.NETNS_DIR.iterdir() if p.name.startswith("cni-")]
        if netns:
            left.append(f"{len(netns)} network namespaces cni-*")
    groups = sorted({g.name for g in _cgroups()})
    if groups:
        left.append(f"cgroups {'/'.join(groups)}")
    left += [f"process {pid} {program}" for pid, program in orphans()]
    return NodeFacts(node_processes=node_processes, socket_answers=_socket_answers(realnode.SOCKET),
                     lock_held=lock_held, leftovers=tuple(left),
                     cluster_dir=str(Path(node_dir).parent) if (node_dir := owner().get("nodeDir"))
                     else "")


# ------------------------------------------------------------------------------- removal

def _kill_orphans(log: Log, timeout: float = 20.0) -> None:
    found = orphans()
    for pid, _ in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid for pid, _, _ in _processes()
                                              if pid in {p for p, _ in found}):
        time.sleep(0.1)
    if found:
        log(f"killed {len(found)} processes of the dead node (shims, pods)")


def remove(log: Log) -> list[str]:
    """Tear down a dead node's leftovers (the caller judged it dead); return what is still left.

    realnode.py's order without the steps that need a live kubelet or containerd: the pods'
    processes and shims killed, mounts unmounted deepest first, network namespaces ``cni-*``,
    the bridge, the ``k8s.io``/``kubepods`` cgroups and the host paths removed.
    """
    recorded = owner()
    _kill_orphans(log)
    realnode.unmount_all(_mount_prefixes(), log)
    realnode.remove_netns([], False, log)
    bridge = recorded.get("bridge", realnode.DEFAULT_BRIDGE)
    if Path(f"/sys/class/net/{bridge}").exists():
        realnode.remove_bridge(bridge)
        log(f"removed bridge {bridge}")
    keep = {h.name: sorted(p.name for p in h.iterdir() if p.is_dir() and p.name not in NODE_CGROUPS)
            for h in realnode.CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()} \
        if realnode.CGROUP_ROOT.is_dir() else {}
    realnode.remove_cgroups(keep, log)
    realnode.remove_host_paths([], log)
    node_dir = recorded.get("nodeDir")
    if node_dir and Path(node_dir).is_dir():
        shutil.rmtree(node_dir, ignore_errors=True)
        log(f"removed {node_dir}")
    return list(observe().leftovers)

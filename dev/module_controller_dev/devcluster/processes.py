"""Start, find and stop the dev cluster's child processes.

Each process runs in its own session (so a Ctrl-C in the shell that ran ``dev up`` does not kill
it) with output in ``<dir>/logs/<name>.log``. A PID alone is not trusted after a crash, since PIDs
are reused: a process counts as ours only if its command line mentions our state directory.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path


def start(name: str, argv: list[str], state_dir: Path,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=state_dir,
        )
    return proc


def is_ours(pid: int, state_dir: Path) -> bool:
    """True if ``pid`` is alive and was started for ``state_dir``.

    Not for a process started a moment ago: while the kernel is still executing it, its
    command line reads empty. Use the Popen handle for those.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie has exited already
        return False
    return str(state_dir).encode() in cmdline


def stop(pid: int, state_dir: Path, child: subprocess.Popen[bytes] | None = None,
         grace: float = 10.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL; silently done if already gone.

    ``child`` is the Popen handle when this process started it: then its identity is certain
    (no command-line check, which races with exec) and it is reaped.
    """
    def alive() -> bool:
        if child is not None:
            return child.poll() is None
        return is_ours(pid, state_dir)

    if not alive():
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive():
                return
            time.sleep(0.05)
    raise RuntimeError(f"process {pid} did not exit after SIGKILL")


def log_tail(state_dir: Path, name: str, lines: int = 5) -> str:
    path = state_dir / "logs" / f"{name}.log"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


#: Where listening ports are picked when the kernel's ephemeral range cannot be read.
_EPHEMERAL_DEFAULT = (32768, 60999)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def free_port(host: str = "127.0.0.1", rng: random.Random | None = None) -> int:
    """A port nobody uses now, for a component that binds it a few seconds later.

    Outside the kernel's ephemeral range: a port from that range (what binding port 0 gives) can
    be taken in between by any outgoing connection's source port, and the tests open thousands
    of short connections a second (each Arklet call is one); the chaos suite saw the base
    simulator fail to bind that way. Random, so parallel dev clusters rarely pick the same one;
    a port in TIME_WAIT counts as used."""
    low, high = _ephemeral_range()
    pool = range(10000, low) if low > 11000 else range(high + 1, 65536)
    rng = rng or random.SystemRandom()
    for _ in range(100 if len(pool) >= 100 else 0):  # (1024-65535: no room; as before)
        port = rng.choice(pool)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything tried was taken: the kernel's choice, as before
        s.bind((host, 0))
        chosen: int = s.getsockname()[1]
        return chosen


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def listening_ports(pids: list[int]) -> set[tuple[str, int]]:
    """TCP (address, port) pairs on which any of ``pids`` listens, read from /proc."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return {addr for inode, addr in listening_sockets().items() if inode in inodes}


def listening_sockets() -> dict[str, tuple[str, int]]:
    """All listening IPv4/IPv6 TCP sockets on the machine: inode -> (address, port)."""
    result: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            result[fields[9]] = (_decode_addr(hex_addr), int(hex_port, 16))
    return result


def _decode_addr(hex_addr: str) -> str:
    if len(hex_addr) == 8:  # IPv4, little-endian
        return ".".join(str(int(hex_addr[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_addr  # IPv6: kept raw; only compared for equality

"""Start, probe and stop one real koupleless base JVM.

A base is ``java -jar base-<generation>.jar`` with Arklet on a port of its own: Netty binds every
interface, so two bases on one machine need two ports, and the sofa-ark telnet server (1236 by
default) is switched off for the same reason. Each JVM runs in its own working directory, which
also holds its temp dir (where sofa-ark unpacks installed bizzes), its logs and its console log, so
that tests can look at what a base left behind and nothing lands in the caller's directory.

The start-up takes 16-45 s on two cores; :meth:`BaseJvm.wait_healthy` polls Arklet's ``health``
until it answers and, if the JVM dies or the deadline passes, raises :class:`BaseStartFailed`
with the last lines of the JVM's log.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .build import RealBaseUnavailable, _check_generation, find_java

# The system property that sets Arklet's HTTP port, per base generation.
ARKLET_PORT_PROPERTY: dict[str, str] = {
    "2025": "koupleless.arklet.http.port",
    "2023": "sofa.serverless.arklet.http.port",
}
DEFAULT_START_TIMEOUT = 180.0
DEFAULT_HEAP = "256m"
LOG_TAIL_LINES = 30

# Start-up speed over peak speed: C1 only, serial GC, class-data sharing where available.
FAST_START_FLAGS: tuple[str, ...] = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xshare:auto",
    "-Xss512k",
)


class BaseStartFailed(RealBaseUnavailable):
    """The JVM exited or did not answer ``health`` in time; the message ends with its log tail."""


class PortTaken(BaseStartFailed):
    """Arklet could not bind its port (taken between our check and the JVM's bind).

    The JVM would run on without Arklet until the deadline, so this is noticed in its log and
    reported at once; a caller that chose the port itself can retry with another."""


# What Netty logs when the Arklet port is taken.
_BIND_FAILURE_MARKERS: tuple[bytes, ...] = (b"java.net.BindException", b"Address already in use")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (on every interface, as Netty will bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        port: int = s.getsockname()[1]
        return port


def parse_proxy(proxy: str | None) -> tuple[str, int] | None:
    """``"host:port"`` -> ``(host, port)``; None or "" -> None; anything else: ValueError."""
    if not proxy:
        return None
    host, sep, port = proxy.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"proxy must be HOST:PORT, got {proxy!r}")
    return host, int(port)


def java_argv(java: str, jar: Path, generation: str, arklet_port: int, workdir: Path, *,
              proxy: str | None = None, heap: str = DEFAULT_HEAP,
              extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of one base JVM (pure, for tests)."""
    _check_generation(generation)
    argv = [
        java, f"-Xmx{heap}", *FAST_START_FLAGS,
        f"-D{ARKLET_PORT_PROPERTY[generation]}={arklet_port}",
        # the telnet server would take port 1236 in every base: the second base would fail
        "-Dsofa.ark.telnet.server.enable=false",
        f"-Djava.io.tmpdir={workdir / 'tmp'}",
        f"-Dlogging.path={workdir / 'logs'}",
        "-Dspring.jmx.enabled=false",
    ]
    parsed = parse_proxy(proxy)
    if parsed is not None:
        # Installs fetch bizUrl with java.net.URL: these make every http:// url go through the
        # module repository, whatever host it names.
        argv += [f"-Dhttp.proxyHost={parsed[0]}", f"-Dhttp.proxyPort={parsed[1]}",
                 "-Dhttp.nonProxyHosts="]
    argv += [*extra, "-jar", str(jar)]
    return argv


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL the JVM if the process that started it dies.

    A killed test run or simulator must not leave 256 MB JVMs behind. (Linux only; the signal
    fires when the starting *thread* exits, so start JVMs from a long-lived thread.)
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def arklet_call(host: str, port: int, command: str, body: dict[str, Any] | None = None,
                timeout: float = 10.0) -> dict[str, Any]:
    """POST one Arklet command and return the parsed JSON reply (no proxy, ever)."""
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(f"http://{host}:{port}/{command}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as resp:
        reply: dict[str, Any] = json.loads(resp.read().decode() or "null")
        return reply


@dataclass
class BaseJvm:
    """One running base JVM. ``stop()`` it (or use it as a context manager)."""

    generation: str
    jar: Path
    port: int
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    healthy_after: float | None = None  # seconds from launch to the first health answer
    _log_scanned: int = 0  # bytes of the log already searched for a bind failure

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, command: str, body: dict[str, Any] | None = None, host: str = "127.0.0.1",
             timeout: float = 30.0) -> dict[str, Any]:
        return arklet_call(host, self.port, command, body, timeout)

    def health_once(self, timeout: float = 5.0) -> bool:
        """True when Arklet answers ``health`` with SUCCESS right now."""
        try:
            return self.call("health", timeout=timeout).get("code") == "SUCCESS"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, maxlen=lines)).rstrip()
        except OSError as exc:
            return f"(no log: {exc})"

    def wait_healthy(self, timeout: float = DEFAULT_START_TIMEOUT, interval: float = 0.5) -> float:
        """Block until ``health`` answers; return seconds since launch. Stops the JVM on failure."""
        deadline = self.started_at + timeout
        while True:
            if not self.alive():
                code = self.process.returncode
                raise BaseStartFailed(self._failure(f"exited with code {code} before Arklet answered"))
            if self.health_once():
                self.healthy_after = time.monotonic() - self.started_at
                return self.healthy_after
            if self._bind_failed():
                self.stop()
                raise PortTaken(self._failure(f"could not bind Arklet port {self.port}"))
            if time.monotonic() >= deadline:
                self.stop()
                raise BaseStartFailed(self._failure(f"Arklet did not answer health within {timeout:.0f} s"))
            time.sleep(interval)

    def _bind_failed(self) -> bool:
        """Whether the log, read on from where the last call stopped, shows a bind failure."""
        start = max(0, self._log_scanned - 64)  # a marker may straddle two reads
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                chunk = f.read()
        except OSError:
            return False
        self._log_scanned = start + len(chunk)
        return any(marker in chunk for marker in _BIND_FAILURE_MARKERS)

    def _failure(self, what: str) -> str:
        return (f"base JVM {self.generation} (pid {self.pid}, Arklet port {self.port}, "
                f"log {self.log_path}) {what}; last log lines:\n{self.log_tail()}")

    def rss_bytes(self) -> int | None:
        """Resident memory of the JVM now (Linux /proc), or None when it is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code. Idempotent."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> "BaseJvm":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(jar: Path, generation: str, workdir: Path, *, port: int | None = None,
           proxy: str | None = None, heap: str = DEFAULT_HEAP,
           extra: tuple[str, ...] = ()) -> BaseJvm:
    """Start a base JVM without waiting for it; ``workdir`` is created and must be its own."""
    _check_generation(generation)
    if not jar.is_file():
        raise RealBaseUnavailable(f"base jar {jar} does not exist: run `make jars`")
    java = find_java()
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    log_path = workdir / "jvm.log"
    argv = java_argv(java, jar, generation, port, workdir, proxy=proxy, heap=heap, extra=extra)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
    return BaseJvm(generation, jar, port, workdir, log_path, process)


def start(jar: Path, generation: str, workdir: Path, *, port: int | None = None,
          proxy: str | None = None, timeout: float = DEFAULT_START_TIMEOUT,
          heap: str = DEFAULT_HEAP, attempts: int = 3) -> BaseJvm:
    """Launch a base JVM and wait until Arklet answers ``health`` (BaseStartFailed otherwise).

    When the port is ours to choose and turns out taken, try again with another one."""
    for attempt in range(1, attempts + 1):
        jvm = launch(jar, generation, workdir, port=port, proxy=proxy, heap=heap)
        try:
            jvm.wait_healthy(timeout)
            return jvm
        except PortTaken:
            jvm.stop()
            if port is not None or attempt == attempts:
                raise
        except BaseException:
            jvm.stop()
            raise
    raise AssertionError("unreachable")

"""Real base JVMs behind simulated pods.

A pod annotated ``sim.serverless.alipay.com/arklet: real-2025`` (or ``real-2023``) is backed by a
real koupleless base instead of a fake Arklet. Netty binds every interface, so each JVM gets a free
port of its own; the simulator writes it into the pod's ``serverless.alipay.com/arklet-port``
annotation, which is where the controller looks, and the pod's own loopback IP reaches the JVM on
that port. The jars are only *found* here (``make jars`` builds them): a pod that asks for a real
base on a machine without them stays not Ready, with one log line saying why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..realbase.build import Jars, RealBaseUnavailable, find_java, jar_dir
from ..realbase.jvm import DEFAULT_START_TIMEOUT, BaseJvm, PortTaken, launch

log = logging.getLogger("basesim.realbases")

# Annotation value -> base generation.
REAL_FLAVOURS: dict[str, str] = {"real-2025": "2025", "real-2023": "2023"}
ENV_JAR_DIR = "MODULE_CONTROLLER_REALBASE_DIR"
ENV_MODULE_PROXY = "MODULE_CONTROLLER_MODULE_PROXY"


def not_ready_status(reason: str) -> dict[str, Any]:
    """The status of a pod whose real base could not start: Pending, Ready False, and why
    (the first line in the message's head, the JVM's log tail after it, bounded)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "reason": "RealBaseUnavailable",
             "message": reason if len(reason) <= 4000 else f"{reason[:1000]}\n...\n{reason[-2900:]}",
             "lastTransitionTime": now},
        ],
    }


def generation_of(flavour: str | None) -> str | None:
    """The base generation a flavour asks for, or None for a fake (or no) Arklet."""
    return REAL_FLAVOURS.get(flavour or "")


class RealBases:
    """Starts and stops the real base JVMs of one simulator."""

    def __init__(self, jar_dir_: Path | None = None, work_root: Path | None = None,
                 proxy: str | None = None, start_timeout: float = DEFAULT_START_TIMEOUT):
        explicit = jar_dir_ or os.environ.get(ENV_JAR_DIR)
        self.jars = Jars(Path(explicit) if explicit else jar_dir())
        self._own_work_root = work_root is None
        self.work_root = work_root or Path(tempfile.mkdtemp(prefix="basesim-realbases-"))
        self.proxy = proxy if proxy is not None else (os.environ.get(ENV_MODULE_PROXY) or None)
        self.start_timeout = start_timeout
        self.running: dict[str, BaseJvm] = {}  # pod uid -> JVM

    def unavailable(self, generation: str) -> str | None:
        """Why a base of this generation cannot start here, or None when it can."""
        try:
            find_java()
        except RealBaseUnavailable as exc:
            return str(exc)
        jar = self.jars.base(generation)
        if not jar.is_file():
            return f"no base jar {jar}: run `make jars` (or pass --realbase-dir)"
        return None

    def workdir(self, namespace: str, name: str, uid: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{namespace}_{name}_{uid[:8]}")
        return self.work_root / safe

    def launch(self, uid: str, namespace: str, name: str, generation: str) -> BaseJvm:
        """Start the JVM (not waiting for it). Call from the event loop's thread: the JVM is
        killed by the kernel when the thread that started it ends."""
        reason = self.unavailable(generation)
        if reason is not None:
            raise RealBaseUnavailable(reason)
        jvm = launch(self.jars.base(generation), generation, self.workdir(namespace, name, uid),
                     proxy=self.proxy)
        self.running[uid] = jvm
        log.info("pod %s/%s: real %s base starting, pid %d, Arklet port %d, log %s",
                 namespace, name, generation, jvm.pid, jvm.port, jvm.log_path)
        return jvm

    def describe(self, uid: str) -> dict[str, Any] | None:
        """What the control API's ``/pods`` shows of a pod's real base (None: not real)."""
        jvm = self.running.get(uid)
        if jvm is None:
            return None
        return {"generation": jvm.generation, "pid": jvm.pid, "port": jvm.port,
                "workdir": str(jvm.workdir), "log": str(jvm.log_path), "alive": jvm.alive(),
                "healthyAfter": jvm.healthy_after}

    async def start(self, uid: str, namespace: str, name: str, generation: str,
                    attempts: int = 3) -> BaseJvm:
        """Launch the pod's JVM and wait until Arklet answers; a port taken meanwhile (found in
        the JVM's log at once) is retried with another. RealBaseUnavailable when it cannot be had;
        a pod deleted meanwhile (``stop`` called) ends it with BaseStartFailed."""
        for attempt in range(1, attempts + 1):
            jvm = self.launch(uid, namespace, name, generation)
            try:
                await asyncio.to_thread(jvm.wait_healthy, self.start_timeout)
                return jvm
            except PortTaken:
                if self.running.get(uid) is not jvm or attempt == attempts:
                    raise
                await self.stop(uid)
                log.info("pod %s/%s: Arklet port %d was taken; starting again on another",
                         namespace, name, jvm.port)
        raise AssertionError("unreachable")

    async def stop(self, uid: str) -> None:
        jvm = self.running.pop(uid, None)
        if jvm is not None:
            await asyncio.to_thread(jvm.stop)

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(uid) for uid in list(self.running)))
        if self._own_work_root:
            shutil.rmtree(self.work_root, ignore_errors=True)

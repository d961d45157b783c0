"""Helpers of the chaos suite: the controller under test, release driving, fault drivers.

What the chaos suite shares with the other cluster tests (ModuleDeployment bodies, bases, state
dumps, request logs) is in ``tests/helpers``.

Nothing here sleeps to synchronise. Random delays (``rng.uniform``) only choose *when* a fault is
injected; every wait for a state polls with a deadline (``kt.wait_for``) and fails loudly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from kubernetes_asyncio.client.exceptions import ApiException

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller_dev.devcluster.testing import release_status

from helpers.cluster import patch_md
from helpers.state import state_dump

#: Controller flags of the chaos suite: quick retries and short Arklet timeouts, so that hung
#: calls cost one second (three for an install) and a failing reconcile is retried within 1 s.
CHAOS_ARGS = ["--retry-backoff-initial=0.2", "--retry-backoff-max=1.0", "--arklet-timeout=1",
              "--install-timeout=3", "--drift-check-period=10",
              "--url-schemes=http,https,file"]  # the random specs draw file:// urls too


# ----------------------------------------------------------------- the controller under test

class ChaosController(ControllerProcess):
    """A :class:`ControllerProcess` that counts the kills the test did to it."""

    def __init__(self, kubeconfig: Path, log_path: Path, namespaces: list[str] | None = None,
                 extra_args: list[str] | None = None):
        level = os.environ.get("CHAOS_CONTROLLER_LOG_LEVEL")  # e.g. DEBUG, to diagnose a failure
        super().__init__(kubeconfig, log_path, namespaces,
                         CHAOS_ARGS + list(extra_args or [])
                         + ([f"--log-level={level}"] if level else []))
        self.kills = 0
        self.starts = 0

    def start(self) -> "ChaosController":
        super().start()
        self.starts += 1
        return self

    def kill_and_restart(self) -> None:
        """SIGKILL (no cleanup, like a node dying), then start a fresh process."""
        assert self.alive, "the controller died on its own before the test killed it:\n" \
            + self.log_text()[-3000:]
        self.kill()
        self.kills += 1
        self.start()


def observed(md: dict | None) -> bool:
    """The controller has seen the ModuleDeployment's latest spec."""
    return bool(md) and (md.get("status") or {}).get("observedGeneration") == \
        md["metadata"].get("generation")


def completed(md: dict | None) -> bool:
    return observed(md) and release_status(md).get("progress") == "Completed" \
        and not md["spec"].get("pause")


def paused(md: dict | None) -> bool:
    return observed(md) and release_status(md).get("progress") == "Paused" \
        and bool(md["spec"].get("pause"))


# ----------------------------------------------------------------- driving a release

@dataclass
class ReleaseLog:
    """What happened while a release was driven (for the report and the assertions)."""

    confirmations: int = 0
    kills: int = 0
    progresses: list[str] = field(default_factory=list)

    def saw(self, md: dict | None) -> None:
        p = release_status(md).get("progress")
        if p and (not self.progresses or self.progresses[-1] != p):
            self.progresses.append(p)


async def drive_release(api, namespace: str, name: str, *, timeout: float,
                        on_paused: Callable[[dict], Awaitable[None]] | None = None,
                        log: ReleaseLog | None = None) -> dict:
    """Confirm every Paused group (after ``on_paused``) until the release is Completed.

    Polls with a deadline; fails with the last state seen.
    """
    log = log or ReleaseLog()
    deadline = time.monotonic() + timeout
    md: dict | None = None
    while True:
        try:
            md = await kt.get_deployment(api, namespace, name)
        except (ApiException, OSError, asyncio.TimeoutError):
            pass  # the API server may be restarting (scenario d): poll again
        else:
            log.saw(md)
            if completed(md):
                return md
            if paused(md):
                if on_paused is not None:
                    await on_paused(md)
                await confirm(api, namespace, name)
                log.confirmations += 1
        if time.monotonic() >= deadline:
            raise kt.WaitTimeout(
                f"release of {namespace}/{name} not Completed after {timeout:.0f}s; progress "
                f"seen {log.progresses}; last status {json.dumps((md or {}).get('status'))}; "
                f"spec.pause={(md or {}).get('spec', {}).get('pause')}\n"
                + await state_dump(api, namespace))
        await asyncio.sleep(0.1)


async def confirm(api, namespace: str, name: str) -> None:
    """``pause: false``, the user's confirmation of the next group (retried while the API
    server is unreachable)."""
    await kt.wait_for(lambda: patch_md(api, namespace, name, {"spec": {"pause": False}}),
                      lambda _: True, timeout=30, what=f"confirming {name}")


# ----------------------------------------------------------------- Arklet faults

class ArkletChaos:
    """Faults on every base of a namespace: HTTP 500, hangs and refused connections.

    Rates are per Arklet request: ``hang`` via the exact-command rules (asked first), ``http500``
    via the ``"*"`` rule, so that P(hang) = hang and P(500) = (1 - hang) * r = http500.
    Refused connections are windows in time: every ``tick`` each base that is not refusing starts
    refusing with a probability chosen so that about ``refused`` of the time is refused, for a
    random 0.2–1.0 s window. Which bases refuse when is drawn from the test's seeded ``rng``.
    """

    COMMANDS = ("installBiz", "uninstallBiz", "switchBiz", "queryAllBiz", "health")

    def __init__(self, arklets, hosts: list[str], rng: random.Random, *, http500: float = 0.2,
                 hang: float = 0.1, refused: float = 0.1, tick: float = 0.25):
        self.arklets = arklets
        self.hosts = list(hosts)
        self.rng = rng
        self.http500, self.hang, self.refused, self.tick = http500, hang, refused, tick
        self.refusals = 0
        self._task: asyncio.Task | None = None
        self._refusing: dict[str, float] = {}

    async def start(self) -> None:
        rest = self.http500 / (1.0 - self.hang)
        for host in self.hosts:
            for command in self.COMMANDS:
                # The first listing each base is asked for hangs and the first call it answers
                # fails with 500 (fail_count), then the rates take over: a short run makes few
                # calls (a release lists each base a handful of times), and rates alone left
                # one with no hang at all now and then.
                first = 1 if self.hang and command == "queryAllBiz" else None
                await self.arklets.set_fault(host, command, fail_rate=self.hang, fail_code="hang",
                                             fail_count=first)
            await self.arklets.set_fault(host, "*", fail_rate=rest, fail_code="http500",
                                         fail_count=1 if self.http500 else None)
        self._task = asyncio.create_task(self._refuse_loop())

    async def _refuse_loop(self) -> None:
        mean_window = 0.6
        # Fraction refused ≈ p * mean_window / (tick + p * mean_window) = refused.
        p = min(1.0, self.refused * self.tick / (mean_window * (1 - self.refused)))
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for host in self.hosts:
                until = self._refusing.get(host)
                if until is not None and now >= until:
                    await self._set_refuse(host, False)
                    del self._refusing[host]
                elif until is None and self.rng.random() < p:
                    await self._set_refuse(host, True)
                    self._refusing[host] = now + self.rng.uniform(0.2, 1.0)
                    self.refusals += 1
            await asyncio.sleep(self.tick)  # the fault schedule's clock, not a synchronisation

    async def _set_refuse(self, host: str, on: bool) -> None:
        try:
            await self.arklets.refuse(host, on)
        except Exception:  # the base may have gone (pod deleted): nothing to refuse any more
            pass

    async def stop(self) -> None:
        """Stop injecting: no rule, no refusal left on any base."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for host in self.hosts:
            await self._set_refuse(host, False)
            try:
                await self.arklets.clear_faults(host)
            except Exception:
                pass
        self._refusing.clear()


# ----------------------------------------------------------------- a synchronous API client

class RawApi:
    """A minimal synchronous client of the dev cluster's API server (admin certificate), for
    code that cannot await, such as a hypothesis test body. Every call has a timeout."""

    def __init__(self, state, timeout: float = 15.0):
        import ssl

        pki = state.path / "pki"
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.server = state.server
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

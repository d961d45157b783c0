"""Periodic drift check (behaviour §7): what Arklet runs versus what the Module objects say.

* A biz missing for an Available Module (the base restarted, someone uninstalled it by hand):
  a Warning Event, and the Module is reconciled again, which reinstalls it.
* A biz with no Module (installed outside the controller): a Warning Event once per base and
  biz; uninstalled only if the operator enabled that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from ..api import ModulePhase
from ..arklet import ArkletUnavailable
from ..kube.events import WARNING
from .context import Context, deleting, pod_ip, pod_ready
from .store import Key, key_of

log = logging.getLogger(__name__)


class DriftChecker:
    def __init__(self, ctx: Context, period: float, remove_orphans: bool,
                 reconcile_module: Callable[[Key], None]):
        self.ctx = ctx
        self.period = period
        self.remove_orphans = remove_orphans
        self.reconcile_module = reconcile_module
        self._reported: set[tuple[str, str, str, str]] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.check_once()
            except Exception:  # one bad round must not end the checks
                log.exception("drift check failed; next round in %.0fs", self.period)

    async def check_once(self) -> None:
        pods = [p for p in self.ctx.pods.list()
                if pod_ready(p) and not deleting(p)
                and self.ctx.modules_on_pod(p["metadata"]["namespace"], p["metadata"]["name"],
                                            include_deleting=True)]
        await asyncio.gather(*(self._check_pod(p) for p in pods))

    async def _check_pod(self, pod: dict) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        ip = pod_ip(pod)
        try:
            bizzes = await self.ctx.arklet.query_all(ip, port=self.ctx.port_of(pod))
        except ArkletUnavailable:
            return  # the Module reconciler reports unreachable bases
        running = {(b.name, b.version) for b in bizzes}
        modules = self.ctx.modules_on_pod(namespace, name, include_deleting=True)
        known_names = {m["spec"]["module"]["name"] for m in modules}
        for module in modules:
            info = module["spec"]["module"]
            if deleting(module) or (module.get("status") or {}).get("status") != ModulePhase.AVAILABLE:
                continue
            if (info["name"], info["version"]) not in running:
                self.ctx.events.record(module, WARNING, "BizMissing",
                                       f"{info['name']}:{info['version']} is not on {name} any more; "
                                       "reinstalling")
                self.reconcile_module(key_of(module))
        for biz in bizzes:
            if biz.name in known_names:
                continue
            marker = (namespace, name, biz.name, biz.version)
            if marker not in self._reported:
                self._reported.add(marker)
                action = "uninstalling it" if self.remove_orphans else "left as it is"
                self.ctx.events.record(pod, WARNING, "UnmanagedBiz",
                                       f"{biz.name}:{biz.version} runs on {name} without a Module; "
                                       f"{action}")
            if self.remove_orphans:
                await self.ctx.arklet.uninstall(ip, biz.name, biz.version, port=self.ctx.port_of(pod))

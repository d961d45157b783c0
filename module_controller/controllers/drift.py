"""Periodic drift check (behaviour §7): what Arklet runs versus what the Module objects say.

* A biz missing for an Available Module (the base restarted, someone uninstalled it by hand):
  a Warning Event, and the Module is reconciled again, which reinstalls it.
* A biz with no Module (installed outside the controller): a Warning Event once per base and
  biz; uninstalled only if the operator enabled that.

A base that does not answer, or answers a query with a failure, is skipped for this round with
one log line (the Module reconciler reports unreachable bases); it never ends the round.

A base that a Module reconcile listed within the last period is not asked again: its turn
reads that listing (listings.py), once. A Module is judged only by a listing asked for after it
became Available (``planning.drift.judged``), and only if its status is about its current spec.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Callable

from ..api import objects
from ..arklet import ArkletError, ArkletUnavailable
from ..arklet.protocol import normalise_host
from ..kube.events import WARNING
from ..observability.decisions import decided
from ..planning import drift
from ..planning.module_lifecycle import serving
from ..planning.base_pod_rules import pod_ip, pod_ready
from .caches import deleting
from .context import Context
from .listings import Listings
from ..runtime.memo import Memo
from ..runtime.store import Key, Obj, key_of

log = logging.getLogger(__name__)


class DriftChecker:
    """Every base that hosts Modules is asked once per ``period``, each in a slot of its own
    (``planning.drift.spread``), with at most a small share of the Arklet client's concurrency
    in flight (``planning.drift.share``): a steady trickle, never a burst that holds up a
    release's installs. One base's failure is logged and does not end the round."""

    def __init__(self, ctx: Context, listings: Listings, period: float, remove_orphans: bool,
                 reconcile_module: Callable[[Key], None], rng: random.Random | None = None):
        """``listings``: the ones the Module reconciles fill (the Arklet client reports each
        command that changes a base to them, see listings.py)."""
        self.ctx = ctx
        self.period = period
        self.remove_orphans = remove_orphans
        self.reconcile_module = reconcile_module
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(drift.share(ctx.arklet.settings.concurrency))
        self._reported = Memo()  # (namespace, pod, biz, version) already reported
        self.listings = listings

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._round(started)
            except Exception:  # a bug in one round must not end the checks
                log.exception("drift check round failed; next round in %.0fs", self.period)
            await asyncio.sleep(max(0.0, started + self.period - loop.time()))

    async def _round(self, started: float) -> None:
        loop = asyncio.get_running_loop()
        hosting = self._hosting()
        self.listings.keep_only({p["metadata"]["uid"] for p in hosting},
                                {normalise_host(ip) for p in hosting if (ip := pod_ip(p))})
        keys = [key_of(p) for p in hosting]
        checks: list[asyncio.Task[None]] = []
        try:
            for offset, key in zip(drift.spread(len(keys), self.period, self._rng), keys):
                await asyncio.sleep(max(0.0, started + offset - loop.time()))
                await self._slots.acquire()
                checks.append(asyncio.create_task(self._check_key(key), name=f"drift-{key[1]}"))
            await asyncio.gather(*checks)
        finally:
            for check in checks:
                check.cancel()

    def _hosting(self) -> list[Obj]:
        return [p for p in self.ctx.caches.pods.list() if self._usable(p)
                and self.ctx.caches.modules_on_pod(p["metadata"]["namespace"], p["metadata"]["name"],
                                            include_deleting=True)]

    @staticmethod
    def _usable(pod: Obj | None) -> bool:
        return pod is not None and pod_ready(pod) and not deleting(pod)

    async def _check_key(self, key: Key) -> None:
        try:
            pod = self.ctx.caches.pods.get(*key)  # as it is now, not as it was at the round's start
            if self._usable(pod):
                assert pod is not None
                await self._check_pod(pod)
        except Exception:  # noqa: BLE001 - one base must not end the round for the others
            log.exception("drift check of base %s/%s failed", *key)
        finally:
            self._slots.release()

    async def _check_pod(self, pod: Obj) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        ip = pod_ip(pod)
        if ip is None:
            return  # not usable (any more): no address to ask
        listing = self.listings.take(pod["metadata"]["uid"])
        if listing is not None and drift.reusable(listing.asked_at, time.time(), self.period):
            asked_at, bizzes = listing.asked_at, list(listing.bizzes)
        else:
            asked_at = time.time()
            try:
                bizzes = await self.ctx.arklet.query_all(ip, port=self.ctx.port_of(pod))
            except (ArkletUnavailable, ArkletError) as exc:
                # Expected of a base now and then: one line, no traceback; the Module
                # reconciler reports unreachable bases on the Modules themselves.
                decided("DriftCheck", (namespace, name), "skip base", str(exc), changed=False)
                return
            self.listings.looked(pod["metadata"]["uid"], asked_at)
        running = {(b.name, b.version) for b in bizzes}
        modules = self.ctx.caches.modules_on_pod(namespace, name, include_deleting=True)
        known_names = {m["spec"]["module"]["name"] for m in modules}
        for module in modules:
            info = module["spec"]["module"]
            if deleting(module) or not serving(module) \
                    or not drift.judged(_available_since(module), asked_at):
                continue
            if (info["name"], info["version"]) not in running:
                decided("DriftCheck", key_of(module), "reinstall", "biz missing on the base",
                        biz=f"{info['name']}:{info['version']}", base=name)
                self.ctx.events.record(module, WARNING, "BizMissing",
                                       f"{info['name']}:{info['version']} is not on {name} any more; "
                                       "reinstalling")
                self.reconcile_module(key_of(module))
        for biz in bizzes:
            if biz.name in known_names:
                continue
            if self._reported.record((namespace, name, biz.name, biz.version)):
                action = "uninstalling it" if self.remove_orphans else "left as it is"
                self.ctx.events.record(pod, WARNING, "UnmanagedBiz",
                                       f"{biz.name}:{biz.version} runs on {name} without a Module; "
                                       f"{action}")
            if self.remove_orphans:
                decided("DriftCheck", (namespace, name), "uninstall unmanaged biz",
                        "no Module stands for it", biz=f"{biz.name}:{biz.version}")
                try:
                    await self.ctx.arklet.uninstall(ip, biz.name, biz.version,
                                                    port=self.ctx.port_of(pod))
                except ArkletUnavailable as exc:
                    decided("DriftCheck", (namespace, name), "skip base", str(exc),
                            changed=False)
                    return


def _available_since(module: Obj) -> float | None:
    """When the Module's status last changed phase (epoch seconds; None: not written)."""
    try:
        since = objects.phase_since(module)
    except ValueError:
        return None
    return since.timestamp() if since is not None else None

"""The Module reconciler's Arklet calls, and how one that fails ends the reconcile.

Each call is made once per reconcile step and its answer classified for
:func:`planning.arklet_answers.react`; a call that got no answer is not made again here (the
client retried only what never reached the base): the reconcile ends through :meth:`fail`, as
a :class:`ReportedFailure` the work queue retries with its backoff (docs/arklet.md, "How long
one call can take").
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from ..api import ModulePhase
from ..arklet import (ArkletBusy, ArkletError, ArkletResult, ArkletUnavailable, BizRef,
                      installed_identity)
from ..arklet.protocol import normalise_host
from ..observability.decisions import decided
from ..planning.arklet_answers import Answer, Call, answer_of
from ..planning.module_lifecycle import PodView
from ..runtime.queue import ReportedFailure
from ..runtime.store import Key
from ..planning.base_pod_rules import pod_ip, pod_ready
from .caches import deleting
from .context import Context
from .module_writes import KEEP, Installs, ModuleWrites
from .preempt import Deleted


class ArkletRefused(ReportedFailure):
    """Arklet refused a command or did not answer; reported, retried with backoff by the queue."""


def decide(key: Key, decision: str, reason: str = "", *, changed: bool = True,
           **facts: Any) -> None:
    """One decision of the Module reconciler (observability/decisions.py)."""
    decided("Module", key, decision, reason, changed=changed, **facts)


def module_of(m: dict[str, Any]) -> dict[str, Any]:
    """``spec.module`` of a raw Module (name, version, url)."""
    return (m.get("spec") or {}).get("module") or {}


def pod_view(pod: dict[str, Any] | None, bound_ip: str | None) -> PodView:
    """What the planner needs of the Module's base pod."""
    if pod is None:
        return PodView(exists=False)
    ip = pod_ip(pod)
    if bound_ip and ip and ip != bound_ip:
        # Same name, different pod (e.g. a StatefulSet replaced it): the old base is gone.
        return PodView(exists=False)
    return PodView(exists=True, ready=pod_ready(pod), ip=ip, deleting=deleting(pod))


def siblings(ctx: Context, key: Key, module_name: str, pod_name: str | None) -> list[dict[str, Any]]:
    """Other live Modules of the same module name on the same pod (an in-place upgrade
    across revisions puts the new revision's Module beside the old one for a while)."""
    if not pod_name:
        return []
    return [m for m in ctx.caches.modules_on_pod(key[0], pod_name)
            if m["metadata"]["name"] != key[1] and module_of(m).get("name") == module_name]


class ModuleCalls:
    def __init__(self, ctx: Context, writes: ModuleWrites, failures: Callable[[Key], int]):
        self.ctx = ctx
        self.writes = writes
        self._failures = failures  # consecutive failed reconciles of a key (from the queue)

    def attempt(self, key: Key, message: str) -> str:
        return f"{message} (attempt {self._failures(key) + 1})"

    async def fail(self, key: Key, reason: str, message: str, *, retry: bool = True,
                   installed: str | None | object = KEEP, raised: str | None = None,
                   counted: Installs | None = None) -> None:
        """Failed with ``reason``: status and Warning Event, one decision line; with ``retry``
        the reconcile ends as a reported failure (``raised`` or the message) that the work
        queue retries with backoff, logging it once without a traceback."""
        changed = await self.writes.set_status(key, ModulePhase.FAILED, reason, message,
                                               installed, counted)
        # Logged at every attempt, written (status, Event) only when more than the attempt
        # number changed (module_writes.set_status).
        decide(key, "failed", reason, retry=retry, written=changed, message=message)
        if retry:
            raise ArkletRefused(raised or message)

    async def query(self, key: Key, ip: str, port: int, name: str, pod_uid: str
                    ) -> tuple[Answer, str, dict[str, str]]:
        """queryAllBiz, classified: DONE with this module's versions on the base, by state, or
        the failure and its text (the machine decides what it means). The whole listing is
        kept for the drift check (listings.py)."""
        asked_at = time.time()
        try:
            bizzes = await self.ctx.arklet.query_all(ip, port=port)
        except ArkletBusy:
            raise  # not sent: the reconciler looks again later (ModuleReconciler.reconcile)
        except ArkletUnavailable as exc:
            return Answer.UNAVAILABLE, self.attempt(
                key, f"Arklet at {ip}:{port} does not answer: {exc.last_error}"), {}
        except ArkletError as exc:
            return Answer.REFUSED, self.attempt(key, str(exc)), {}
        if self.ctx.listings is not None:
            self.ctx.listings.record(pod_uid, normalise_host(ip), asked_at, bizzes)
        return Answer.DONE, "", {b.version: b.state for b in bizzes if b.name == name}

    async def send(self, key: Key, call: Call, biz: BizRef, ip: str, port: int, wanted: BizRef,
                   counted: Installs | None = None
                   ) -> tuple[Answer | None, str, ArkletResult | None]:
        """Make ``call`` for ``biz`` and classify its answer against the ``wanted`` biz, with
        its text for a status. The one path of installBiz, switchBiz and uninstallBiz. The
        install and the switch race the Module's deletion (preempt.py): (None, "", None) when
        the deletion cancelled the call or came before it."""
        arklet = self.ctx.arklet
        send: Callable[[], Awaitable[ArkletResult]]
        if call is Call.INSTALL:
            send = lambda: arklet.install(ip, biz, port=port)  # noqa: E731
        elif call is Call.SWITCH:
            send = lambda: arklet.switch(ip, biz.name, biz.version, port=port)  # noqa: E731
        else:
            send = lambda: arklet.uninstall(ip, biz.name, biz.version, port=port)  # noqa: E731
        try:
            if call is Call.INSTALL:
                async with self.writes.show_if_slow(key, ModulePhase.UPGRADING, "Installing",
                                                    f"installing {biz.name}:{biz.version}", counted):
                    result = await self.unless_deleted(key, send)
            elif call is Call.SWITCH:
                result = await self.unless_deleted(key, send)
            else:
                result = await send()
        except Deleted:
            return None, "", None
        except ArkletBusy:
            raise
        except ArkletUnavailable as exc:
            return Answer.UNAVAILABLE, self.attempt(
                key, f"Arklet at {ip}:{port} does not answer: {exc.last_error}"), None
        answer = answer_of(result.outcome.name, result.ok, (wanted.name, wanted.version),
                           installed_identity(result))
        return answer, self.attempt(
            key, f"{result.command}: {result.outcome.name}: {result.message}"), result

    async def unless_deleted(self, key: Key, call: Callable[[], Awaitable[ArkletResult]]
                             ) -> ArkletResult:
        """An Arklet call for the Module that its deletion pre-empts: not made if the Module
        is already being deleted, cancelled when the deletion arrives (see preempt.py)."""
        def gone_or_deleting() -> bool:
            obj = self.ctx.caches.modules.get(*key)
            return obj is None or deleting(obj)

        return await self.ctx.caches.deletions.unless_deleted(key, call, gone_or_deleting)

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

from ..api import Module, ModulePhase
from ..arklet import (ArkletBusy, ArkletError, ArkletResult, ArkletUnavailable, BizRef,
                      installed_identity)
from ..arklet.protocol import normalise_host
from ..observability.decisions import decided
from ..planning.arklet_answers import Answer, Call, answer_of, react
from ..planning.module_lifecycle import Kind, PodView
from ..runtime.queue import ReportedFailure
from ..runtime.store import Key
from .context import Context, deleting, pod_ip, pod_ready
from .module_writes import KEEP, ModuleWrites
from .preempt import Deleted


class ArkletRefused(ReportedFailure):
    """Arklet refused a command or did not answer; reported, retried with backoff by the queue."""


def decide(key: Key, decision: str, reason: str = "", *, changed: bool = True,
           **facts: Any) -> None:
    """One decision of the Module reconciler (observability/decisions.py)."""
    decided("Module", key, decision, reason, changed=changed, **facts)


def module_of(m: dict) -> dict[str, Any]:
    """``spec.module`` of a raw Module (name, version, url)."""
    return (m.get("spec") or {}).get("module") or {}


def pod_view(pod: dict | None, bound_ip: str | None) -> PodView:
    """What the planner needs of the Module's base pod."""
    if pod is None:
        return PodView(exists=False)
    ip = pod_ip(pod)
    if bound_ip and ip and ip != bound_ip:
        # Same name, different pod (e.g. a StatefulSet replaced it): the old base is gone.
        return PodView(exists=False)
    return PodView(exists=True, ready=pod_ready(pod), ip=ip, deleting=deleting(pod))


def siblings(ctx: Context, key: Key, module_name: str, pod_name: str | None) -> list[dict]:
    """Other live Modules of the same module name on the same pod (an in-place upgrade
    across revisions puts the new revision's Module beside the old one for a while)."""
    if not pod_name:
        return []
    return [m for m in ctx.modules_on_pod(key[0], pod_name)
            if m["metadata"]["name"] != key[1] and module_of(m).get("name") == module_name]


class ModuleCalls:
    def __init__(self, ctx: Context, writes: ModuleWrites, failures: Callable[[Key], int]):
        self.ctx = ctx
        self.writes = writes
        self._failures = failures  # consecutive failed reconciles of a key (from the queue)

    def attempt(self, key: Key, message: str) -> str:
        return f"{message} (attempt {self._failures(key) + 1})"

    async def fail(self, key: Key, reason: str, message: str, *, retry: bool = True,
                   installed: str | None | object = KEEP, raised: str | None = None) -> None:
        """Failed with ``reason``: status and Warning Event, one decision line; with ``retry``
        the reconcile ends as a reported failure (``raised`` or the message) that the work
        queue retries with backoff, logging it once without a traceback."""
        changed = await self.writes.set_status(key, ModulePhase.FAILED, reason, message,
                                               installed)
        # Logged at every attempt, written (status, Event) only when more than the attempt
        # number changed (module_writes.set_status).
        decide(key, "failed", reason, retry=retry, written=changed, message=message)
        if retry:
            raise ArkletRefused(raised or message)

    async def query(self, key: Key, call: Call, ip: str, port: int, name: str, pod_uid: str
                    ) -> dict[str, str]:
        """This module's versions on the base, by state. A failure is raised as
        :class:`ArkletRefused`, on the install path after writing Failed with the reason. The
        whole listing is kept for the drift check (listings.py)."""
        asked_at = time.time()
        try:
            bizzes = await self.ctx.arklet.query_all(ip, port=port)
        except ArkletBusy:
            raise  # not sent: the reconciler looks again later (ModuleReconciler.reconcile)
        except (ArkletUnavailable, ArkletError) as exc:
            if isinstance(exc, ArkletUnavailable):
                answer = Answer.UNAVAILABLE
                text = f"Arklet at {ip}:{port} does not answer: {exc.last_error}"
            else:
                answer, text = Answer.REFUSED, str(exc)
            text = self.attempt(key, text)
            if call is Call.QUERY:
                await self.fail(key, react(call, answer).reason or "ArkletUnavailable", text)
            raise ArkletRefused(text) from None
        if self.ctx.listings is not None:
            self.ctx.listings.record(pod_uid, normalise_host(ip), asked_at, bizzes)
        return {b.version: b.state for b in bizzes if b.name == name}

    async def send(self, key: Key, kind: Kind, version: str, ip: str, port: int,
                   module: Module) -> tuple[Answer | None, str, ArkletResult | None]:
        """Make the call of ``kind`` for ``version`` and classify its answer, with its text for
        a status. The install and the switch race the Module's deletion (preempt.py):
        (None, "", None) when the deletion cancelled the call or came before it."""
        info = module.spec.module
        arklet = self.ctx.arklet
        send: Callable[[], Awaitable[ArkletResult]]
        if kind is Kind.INSTALL:
            biz = BizRef(info.name, version, info.url)
            send = lambda: arklet.install(ip, biz, port=port)  # noqa: E731
        elif kind is Kind.SWITCH:
            send = lambda: arklet.switch(ip, info.name, version, port=port)  # noqa: E731
        else:
            send = lambda: arklet.uninstall(ip, info.name, version, port=port)  # noqa: E731
        try:
            if kind is Kind.INSTALL:
                async with self.writes.show_if_slow(key, ModulePhase.UPGRADING, "Installing",
                                                    f"installing {info.name}:{version}"):
                    result = await self.unless_deleted(key, send)
            elif kind is Kind.SWITCH:
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
        answer = answer_of(result.outcome.name, result.ok, (info.name, info.version),
                           installed_identity(result))
        return answer, self.attempt(
            key, f"{result.command}: {result.outcome.name}: {result.message}"), result

    async def unless_deleted(self, key: Key, call: Callable[[], Awaitable[ArkletResult]]
                             ) -> ArkletResult:
        """An Arklet call for the Module that its deletion pre-empts: not made if the Module
        is already being deleted, cancelled when the deletion arrives (see preempt.py)."""
        def gone_or_deleting() -> bool:
            obj = self.ctx.modules.get(*key)
            return obj is None or deleting(obj)

        return await self.ctx.deletions.unless_deleted(key, call, gone_or_deleting)

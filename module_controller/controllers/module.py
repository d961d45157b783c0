"""The Module reconciler: one module instance on one base pod (behaviour §4).

Observe, plan, execute. Each turn builds an :class:`~planning.module_machine.Observation` (the
Module and its pod from the cache, the siblings of its module name on the pod, Arklet's listing
and the answer to the last call, kept in this reconcile's :class:`Run`), asks
:func:`planning.module_machine.plan` for the one action, and executes it; an action that leads
on is followed by the next turn, any other ends the reconcile. Every decision is the machine's
(its table, planning/module_table.py, is rendered in docs/arklet.md); this file only gathers
facts and makes the calls and writes. Each decision is logged once
(observability/decisions.py); an expected failure ends the reconcile as a
:class:`ReportedFailure` (status + Event written, no traceback) that the work queue retries with
its backoff, so a call that got no answer is not made again inside the reconcile
(docs/arklet.md, "How long one call can take").

API writes are kept few on purpose (the budget is ≤ 4 per Module from creation to Available):
binding is one metadata patch (finalizer + labels + owner reference), the pod's labels are one
patch, and status is written only when phase/reason/message change. The intermediate phases
(Upgrading, Completing) are written only when an install is slow enough for anyone to see them.
"""

from __future__ import annotations

from typing import Any

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from pydantic import ValidationError

from ..api import Module, ModulePhase, ModuleReplicaSet, objects
from ..api import constants as c
from ..api.errors import describe
from ..api.parsed import parsed
from ..arklet import ArkletBusy, ArkletUnavailable, BizRef, installed_identity
from ..planning import placement
from ..planning.arklet_answers import Answer, Call
from ..planning.module_lifecycle import (gave_up, installs_so_far, last_install, min_ready,
                                         restarted_since, supersedes)
from ..planning.module_machine import Action, Observation, plan
from ..planning.module_table import Do, Reason
from ..planning.replicaset import follows_template
from ..kube.events import WARNING
from ..runtime.memo import Memo
from ..runtime.queue import Result
from ..runtime.store import Key
from ..planning.base_pod_rules import skip_uninstall
from .caches import deleting, labels_of
from .context import Context
from .module_calls import ArkletRefused, ModuleCalls, decide, module_of, pod_view, siblings
from .module_removal import ModuleRemoval
from .module_writes import Installs, ModuleWrites

__all__ = ["ArkletRefused", "ModuleReconciler"]

#: Turns of one reconcile: bind, list, replace, install, verify, switch, verify, uninstall,
#: verify, Available ... or a removal of a few versions; more means the machine loops.
MAX_STEPS = 32
#: The decision each Arklet change is logged as.
_KIND = {Do.INSTALL: "install", Do.SWITCH: "switch", Do.UNINSTALL: "uninstall"}


def _active(bizzes: dict[str, str] | None) -> str | None:
    """The version observed ACTIVATED among this module's bizzes on the base."""
    return next((v for v, state in (bizzes or {}).items() if state == "ACTIVATED"), None)


def _precise(when: dt.datetime) -> str:
    """status.lastInstallTime to the millisecond: a base may restart within the second of an
    install, and whole seconds would hide that it started after it (``restarted_since``)."""
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


@dataclass
class Run:
    """What one reconcile of one Module has learnt so far (nothing of it outlives the
    reconcile: what must, goes into the Module's status)."""

    key: Key
    counted: Installs                         # (generation, installs, lastInstallTime)
    problem: str | None = None                # why the spec does not parse
    deleting: bool = False                    # the stage the facts below were gathered in
    pod: dict[str, Any] | None = None                   # read from the API server in this reconcile
    pod_read: bool = False
    listing: dict[str, str] | None = None
    answer: tuple[Call, Answer] | None = None
    text: str = ""                            # the last answer, for a status message
    called: BizRef | None = None              # what the last call named
    stray: tuple[str, str] | None = None
    installed_once: bool = False
    restarted: bool | None = None
    removal_begun: bool = False
    bind_failed: bool = False
    # What the last observation was made of, for the executors:
    seen_pod: dict[str, Any] | None = None     # the base pod (cache, or the API server's)
    newer: str | None = None                   # the Module that supersedes it
    owners: list[str] = field(default_factory=list)  # Modules that stand for the stray biz


def _pod(run: Run) -> dict[str, Any]:
    """The base pod an action on the base was planned with (the machine plans none without)."""
    assert run.seen_pod is not None
    return run.seen_pod


class ModuleReconciler:
    def __init__(self, ctx: Context, failures: Callable[[Key], int] = lambda key: 0):
        self.ctx = ctx
        self.writes = ModuleWrites(ctx)
        self.calls = ModuleCalls(ctx, self.writes, failures)
        self.removal = ModuleRemoval(ctx, self.writes)
        self._posing = Memo()  # uids of Modules told that they are no release's instance
        self._do: dict[Do, Callable[[Run, Action, dict[str, Any], Module | None],
                                    Awaitable[Result | None]]] = {
            Do.NOTHING: self._nothing, Do.FAIL: self._fail, Do.BIND: self._bind,
            Do.WAIT: self._wait, Do.READ_POD: self._read_pod,
            Do.DELETE_MODULE: self._delete_module, Do.QUERY: self._query,
            Do.CHECK_RESTART: self._check_restart, Do.SUPERSEDED: self._superseded,
            Do.COMPLETING: self._completing, Do.AVAILABLE: self._available,
            Do.MARK_REPLACED: self._mark_replaced, Do.LEAVE_AVAILABLE: self._leave_available,
            Do.INSTALL: self._call, Do.SWITCH: self._call, Do.UNINSTALL: self._call,
            Do.LOOK_AGAIN: self._look_again, Do.RETRY: self._retry,
            Do.BEGIN_REMOVAL: self._begin_removal, Do.NEXT_VERSION: self._next_version,
            Do.DROP_FINALIZER: self._drop_finalizer,
        }

    async def reconcile(self, key: Key) -> Result | None:
        obj = self.ctx.caches.modules.get(*key)
        if obj is None:
            return None
        generation = obj["metadata"].get("generation")
        when = last_install(obj.get("status"), generation)
        run = Run(key, (generation, installs_so_far(obj.get("status"), generation),
                        _precise(when) if when else None))
        try:
            return await self._turns(run)
        except ArkletBusy as exc:
            # Nothing was sent: the base has as many calls in flight and waiting as it is given.
            # Not a failure of this Module (no status, no Event): it looks again once the base
            # may have served some, at a jittered time so the waiting Modules do not return in
            # step.
            after = self.ctx.arklet.settings.slot_wait * random.uniform(0.5, 1.0)
            decide(key, "wait", "base busy", changed=False, after=round(after, 2),
                   detail=exc.last_error)
            return Result(requeue_after=after)

    async def _turns(self, run: Run) -> Result | None:
        warned = False
        for _ in range(MAX_STEPS):
            obj = self.ctx.caches.modules.get(*run.key)
            if obj is None:
                return None
            if not warned and not deleting(obj):
                self._warn_if_posing(obj)
                warned = True
            module = self._parse(run, obj)
            obs = self._observe(run, obj, module)
            action = plan(obs)
            result = await self._do[action.do](run, action, obj, module)
            if not action.leads_on:
                return result
        raise RuntimeError(f"module {run.key} made no progress after {MAX_STEPS} steps")

    def _parse(self, run: Run, obj: dict[str, Any]) -> Module | None:
        try:
            module = parsed(Module, obj)
        except ValidationError as exc:
            run.problem = describe(exc)
            return None
        run.problem = None
        return module

    # ----------------------------------------------------------------- observe

    def _observe(self, run: Run, obj: dict[str, Any], module: Module | None) -> Observation:
        going = deleting(obj)
        if going != run.deleting:
            # Deleted meanwhile (an install abandoned, say): what the live turns learnt of the
            # base is no base for the removal's decisions.
            run.deleting, run.listing, run.answer, run.stray = going, None, None, None
        finalizer = c.FINALIZER_ALLOCATE_POD in (obj["metadata"].get("finalizers") or [])
        if module is None:
            return Observation(wanted="", deleting=going, finalizer=finalizer,
                               invalid_spec=True)
        info = module.spec.module
        pod_name = module.base_pod_name or ""
        pod = run.pod if run.pod_read else self.ctx.caches.pods.get(run.key[0], pod_name)
        status = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        others = siblings(self.ctx, run.key, info.name, module.base_pod_name)
        me = self.ctx.caches.replacement_rank(obj)
        newer = [m for m in others if supersedes(self.ctx.caches.replacement_rank(m), me)]
        replacing = tuple((m["metadata"]["name"], module_of(m).get("version") or "")
                          for m in others
                          if objects.phase(m) == ModulePhase.AVAILABLE
                          and supersedes(me, self.ctx.caches.replacement_rank(m)))
        selector = module.spec.selector.model_dump(by_alias=True, exclude_none=True)
        owners = [m["metadata"]["name"] for m in others
                  if run.stray == (module_of(m).get("name"), module_of(m).get("version"))]
        run.seen_pod, run.owners = pod, owners
        run.newer = newer[0]["metadata"]["name"] if newer else None
        scheme = info.url.split("://", 1)[0]
        return Observation(
            wanted=info.version, policy=module.spec.policy, deleting=going, finalizer=finalizer,
            url_scheme_allowed=scheme in self.ctx.settings.url_schemes,
            bound=finalizer and bool(module.base_pod_name), bind_failed=run.bind_failed,
            owners_template=self._follows_owner(obj),
            pod=pod_view(pod, module.base_pod_ip), pod_read=run.pod_read,
            skip_uninstall=skip_uninstall(pod),
            selector_matches=pod is None or placement.selector_matches(selector, labels_of(pod)),
            installed=status.get("installedVersion"), phase=objects.phase(obj),
            gave_up=gave_up(status, generation), removal_begun=run.removal_begun,
            listing=run.listing,
            claimed=frozenset(v for m in others if (v := module_of(m).get("version"))),
            superseded_by=newer[0]["metadata"]["name"] if newer else None,
            replacing=replacing, installs=run.counted[1], installed_once=run.installed_once,
            restarted=run.restarted, answer=run.answer, stray=run.stray,
            stray_owned=bool(owners),
            min_ready=min_ready(self._min_ready_seconds(obj), objects.phase(obj),
                                objects.phase_since(obj), objects.now()))

    def _warn_if_posing(self, obj: dict[str, Any]) -> None:
        """A Module with a release's labels that no revision owns (made by whoever may create
        Modules): one Warning, and it stays what it is, a Module made by hand: no release
        counts it, no revision adopts, edits or deletes it (docs/security.md)."""
        if not self.ctx.caches.posing_as_instance(obj) or \
                not self._posing.record(obj["metadata"].get("uid") or obj["metadata"]["name"]):
            return
        revision = labels_of(obj).get(c.LABEL_MODULE_REPLICASET)
        self.ctx.events.record(obj, WARNING, "NotAnInstance",
                               f"labelled as an instance of ModuleReplicaSet {revision}, which "
                               "does not own it: not counted in its release, left alone")

    def _follows_owner(self, obj: dict[str, Any]) -> bool:
        """The Module's spec is its controlling ModuleReplicaSet's template (True when it has
        none the cache knows: an orphan is the garbage collector's, not ours to judge)."""
        ref = objects.owner_ref(obj, c.MODULE_REPLICA_SET.kind, controller=True)
        if ref is None:
            return True
        owner = self.ctx.caches.replicasets.get(obj["metadata"]["namespace"], ref.get("name") or "")
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return True
        try:
            mrs = parsed(ModuleReplicaSet, owner)
        except ValidationError:
            return True  # the owner reports its own invalid spec
        return follows_template(
            obj.get("spec") or {},
            mrs.spec.template.spec.module.model_dump(by_alias=True, exclude_none=True),
            mrs.spec.operation_strategy.upgrade_policy)

    def _min_ready_seconds(self, obj: dict[str, Any]) -> int:
        ref = objects.owner_ref(obj, c.MODULE_REPLICA_SET.kind)
        mrs = self.ctx.caches.replicasets.get(obj["metadata"]["namespace"], ref["name"]) if ref else None
        return int((mrs.get("spec") or {}).get("minReadySeconds") or 0) if mrs else 0

    # ----------------------------------------------------------------- execute

    async def _status(self, run: Run, phase: ModulePhase, reason: str, message: str,
                      **kw: object) -> bool:
        return await self.writes.set_status(run.key, phase, reason, message,
                                            counted=run.counted, **kw)

    async def _nothing(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        why = {Reason.OWNERS_TEMPLATE: "spec differs from its ModuleReplicaSet's template; the "
                                       "owner restores it",
               Reason.NO_ELIGIBLE_BASE: "no eligible base",
               Reason.GAVE_UP: f"final for this spec: {(obj.get('status') or {}).get('reason')}"}
        decide(run.key, "nothing" if action.reason is Reason.GAVE_UP else "wait",
               why.get(action.reason, action.reason.value), changed=False)

    async def _fail(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        installed: object = (obj.get("status") or {}).get("installedVersion")
        raised = None
        if action.reason in (Reason.INSTALL_NOT_KEPT, Reason.INSTALL_NOT_VERIFIED):
            installed = _active(run.listing)
        if action.reason is Reason.INSTALL_NOT_VERIFIED and module is not None:
            raised = f"{module.spec.module.name}:{module.spec.module.version} installed but " \
                     "not listed"
        await self.calls.fail(run.key, action.reason.value, self._message(run, action, module),
                              retry=not action.final, installed=installed, raised=raised,
                              counted=run.counted)

    def _message(self, run: Run, action: Action, module: Module | None) -> str:
        """The status message of a failure."""
        if module is None:
            return run.problem or "spec does not parse"
        info, r = module.spec.module, action.reason
        listed = run.listing or "no version"
        if r is Reason.URL_SCHEME_NOT_ALLOWED:
            scheme = info.url.split("://", 1)[0]
            return (f"spec.module.url: scheme {scheme}:// is not allowed by this controller "
                    f"(--url-schemes={','.join(self.ctx.settings.url_schemes)}); nothing is "
                    "installed")
        if r is Reason.SELECTOR_MISMATCH:
            return (f"base pod {module.base_pod_name} does not match spec.selector "
                    f"{module.spec.selector.to_selector_string()}; nothing is installed there")
        if r is Reason.INSTALL_NOT_KEPT:
            return (f"{info.name}:{info.version} was installed {run.counted[1]} times for this "
                    f"spec (generation {run.counted[0]}) and Arklet does not keep it listed "
                    f"ACTIVATED (it lists {listed} of it); nothing more is installed until the "
                    "spec changes")
        if r is Reason.INSTALL_NOT_VERIFIED:
            return self.calls.attempt(run.key, f"Arklet answered the install of {info.name}:"
                                               f"{info.version} as done but lists {listed} of it")
        if r is Reason.VERSION_MISMATCH and run.stray is not None:
            owners = run.owners
            cleanup = f"left there for Module {owners[0]}" if owners else \
                "uninstalled it again" if run.answer == (Call.CLEANUP_UNINSTALL, Answer.DONE) \
                else f"uninstalling it failed: {run.text}"
            name, version = run.stray
            return (f"spec.module says {info.name}:{info.version} but the package at {info.url} "
                    f"is {name}:{version}; {cleanup}. Nothing more is installed until spec.module "
                    "matches the package.")
        if r is Reason.MASTER_BIZ and run.called is not None:
            return (f"{info.name}:{run.called.version} is the base itself; Arklet refuses to "
                    "uninstall it. Give the module another name.")
        return run.text or r.value

    async def _bind(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                    ) -> Result | None:
        assert module is not None
        selector = module.spec.selector.model_dump(by_alias=True, exclude_none=True)
        bound = await self.writes.bind(run.key, module.base_pod_name, selector,
                                       module.spec.module.name)
        run.bind_failed = bound is None
        return None

    async def _wait(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        assert module is not None
        changed = await self._status(run, ModulePhase.PREPARE, action.reason.value,
                                     f"base pod {module.base_pod_name} is not ready")
        decide(run.key, "wait", "base pod not ready", changed=changed,
               base=module.base_pod_name)

    async def _read_pod(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                        ) -> None:
        assert module is not None
        run.pod = await self.removal.read_pod(run.key, module.base_pod_name or "")
        run.pod_read = True

    async def _delete_module(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                             ) -> None:
        await self.removal.base_gone(run.key, obj)

    async def _query(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        assert module is not None and action.call is not None
        pod = _pod(run)
        if action.counts_install:
            generation, installs, _ = run.counted
            run.counted = (generation, installs + 1, _precise(objects.now()))
        ip = pod_view(pod, module.base_pod_ip).ip or ""
        answer, run.text, listing = await self.calls.query(
            run.key, ip, self.ctx.port_of(pod), module.spec.module.name, pod["metadata"]["uid"])
        # Verified with queryAllBiz, whatever a call's reply carried: the listing is what the
        # base runs, the reply only what Arklet says it did.
        run.answer = None if answer is Answer.DONE else (action.call, answer)
        run.listing = listing if answer is Answer.DONE else None

    async def _check_restart(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                             ) -> None:
        """The bound of installs is used up: did the base restart since the last install
        (health's JVM uptime, ``restarted_since``)? Then the reinstalls were legitimate, the
        count starts again for this base incarnation. A base that does not answer health is
        not judged: the reconcile ends retried, not Failed for good."""
        assert module is not None
        pod = _pod(run)
        ip, port = pod_view(pod, module.base_pod_ip).ip or "", self.ctx.port_of(pod)
        generation, installs, last = run.counted
        asked_at = objects.now()
        try:
            health = await self.ctx.arklet.health(ip, port=port)
        except ArkletUnavailable as exc:
            await self.calls.fail(run.key, "ArkletUnavailable", self.calls.attempt(
                run.key, f"Arklet at {ip}:{port} does not answer health: {exc.last_error}"),
                counted=run.counted)
            return
        run.restarted = restarted_since(health.run_time, asked_at, objects.parse_time(last)
                                        if last else None)
        if run.restarted:
            run.counted = (generation, 0, last)
            decide(run.key, "install count reset", "the base restarted after the last install",
                   installs=installs, uptime=health.run_time, last_install=last)

    async def _superseded(self, run: Run, action: Action, obj: dict[str, Any],
                          module: Module | None) -> Result:
        """A newer revision's Module replaces this one in place on the same pod: leave Arklet
        to it (no reinstall, no switch back) and wait to be scaled down. While it still reads
        Available for a version that runs, nothing is written: a write here could land after
        the newer one wrote it Superseded and claim Available again during the replacement."""
        assert module is not None and action.phase is not None
        newer = run.newer
        changed = False
        if action.phase is ModulePhase.AVAILABLE:
            message = f"still ACTIVATED, being replaced by {newer}"
        else:
            message = f"replaced in place by {newer}"
            changed = await self._status(run, action.phase, action.reason.value, message)
        decide(run.key, "superseded", message, changed=changed, by=newer)
        return Result(requeue_after=action.after)

    async def _completing(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                          ) -> Result:
        seconds = self._min_ready_seconds(obj)
        if action.completing:
            await self._status(run, ModulePhase.COMPLETING, action.reason.value,
                               f"installed; counts as Available after {seconds}s")
        decide(run.key, "wait", "minReadySeconds", changed=action.completing,
               after=action.after)
        return Result(requeue_after=action.after)

    async def _available(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                         ) -> None:
        assert module is not None
        info = module.spec.module
        pod_name = _pod(run)["metadata"]["name"]
        # Available means: ACTIVATED, minReadySeconds passed, and the pod routes the module's
        # Service to it (docs/arklet.md). So the pod is labelled first, and under the pod's
        # lock, so that no other Module's label update on this pod can come between the label
        # and the status and take the label off again.
        async with self.ctx.locks.pod(run.key[0], pod_name):
            await self.writes.label_pod_locked(run.key[0], pod_name, info.name,
                                               serving_now=run.key[1])
            changed = await self._status(run, ModulePhase.AVAILABLE, action.reason.value,
                                         f"{info.name}:{info.version} is ACTIVATED on "
                                         f"{pod_name}", installed=info.version)
        decide(run.key, "available" if changed else "nothing",
               "ACTIVATED on the base" if changed else "Available already", changed=changed,
               version=info.version, base=pod_name)

    async def _mark_replaced(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                             ) -> None:
        """Before this Module stops the version of a Module of its name it replaces there (a
        switch, an uninstall), that Module stops reading Available: a status never claims more
        than the base runs. Under the pod's lock, like the Available write,
        so that neither can come between the other's check and write."""
        assert module is not None
        pod_name = module.base_pod_name or ""
        async with self.ctx.locks.pod(run.key[0], pod_name):
            for name in action.replaced:
                other = self.ctx.caches.modules.get(run.key[0], name)
                if other is None or objects.phase(other) != ModulePhase.AVAILABLE:
                    continue
                await self.writes.set_status((run.key[0], name), ModulePhase.PREPARE,
                                             Reason.SUPERSEDED.value,
                                             f"replaced in place by {run.key[1]}")
                decide(run.key, "replacing", "the Module it replaces reads Available",
                       module=name, base=pod_name)
            await self.writes.label_pod_locked(run.key[0], pod_name, module.spec.module.name)

    async def _leave_available(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                               ) -> None:
        """Before Arklet is asked to change anything for a new spec, a status that still says
        Available (for the old spec) goes: nobody may read Available for a version that does
        not run yet. One write, recording the new generation."""
        assert module is not None
        info = module.spec.module
        await self._status(run, ModulePhase.UPGRADING, action.reason.value,
                           f"installing {info.name}:{info.version}",
                           installed=_active(run.listing))

    async def _call(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        """installBiz, switchBiz or uninstallBiz: the one path of every Arklet change."""
        assert module is not None and action.call is not None and action.version is not None
        info, pod = module.spec.module, _pod(run)
        biz = BizRef(action.name or info.name, action.version, info.url)
        if action.call is Call.INSTALL:
            run.installed_once = True
        kind = _KIND[action.do]
        decide(run.key, kind, action.reason.value, base=pod["metadata"]["name"],
               version=biz.version, name=biz.name if action.name else None,
               listed=run.listing or None)
        answer, run.text, result = await self.calls.send(
            run.key, action.call, biz, pod_view(pod, module.base_pod_ip).ip or "",
            self.ctx.port_of(pod), BizRef(info.name, info.version, info.url), run.counted)
        run.called = biz
        if answer is None:  # deleted while the call ran: the removal runs next
            decide(run.key, f"{kind} abandoned", "deleted while it ran; removing",
                   version=biz.version, base=module.base_pod_name)
            run.answer = None
            return
        run.answer = (action.call, answer)
        if answer is Answer.OTHER_BIZ and result is not None:
            run.stray = installed_identity(result)

    async def _look_again(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                          ) -> Result:
        decide(run.key, "look again", run.text, changed=False, after=action.after)
        return Result(requeue_after=action.after)

    async def _retry(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None) -> None:
        raise ArkletRefused(run.text or action.reason.value)

    async def _begin_removal(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                             ) -> None:
        assert module is not None
        pod = run.seen_pod  # None: not in the cache, nothing to relabel
        exists = pod is not None and pod_view(pod, module.base_pod_ip).exists
        await self.removal.begin(run.key, pod if exists else None, module.spec.module.name,
                                 run.counted)
        run.removal_begun = True

    async def _next_version(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                            ) -> None:
        assert module is not None
        if action.reason is Reason.MASTER_BIZ and action.version is not None:
            self.removal.master_biz(obj, module.spec.module.name, action.version,
                                    module.base_pod_name or "")
        if run.listing is not None and action.version is not None:
            run.listing.pop(action.version, None)
        run.answer = None

    async def _drop_finalizer(self, run: Run, action: Action, obj: dict[str, Any], module: Module | None
                              ) -> None:
        assert module is not None
        await self.removal.drop_finalizer(run.key, obj, module.spec.module.name,
                                          module.base_pod_name or "", action.reason.value)


"""The Module reconciler: one module instance on one base pod (behaviour §4).

Read -> plan -> write. A reconcile binds an unbound Module to a base, then loops: observe (pod
from the cache, bizzes from Arklet's queryAllBiz), ask :func:`planning.module_lifecycle.next_step`
for one call, make it, and look its answer up in :data:`planning.arklet_answers.TABLE`, until the
Module is Available, must wait, or failed. Deletion runs the removal order of behaviour §4. Each
decision is logged once (observability/decisions.py); an expected failure ends the reconcile as
a :class:`ReportedFailure` (status + Event written, no traceback) that the work queue retries
with its backoff, so a call that got no answer is not made again inside the reconcile
(docs/arklet.md, "How long one call can take").

API writes are kept few on purpose (the budget is ≤ 4 per Module from creation to Available):
binding is one metadata patch (finalizer + labels + owner reference), the pod's labels are one
patch, and status is written only when phase/reason/message change. The intermediate phases
(Upgrading, Completing) are written only when an install is slow enough for anyone to see them.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Callable

from pydantic import ValidationError

from ..api import Module, ModulePhase, ModuleReplicaSet, objects
from ..api import constants as c
from ..api.errors import describe
from ..api.parsed import parsed
from ..arklet import ArkletBusy, ArkletUnavailable, installed_identity
from ..planning import placement
from ..planning.arklet_answers import BUSY_RECHECK, Answer, Call, Next, react
from ..planning.module_lifecycle import (Kind, gave_up, install_gate, installs_so_far,
                                         last_install, min_ready, next_step, pod_step,
                                         restarted_since, superseded_status, supersedes)
from ..planning.replicaset import follows_template
from ..kube.events import WARNING
from ..runtime.memo import Memo
from ..runtime.queue import Result
from ..runtime.store import Key
from .context import Context, deleting, labels_of, pod_ip
from .module_calls import ArkletRefused, ModuleCalls, decide, module_of, pod_view, siblings
from .module_removal import ModuleRemoval
from .module_writes import Installs, ModuleWrites

__all__ = ["ArkletRefused", "ModuleReconciler"]

MAX_STEPS = 12  # install, switch, uninstall old, verify ... never more than a handful
SUPERSEDED_RECHECK = 2.0  # seconds
#: The Arklet call each planned step makes (the answer table's rows).
CALLS = {Kind.INSTALL: Call.INSTALL, Kind.SWITCH: Call.SWITCH, Kind.UNINSTALL: Call.UNINSTALL}


def _active(bizzes: dict[str, str] | None) -> str | None:
    """The version observed ACTIVATED among this module's bizzes on the base."""
    return next((v for v, state in (bizzes or {}).items() if state == "ACTIVATED"), None)


def _precise(when: dt.datetime) -> str:
    """status.lastInstallTime to the millisecond: a base may restart within the second of an
    install, and whole seconds would hide that it started after it (``restarted_since``)."""
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class ModuleReconciler:
    def __init__(self, ctx: Context, failures: Callable[[Key], int] = lambda key: 0):
        self.ctx = ctx
        # Key -> (generation, installs answered as done for it, when the last one was) while
        # the key is reconciled; written to status.installs and status.lastInstallTime with the
        # next status write (no extra API write).
        self._installs: dict[Key, Installs] = {}
        self.writes = ModuleWrites(ctx, self._installs)
        self.calls = ModuleCalls(ctx, self.writes, failures)
        self.removal = ModuleRemoval(ctx, self.writes, self.calls)
        self._set_status = self.writes.set_status
        self._fail = self.calls.fail
        self._posing = Memo()  # uids of Modules told that they are no release's instance

    async def reconcile(self, key: Key) -> Result | None:
        obj = self.ctx.modules.get(*key)
        if obj is None:
            return None
        try:
            module = parsed(Module, obj)
        except ValidationError as exc:
            await self._fail(key, "InvalidSpec", describe(exc), retry=False)
            return None
        try:
            return await self._reconcile(key, obj, module)
        except ArkletBusy as exc:
            # Nothing was sent: the base has as many calls in flight and waiting as it is given.
            # Not a failure of this Module (no status, no Event): it looks again once the base
            # may have served some, at a jittered time so the waiting Modules do not return in
            # step.
            after = self.ctx.arklet.settings.slot_wait * random.uniform(0.5, 1.0)
            decide(key, "wait", "base busy", changed=False, after=round(after, 2),
                   detail=exc.last_error)
            return Result(requeue_after=after)

    async def _reconcile(self, key: Key, obj: dict, module: Module) -> Result | None:
        if deleting(obj):
            return await self.removal.remove(key, module)
        self._warn_if_posing(obj)
        generation = obj["metadata"].get("generation")
        status = obj.get("status")
        when = last_install(status, generation)
        self._installs[key] = (generation, installs_so_far(status, generation),
                               _precise(when) if when else None)
        try:
            return await self._ensure(key, module)
        finally:
            self._installs.pop(key, None)

    def _warn_if_posing(self, obj: dict) -> None:
        """A Module with a release's labels that no revision owns (made by whoever may create
        Modules): one Warning, and it stays what it is, a Module made by hand: no release
        counts it, no revision adopts, edits or deletes it (docs/security.md)."""
        if not self.ctx.posing_as_instance(obj) or \
                not self._posing.record(obj["metadata"].get("uid") or obj["metadata"]["name"]):
            return
        revision = labels_of(obj).get(c.LABEL_MODULE_REPLICASET)
        self.ctx.events.record(obj, WARNING, "NotAnInstance",
                               f"labelled as an instance of ModuleReplicaSet {revision}, which "
                               "does not own it: not counted in its release, left alone")

    # ----------------------------------------------------------------- install path

    async def _ensure(self, key: Key, module: Module) -> Result | None:
        scheme = module.spec.module.url.split("://", 1)[0]
        if scheme not in self.ctx.settings.url_schemes:
            # The base fetches the url, never the controller: a scheme the operator has not
            # allowed (file:// reads the base's own disk) is not handed to it.
            await self._fail(key, "UrlSchemeNotAllowed", (
                f"spec.module.url: scheme {scheme}:// is not allowed by this controller "
                f"(--url-schemes={','.join(self.ctx.settings.url_schemes)}); nothing is "
                "installed"), retry=False)
            return None
        selector = module.spec.selector.model_dump(by_alias=True, exclude_none=True)
        obj = await self.writes.bind(key, module.base_pod_name, selector, module.spec.module.name)
        if obj is None:
            decide(key, "wait", "no eligible base", changed=False)
            return None
        if not self._follows_owner(obj):
            # Edited by hand (or a template its owner has not written into it yet): nothing is
            # installed from this spec. The owner, woken by this change, writes its template
            # back, and that change brings the Module here again.
            decide(key, "wait", "spec differs from its ModuleReplicaSet's template; the owner "
                   "restores it")
            return None
        module = parsed(Module, obj)
        info = module.spec.module
        pod = self.ctx.pods.get(key[0], module.base_pod_name or "")
        view = pod_view(pod, module.base_pod_ip)
        status = obj.get("status") or {}
        if pod is not None and not status.get("installedVersion") \
                and not placement.selector_matches(selector, labels_of(pod)):
            # Binding labels name a pod, the selector says which pods are allowed: a label
            # written by hand never overrides the selector (docs/security.md).
            await self._fail(key, "SelectorMismatch", (
                f"base pod {module.base_pod_name} does not match spec.selector "
                f"{module.spec.selector.to_selector_string()}; nothing is installed there"),
                retry=False)
            return None
        if gave_up(status, obj["metadata"].get("generation")):
            blocked = pod_step(view)
            if blocked is None or blocked.kind is Kind.WAIT_BASE:
                decide(key, "nothing", f"final for this spec: {status.get('reason')}",
                       changed=False)
                return None

        bizzes: dict[str, str] | None = None  # this module's versions on the base, by state
        installed_once = False  # an install in this reconcile was answered as done
        for _ in range(MAX_STEPS):
            latest = self.ctx.modules.get(*key)
            if latest is None:
                return None
            if deleting(latest):
                # Deleted meanwhile: no further Arklet call for the install; the removal runs next.
                return Result(requeue_after=0.0)
            blocked = pod_step(view)
            if blocked is not None and blocked.kind is Kind.BASE_GONE:
                return await self.removal.base_gone(key, obj)
            if blocked is not None:
                changed = await self._set_status(key, ModulePhase.PREPARE, "WaitingForBase",
                                                 f"base pod {module.base_pod_name} is not ready")
                decide(key, "wait", "base pod not ready", changed=changed,
                       base=module.base_pod_name)
                return None
            assert pod is not None and view.ip
            ip, port = view.ip, self.ctx.port_of(pod)
            if bizzes is None:
                bizzes = await self.calls.query(key, Call.QUERY, ip, port, info.name,
                                                pod["metadata"]["uid"])
            others = siblings(self.ctx, key, info.name, module.base_pod_name)
            me = self.ctx.replacement_rank(latest)
            newer = [m for m in others if supersedes(self.ctx.replacement_rank(m), me)]
            if newer:
                return await self._superseded(key, module, pod, bizzes, newer[0])
            claimed = frozenset(v for m in others
                                if (v := module_of(m).get("version")) and v != info.version)
            step = next_step(info.version, module.spec.policy, view, bizzes, claimed)
            if step.kind is Kind.AVAILABLE:
                return await self._available(key, module, pod)
            await self._leave_available(key, f"{info.name}:{info.version}", bizzes)
            if step.kind is Kind.INSTALL:
                generation, installs, _ = self._installs.get(key, (None, 0, None))
                refusal = install_gate(installs, installed_once)
                if refusal == "InstallNotKept" and await self._base_restarted(key, ip, port):
                    refusal = None
                    installs = 0
                if refusal == "InstallNotKept":
                    # Installed again and again for this spec, and Arklet does not keep it
                    # listed (the answer claims what the listing does not show, or the biz
                    # keeps going missing): final until the spec changes, like a mismatch.
                    await self._fail(key, refusal, (
                        f"{info.name}:{info.version} was installed {installs} times for this "
                        f"spec (generation {generation}) and Arklet does not keep it listed "
                        f"ACTIVATED (it lists {bizzes or 'no version'} of it); nothing more is "
                        "installed until the spec changes"), retry=False,
                        installed=_active(bizzes))
                    return None
                if refusal == "InstallNotVerified":
                    # Arklet said this reconcile's install was done, yet does not list the biz
                    # ACTIVATED: not again at once (that loop is unbounded); the queue retries.
                    await self._fail(key, refusal, self.calls.attempt(
                        key, f"Arklet answered the install of {info.name}:{info.version} as "
                             f"done but lists {bizzes or 'no version'} of it"),
                        installed=_active(bizzes),
                        raised=f"{info.name}:{info.version} installed but not listed")
                installed_once = True
            decide(key, step.kind.value, "planned from the base's list",
                   base=pod["metadata"]["name"], version=step.version or info.version,
                   listed=bizzes or None)
            answer, text, result = await self.calls.send(
                key, step.kind, step.version or info.version, ip, port, module)
            if answer is None:  # deleted while the call ran: abandoned, the removal runs next
                decide(key, f"{step.kind.value} abandoned", "deleted while it ran; removing",
                       version=info.version, base=module.base_pod_name)
                return Result(requeue_after=0.0)
            reaction = react(CALLS[step.kind], answer)
            if reaction.next is Next.OBSERVE:
                if reaction.counts_install:
                    generation, installs, _ = self._installs.get(key, (None, 0, None))
                    self._installs[key] = (generation, installs + 1, _precise(objects.now()))
                # Verified with queryAllBiz on the next turn, whatever the reply carries: the
                # listing is what the base runs, the reply only what Arklet says it did.
                bizzes = None
                continue
            if reaction.next is Next.LOOK_AGAIN:
                decide(key, "look again", text, changed=False, after=BUSY_RECHECK)
                return Result(requeue_after=BUSY_RECHECK)
            if answer is Answer.OTHER_BIZ:
                assert result is not None
                return await self._mismatch(key, module, pod, installed_identity(result))
            if reaction.next is Next.FINAL and reaction.reason == "MasterBiz":
                await self._fail(key, "MasterBiz", (
                    f"{info.name}:{step.version} is the base itself; Arklet refuses to "
                    "uninstall it. Give the module another name."), retry=False)
                return None
            await self._fail(key, reaction.reason or "Failed", text)
        raise RuntimeError(f"module {key} made no progress after {MAX_STEPS} steps")

    async def _base_restarted(self, key: Key, ip: str, port: int) -> bool:
        """The bound of installs is used up: did the base restart since the last install
        (health's JVM uptime, ``restarted_since``)? Then the reinstalls were legitimate, the
        count starts again for this base incarnation (returns True). A base that does not answer
        health is not judged: the reconcile ends retried, not Failed for good."""
        generation, installs, last = self._installs.get(key, (None, 0, None))
        asked_at = objects.now()
        try:
            health = await self.ctx.arklet.health(ip, port=port)
        except ArkletBusy:
            raise
        except ArkletUnavailable as exc:
            await self._fail(key, "ArkletUnavailable", self.calls.attempt(
                key, f"Arklet at {ip}:{port} does not answer health: {exc.last_error}"))
            return False  # not reached: _fail raises
        if not restarted_since(health.run_time, asked_at, objects.parse_time(last)):
            return False
        self._installs[key] = (generation, 0, last)
        decide(key, "install count reset", "the base restarted after the last install",
               installs=installs, uptime=health.run_time, last_install=last)
        return True

    def _follows_owner(self, obj: dict) -> bool:
        """The Module's spec is its controlling ModuleReplicaSet's template (True when it has
        none the cache knows: an orphan is the garbage collector's, not ours to judge)."""
        ref = objects.owner_ref(obj, c.MODULE_REPLICA_SET.kind, controller=True)
        if ref is None:
            return True
        owner = self.ctx.replicasets.get(obj["metadata"]["namespace"], ref.get("name") or "")
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

    async def _leave_available(self, key: Key, wanted: str, bizzes: dict[str, str]) -> None:
        """Before Arklet is asked to change anything for a new spec, a status that still says
        Available (for the old spec) goes: nobody may read Available for a version that does
        not run yet. One write, recording the new generation, and only when needed."""
        if objects.phase(self.ctx.modules.get(*key) or {}) == ModulePhase.AVAILABLE:
            await self._set_status(key, ModulePhase.UPGRADING, "Installing",
                                   f"installing {wanted}", installed=_active(bizzes))

    async def _available(self, key: Key, module: Module, pod: dict) -> Result | None:
        obj = self.ctx.modules.get(*key) or {}
        seconds = self._min_ready_seconds(obj)
        since = objects.phase_since(obj)
        wait = min_ready(seconds, objects.phase(obj), since, objects.now())
        if wait.completing:
            await self._set_status(key, ModulePhase.COMPLETING, "MinReadySeconds",
                                   f"installed; counts as Available after {seconds}s")
        if wait.wait is not None:
            decide(key, "wait", "minReadySeconds", changed=wait.completing, after=wait.wait)
            return Result(requeue_after=wait.wait)
        info = module.spec.module
        pod_name = pod["metadata"]["name"]
        # Available means: ACTIVATED, minReadySeconds passed, and the pod routes the module's
        # Service to it (docs/arklet.md). So the pod is labelled first, and under the pod's
        # lock, so that no other Module's label update on this pod can come between the label
        # and the status and take the label off again.
        async with self.ctx.pod_lock(key[0], pod_name):
            await self.writes.label_pod_locked(key[0], pod_name, info.name, serving_now=key[1])
            changed = await self._set_status(key, ModulePhase.AVAILABLE, "Installed",
                                             f"{info.name}:{info.version} is ACTIVATED on "
                                             f"{pod_name}", installed=info.version)
        decide(key, "available" if changed else "nothing",
               "ACTIVATED on the base" if changed else "Available already", changed=changed,
               version=info.version, base=pod_name)
        return None

    async def _mismatch(self, key: Key, module: Module, pod: dict,
                        identity: tuple[str, str] | None) -> None:
        """The package behind spec.module.url is another name:version than the spec says.

        Final for this spec (see :func:`gave_up`): the biz Arklet put there is taken off again
        unless another Module on the pod stands for it, the Module is Failed/VersionMismatch
        with both identities and a Warning Event, and nothing is installed until the spec
        changes, so the base does not download and unpack the same jar over and over.
        """
        assert identity is not None
        info = module.spec.module
        name, version = identity
        on_pod = self.ctx.modules_on_pod(key[0], pod["metadata"]["name"])
        owners = [m["metadata"]["name"] for m in on_pod if m["metadata"]["name"] != key[1]
                  and (module_of(m).get("name"), module_of(m).get("version")) == identity]
        if owners:
            cleanup = f"left there for Module {owners[0]}"
        else:
            try:
                result = await self.ctx.arklet.uninstall(pod_ip(pod) or "", name, version,
                                                         port=self.ctx.port_of(pod))
                cleanup = ("uninstalled it again" if result.ok else
                           f"uninstalling it failed: {result.outcome.name}: {result.message}")
            except ArkletUnavailable as exc:
                cleanup = f"uninstalling it failed: {exc.last_error}"
        await self._fail(key, "VersionMismatch", (
            f"spec.module says {info.name}:{info.version} but the package at {info.url} is "
            f"{name}:{version}; {cleanup}. Nothing more is installed until spec.module matches "
            "the package."), retry=False)

    async def _superseded(self, key: Key, module: Module, pod: dict, bizzes: dict[str, str],
                          newer: dict) -> Result:
        """A newer revision's Module replaces this one in place on the same pod: leave Arklet
        to it (no reinstall, no switch back) and wait to be scaled down."""
        info = module.spec.module
        phase, reason = superseded_status(bizzes.get(info.version) == "ACTIVATED")
        message = (f"{info.name}:{info.version} is ACTIVATED on {pod['metadata']['name']}; being "
                   f"replaced by {newer['metadata']['name']}" if phase is ModulePhase.AVAILABLE
                   else f"replaced in place by {newer['metadata']['name']}")
        changed = await self._set_status(key, phase, reason, message)
        decide(key, "superseded", message, changed=changed, by=newer["metadata"]["name"])
        # Which Module is the release's target can change (a rollback): look again now and then
        # rather than rely on an event that may not come.
        return Result(requeue_after=SUPERSEDED_RECHECK)

    def _min_ready_seconds(self, obj: dict) -> int:
        ref = objects.owner_ref(obj, c.MODULE_REPLICA_SET.kind)
        mrs = self.ctx.replicasets.get(obj["metadata"]["namespace"], ref["name"]) if ref else None
        return int((mrs.get("spec") or {}).get("minReadySeconds") or 0) if mrs else 0

"""The Module reconciler: one module instance on one base pod (behaviour §4).

A reconcile binds an unbound Module to a base, then loops: observe (pod from the cache, bizzes
from Arklet's queryAllBiz), ask :func:`planning.module_lifecycle.next_step`, act, until the
Module is Available, must wait, or failed. Deletion runs the removal order of behaviour §4.

API writes are kept few on purpose (the budget is ≤ 4 per Module from creation to Available):
binding is one metadata patch (finalizer + labels + owner reference), the pod's labels are one
patch, and status is written only when phase/reason/message change. The intermediate phases
(Upgrading, Completing) are written only when an install is slow enough for anyone to see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import AsyncIterator

from pydantic import ValidationError

from ..api import Module, ModulePhase, ModuleReplicaSet
from ..api import constants as c
from ..api.redact import redact_text
from ..api.common import SchedulingPolicy, normalize_scheduling_policy
from ..arklet import ArkletResult, ArkletUnavailable, BizRef, Outcome, installed_identity
from ..kube.events import NORMAL, WARNING
from ..kube.io import not_found
from ..planning import placement
from ..planning.module_lifecycle import (InstallVerdict, Kind, PodView, gave_up, installs_so_far,
                                         judge_install, may_install, next_step, pod_labels,
                                         pod_step, removal_step, supersedes)
from ..planning.replicaset import follows_template
from .context import Context, deleting, labels_of, pod_ip, pod_ready, skip_uninstall
from .preempt import Deleted
from ..runtime.queue import ReportedFailure, Result
from ..runtime.store import Key

log = logging.getLogger(__name__)
PLURAL = c.MODULE.plural
MAX_STEPS = 12
SUPERSEDED_RECHECK = 2.0  # seconds  # install, switch, uninstall old, verify ... never more than a handful


class ArkletRefused(ReportedFailure):
    """Arklet answered a command with a business failure; retried with backoff by the queue."""

_KEEP = object()  # _set_status: leave status.installedVersion as it is


def _active(bizzes: dict[str, str] | None) -> str | None:
    """The version observed ACTIVATED among this module's bizzes on the base."""
    return next((v for v, state in (bizzes or {}).items() if state == "ACTIVATED"), None)


def _version(module: dict) -> str | None:
    return module.get("spec", {}).get("module", {}).get("version")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class ModuleReconciler:
    def __init__(self, ctx: Context, failures=lambda key: 0):
        self.ctx = ctx
        self._failures = failures  # consecutive failed reconciles of a key (from the queue)
        # Key -> (generation, installs answered as done for it) while the key is reconciled;
        # written to status.installs with the next status write (no extra API write).
        self._installs: dict[Key, tuple[int | None, int]] = {}

    async def reconcile(self, key: Key) -> Result | None:
        namespace, name = key
        obj = self.ctx.modules.get(namespace, name)
        if obj is None:
            return None
        try:
            module = Module.from_api(obj)
        except ValidationError as exc:
            await self._set_status(key, ModulePhase.FAILED, "InvalidSpec", str(exc).splitlines()[0])
            return None
        if deleting(obj):
            return await self._remove(key, module)
        generation = obj["metadata"].get("generation")
        self._installs[key] = (generation, installs_so_far(obj.get("status"), generation))
        try:
            return await self._ensure(key, module)
        finally:
            self._installs.pop(key, None)

    # ----------------------------------------------------------------- install path

    async def _ensure(self, key: Key, module: Module) -> Result | None:
        obj = await self._bind(key, module)
        if obj is None:
            return None
        if not self._follows_owner(obj):
            # Edited by hand (or a template its owner has not written into it yet): nothing is
            # installed from this spec. The owner, woken by this change, writes its template
            # back, and that change brings the Module here again.
            log.info("module %s/%s: spec differs from its ModuleReplicaSet's template; waiting "
                     "for the owner to restore it", *key)
            return None
        module = Module.from_api(obj)
        info = module.spec.module
        pod = self.ctx.pods.get(key[0], module.base_pod_name or "")
        view = self._pod_view(pod, module.base_pod_ip)
        status = obj.get("status") or {}
        selector = module.spec.selector.model_dump(by_alias=True, exclude_none=True)
        if pod is not None and not status.get("installedVersion") \
                and not placement.selector_matches(selector, labels_of(pod)):
            # Binding labels name a pod, the selector says which pods are allowed: a label
            # written by hand never overrides the selector (docs/security.md).
            await self._set_status(key, ModulePhase.FAILED, "SelectorMismatch", (
                f"base pod {module.base_pod_name} does not match spec.selector "
                f"{module.spec.selector.to_selector_string()}; nothing is installed there"))
            return None
        if gave_up(status, obj["metadata"].get("generation")):
            blocked = pod_step(view)
            if blocked is None or blocked.kind is Kind.WAIT_BASE:
                return None  # final for this spec (docs/arklet.md): wait for a spec change

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
                return await self._base_gone(key, obj)
            if blocked is not None:
                await self._set_status(key, ModulePhase.PREPARE, "WaitingForBase",
                                       f"base pod {module.base_pod_name} is not ready")
                return None
            assert pod is not None and view.ip
            port = self.ctx.port_of(pod)
            if bizzes is None:
                bizzes = await self._query(key, view.ip, port, info.name)
            siblings = self._siblings(key, info.name, module.base_pod_name)
            me = self.ctx.replacement_rank(self.ctx.modules.get(*key) or obj)
            newer = [m for m in siblings if supersedes(self.ctx.replacement_rank(m), me)]
            if newer:
                return await self._superseded(key, module, pod, bizzes, newer[0])
            claimed = frozenset(v for m in siblings if (v := _version(m)) and v != info.version)
            step = next_step(info.version, module.spec.policy, view, bizzes, claimed)
            if step.kind is Kind.AVAILABLE:
                return await self._available(key, module, pod)
            await self._leave_available(key, f"{info.name}:{info.version}", bizzes)
            generation, installs = self._installs.get(key, (None, 0))
            if step.kind is Kind.INSTALL and not may_install(installs):
                # Installed again and again for this spec, and Arklet does not keep it listed
                # (the answer claims what the listing does not show, or the biz keeps going
                # missing): final until the spec changes, like a version mismatch.
                await self._set_status(key, ModulePhase.FAILED, "InstallNotKept", (
                    f"{info.name}:{info.version} was installed {installs} times for this spec "
                    f"(generation {generation}) and Arklet does not keep it listed ACTIVATED "
                    f"(it lists {bizzes or 'no version'} of it); nothing more is installed until "
                    "the spec changes"), installed=_active(bizzes))
                return None
            if step.kind is Kind.INSTALL and installed_once:
                # Arklet said the install was done, yet does not list the biz ACTIVATED: do not
                # install again at once (that loop is unbounded); report it and let the queue
                # retry with backoff.
                await self._set_status(key, ModulePhase.FAILED, "InstallNotVerified", self._attempt(
                    key, f"Arklet answered the install of {info.name}:{info.version} as done "
                         f"but lists {bizzes or 'no version'} of it"), installed=_active(bizzes))
                raise ArkletRefused(f"{info.name}:{info.version} installed but not listed")
            if step.kind is Kind.INSTALL:
                installed_once = True
                biz = BizRef(info.name, info.version, info.url)
                try:
                    async with self._show_if_slow(key, ModulePhase.UPGRADING, "Installing",
                                                  f"installing {info.name}:{info.version}"):
                        result = await self._unless_deleted(
                            key, lambda biz=biz, port=port: self.ctx.arklet.install(
                                view.ip, biz, port=port))
                except Deleted:
                    log.info("module %s/%s: deleted while installing %s:%s on %s; install "
                             "abandoned, removing", key[0], key[1], info.name, info.version,
                             module.base_pod_name)
                    return Result(requeue_after=0.0)
                identity = installed_identity(result)
                verdict = judge_install((info.name, info.version), succeeded=result.ok,
                                        repeat=result.outcome is Outcome.REPEAT_BIZ,
                                        busy=result.outcome is Outcome.CONFLICT, identity=identity)
                if verdict in (InstallVerdict.INSTALLED, InstallVerdict.VERIFY):
                    self._installs[key] = (generation, installs + 1)
                    # Verified with queryAllBiz on the next turn, whatever bizInfos the reply
                    # carries: the listing is what the base runs, the reply only what Arklet
                    # says it did (an Arklet may claim a biz it never lists; issue 14).
                    bizzes = None
                    continue
                if verdict is InstallVerdict.MISMATCH:
                    assert identity is not None
                    return await self._mismatch(key, module, pod, identity)
                if verdict is InstallVerdict.BUSY:
                    # Another install of this name:version is still running on the base (e.g.
                    # from before a controller restart): look again shortly.
                    return Result(requeue_after=1.0)
                await self._refused(key, "InstallFailed", result)
            elif step.kind is Kind.SWITCH:
                try:
                    result = await self._unless_deleted(key, lambda port=port: self.ctx.arklet.switch(
                        view.ip, info.name, info.version, port=port))
                except Deleted:
                    return Result(requeue_after=0.0)
                if not result.ok:
                    await self._refused(key, "SwitchFailed", result)
                bizzes = None
            elif step.kind is Kind.UNINSTALL:
                assert step.version is not None
                result = await self.ctx.arklet.uninstall(view.ip, info.name, step.version, port=port)
                if result.outcome is Outcome.MASTER_BIZ:
                    await self._set_status(key, ModulePhase.FAILED, "MasterBiz", (
                        f"{info.name}:{step.version} is the base itself; Arklet refuses to "
                        "uninstall it. Give the module another name."))
                    return None
                if not result.ok:
                    await self._refused(key, "UninstallFailed", result)
                bizzes = None
        raise RuntimeError(f"module {key} made no progress after {MAX_STEPS} steps")

    def _follows_owner(self, obj: dict) -> bool:
        """The Module's spec is its controlling ModuleReplicaSet's template (True when it has
        none the cache knows: an orphan is the garbage collector's, not ours to judge)."""
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") != c.MODULE_REPLICA_SET.kind or not ref.get("controller"):
                continue
            owner = self.ctx.replicasets.get(obj["metadata"]["namespace"], ref.get("name") or "")
            if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
                return True
            try:
                mrs = ModuleReplicaSet.from_api(owner)
            except ValidationError:
                return True  # the owner reports its own invalid spec
            return follows_template(
                obj.get("spec") or {},
                mrs.spec.template.spec.module.model_dump(by_alias=True, exclude_none=True),
                mrs.spec.operation_strategy.upgrade_policy)
        return True

    async def _leave_available(self, key: Key, wanted: str, bizzes: dict[str, str]) -> None:
        """Before Arklet is asked to change anything for a new spec, a status that still says
        Available (for the old spec) goes: nobody may read Available for a version that does
        not run yet. One write, recording the new generation, and only when needed."""
        obj = self.ctx.modules.get(*key) or {}
        if (obj.get("status") or {}).get("status") == ModulePhase.AVAILABLE:
            await self._set_status(key, ModulePhase.UPGRADING, "Installing",
                                   f"installing {wanted}", installed=_active(bizzes))

    async def _bind(self, key: Key, module: Module) -> dict | None:
        """Make sure the Module has its finalizer and a base pod; None if it cannot have one yet."""
        obj = self.ctx.modules.get(*key)
        assert obj is not None
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if c.FINALIZER_ALLOCATE_POD not in finalizers:
            finalizers.append(c.FINALIZER_ALLOCATE_POD)
        elif module.base_pod_name:
            return obj
        # resourceVersion makes the patch fail on a concurrent change instead of overwriting the
        # finalizer list or owner references somebody else just wrote.
        patch: dict = {"metadata": {"resourceVersion": meta["resourceVersion"],
                                    "finalizers": finalizers}}
        if module.base_pod_name:
            return await self._write_binding(key, patch, None)
        async with self.ctx.placement_lock(key[0]):
            chosen = self._choose_base(key[0], module, obj)
            if chosen is None:
                await self._set_status(key, ModulePhase.PENDING, "NoEligibleBase",
                                       "no ready base pod with room for this module; waiting")
                return None
            pod = self.ctx.pods.get(key[0], chosen.name)
            assert pod is not None
            patch["metadata"]["labels"] = {c.LABEL_BASE_INSTANCE_NAME: chosen.name,
                                           c.LABEL_BASE_INSTANCE_IP: chosen.ip}
            patch["metadata"]["ownerReferences"] = (meta.get("ownerReferences") or []) + [{
                "apiVersion": "v1", "kind": "Pod", "name": chosen.name,
                "uid": pod["metadata"]["uid"], "controller": False, "blockOwnerDeletion": False,
            }]
            return await self._write_binding(key, patch, chosen)

    async def _write_binding(self, key: Key, patch: dict, chosen: placement.Base | None) -> dict:
        obj = await self.ctx.kube.patch(PLURAL, key[0], key[1], patch)
        self.ctx.remember_module(obj, wake_self=False)
        if chosen is not None:
            self.ctx.events.record(obj, NORMAL, "Scheduled",
                                   f"bound to base pod {chosen.name} ({chosen.ip})")
        return obj

    def _choose_base(self, namespace: str, module: Module, obj: dict) -> placement.Base | None:
        try:
            policy = normalize_scheduling_policy(
                labels_of(obj).get(c.LABEL_MODULE_SCHEDULING_STRATEGY))
        except ValueError:  # a hand-written label with a typo: fall back to the default
            policy = SchedulingPolicy.SCATTER
        selector = module.spec.selector.model_dump(by_alias=True, exclude_none=True)
        # A Module that names its base Deployment goes on that Deployment's pods only.
        return placement.choose(self.ctx.bases(namespace), module.spec.module.name, selector,
                                policy, labels_of(obj).get(c.LABEL_DEPLOYMENT_NAME))

    async def _available(self, key: Key, module: Module, pod: dict) -> Result | None:
        min_ready = self._min_ready_seconds(key)
        if min_ready > 0:
            obj = self.ctx.modules.get(*key)
            status = (obj or {}).get("status") or {}
            since = status.get("lastTransitionTime")
            if status.get("status") not in (ModulePhase.COMPLETING, ModulePhase.AVAILABLE) or not since:
                await self._set_status(key, ModulePhase.COMPLETING, "MinReadySeconds",
                                       f"installed; counts as Available after {min_ready}s")
                return Result(requeue_after=min_ready)
            if status.get("status") == ModulePhase.COMPLETING:
                elapsed = (_now() - dt.datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()
                if elapsed < min_ready:
                    return Result(requeue_after=min_ready - elapsed)
        info = module.spec.module
        pod_name = pod["metadata"]["name"]
        # Available means: ACTIVATED, minReadySeconds passed, and the pod routes the module's
        # Service to it (docs/behaviour of Available in docs/arklet.md). So the pod is labelled
        # first, and under the pod's lock, so that no other Module's label update on this pod
        # can come between the label and the status and take the label off again.
        async with self.ctx.pod_lock(key[0], pod_name):
            await self._label_pod_locked(key[0], pod_name, info.name, serving_now=key[1])
            await self._set_status(key, ModulePhase.AVAILABLE, "Installed",
                                   f"{info.name}:{info.version} is ACTIVATED on {pod_name}",
                                   installed=info.version)
        return None

    async def _mismatch(self, key: Key, module: Module, pod: dict,
                        identity: tuple[str, str]) -> None:
        """The package behind spec.module.url is another name:version than the spec says.

        Final for this spec (see :func:`gave_up`): the biz Arklet put there is taken off again
        unless another Module on the pod stands for it, the Module is Failed/VersionMismatch
        with both identities and a Warning Event, and nothing is installed until the spec
        changes, so the base does not download and unpack the same jar over and over.
        """
        info = module.spec.module
        pod_name = pod["metadata"]["name"]
        name, version = identity
        owners = [m["metadata"]["name"] for m in self.ctx.modules_on_pod(key[0], pod_name)
                  if m["metadata"]["name"] != key[1]
                  and (m.get("spec", {}).get("module", {}).get("name"), _version(m)) == identity]
        if owners:
            cleanup = f"left there for Module {owners[0]}"
        else:
            result = await self.ctx.arklet.uninstall(pod_ip(pod) or "", name, version,
                                                     port=self.ctx.port_of(pod))
            cleanup = ("uninstalled it again" if result.ok else
                       f"uninstalling it failed: {result.outcome.name}: {result.message}")
        message = (f"spec.module says {info.name}:{info.version} but the package at "
                   f"{info.url} is {name}:{version}; {cleanup}. Nothing more is installed "
                   "until spec.module matches the package.")
        log.warning("module %s/%s: version mismatch: %s", key[0], key[1], message)
        await self._set_status(key, ModulePhase.FAILED, "VersionMismatch", message)
        return None

    async def _superseded(self, key: Key, module: Module, pod: dict, bizzes: dict[str, str],
                          newer: dict) -> Result:
        """A newer revision's Module replaces this one in place on the same pod: leave Arklet
        to it (no reinstall, no switch back) and wait to be scaled down."""
        info = module.spec.module
        if bizzes.get(info.version) == "ACTIVATED":
            await self._set_status(key, ModulePhase.AVAILABLE, "Installed",
                                   f"{info.name}:{info.version} is ACTIVATED on "
                                   f"{pod['metadata']['name']}; being replaced by "
                                   f"{newer['metadata']['name']}")
        else:
            await self._set_status(key, ModulePhase.PREPARE, "Superseded",
                                   f"replaced in place by {newer['metadata']['name']}")
        # Which Module is the release's target can change (a rollback): look again now and then
        # rather than rely on an event that may not come.
        return Result(requeue_after=SUPERSEDED_RECHECK)

    def _min_ready_seconds(self, key: Key) -> int:
        obj = self.ctx.modules.get(*key) or {}
        for ref in obj.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("kind") == c.MODULE_REPLICA_SET.kind:
                mrs = self.ctx.replicasets.get(key[0], ref["name"])
                if mrs:
                    return int((mrs.get("spec") or {}).get("minReadySeconds") or 0)
        return 0

    async def _base_gone(self, key: Key, obj: dict) -> Result | None:
        # Deleting a Module is not undoable: confirm with the API server, not only the cache.
        name = labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME) or ""
        live = await self.ctx.kube.read_pod(key[0], name) if name else None
        if live is not None:
            self.ctx.pods.upsert(live)
            view = self._pod_view(live, labels_of(obj).get(c.LABEL_BASE_INSTANCE_IP))
            if view.exists and not view.deleting:
                return Result(requeue_after=0.1)  # the cache was behind; look again
        else:
            stale = self.ctx.pods.get(key[0], name)
            if stale is not None:
                self.ctx.pods.remove(stale)
        self.ctx.events.record(obj, WARNING, "BaseGone",
                               f"base pod {labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME)} is gone; "
                               "removing this Module")
        await self.ctx.kube.delete(PLURAL, key[0], key[1], uid=obj["metadata"]["uid"])
        return None

    # ----------------------------------------------------------------- removal path

    async def _remove(self, key: Key, module: Module) -> Result | None:
        obj = self.ctx.modules.get(*key)
        assert obj is not None
        if c.FINALIZER_ALLOCATE_POD not in (obj["metadata"].get("finalizers") or []):
            return None
        await self._set_status(key, ModulePhase.TERMINATING, "Deleting", "taking the module off its base")
        info = module.spec.module
        pod = self.ctx.pods.get(key[0], module.base_pod_name or "")
        view = self._pod_view(pod, module.base_pod_ip)
        if pod is not None and view.exists:
            # First stop routing: the Service selects on this label. (Being deleted, this
            # Module no longer counts among the pod's Modules.)
            await self._label_pod(key[0], pod["metadata"]["name"], info.name)
        bizzes: dict[str, str] | None = None
        if view.exists and view.ip and not skip_uninstall(pod):
            try:
                bizzes = await self._query(key, view.ip, self.ctx.port_of(pod), info.name, report=False)
            except ArkletUnavailable:
                live = await self.ctx.kube.read_pod(key[0], module.base_pod_name or "")
                if live is not None and pod_ip(live) == view.ip:
                    raise  # the pod still exists: its modules may still run there; retry
                # The pod is gone (or replaced): nothing of this module is left to uninstall.
        claimed = frozenset(v for m in self._siblings(key, info.name, module.base_pod_name)
                            if (v := _version(m)))
        while (step := removal_step(view, bizzes, claimed)).kind is Kind.UNINSTALL:
            assert step.version is not None and bizzes is not None and pod is not None
            result = await self.ctx.arklet.uninstall(view.ip, info.name, step.version,
                                                     port=self.ctx.port_of(pod))
            if result.outcome is Outcome.MASTER_BIZ:
                # Not ours to take off: the base itself carries this name:version.
                self.ctx.events.record(obj, WARNING, "MasterBiz",
                                       f"{info.name}:{step.version} is the base itself; left on "
                                       f"{module.base_pod_name}")
            elif not result.ok:
                await self._refused(key, "UninstallFailed", result)
            bizzes.pop(step.version, None)
        removed = await self.ctx.kube.remove_finalizer(PLURAL, obj, c.FINALIZER_ALLOCATE_POD)
        if removed is None or not removed["metadata"].get("finalizers"):
            self.ctx.module_gone(removed or obj)  # deleted now; the watch may never say so
        else:
            self.ctx.remember_module(removed, wake_self=False)
        self.ctx.events.record(obj, NORMAL, "Removed", f"{info.name} taken off {module.base_pod_name}")
        return None

    # ----------------------------------------------------------------- helpers

    def _siblings(self, key: Key, module_name: str, pod_name: str | None) -> list[dict]:
        """Other live Modules of the same module name on the same pod (an in-place upgrade
        across revisions puts the new revision's Module beside the old one for a while)."""
        if not pod_name:
            return []
        return [m for m in self.ctx.modules_on_pod(key[0], pod_name)
                if m["metadata"]["name"] != key[1]
                and m.get("spec", {}).get("module", {}).get("name") == module_name]

    def _pod_view(self, pod: dict | None, bound_ip: str | None) -> PodView:
        if pod is None:
            return PodView(exists=False)
        ip = pod_ip(pod)
        if bound_ip and ip and ip != bound_ip:
            # Same name, different pod (e.g. a StatefulSet replaced it): the old base is gone.
            return PodView(exists=False)
        return PodView(exists=True, ready=pod_ready(pod), ip=ip, deleting=deleting(pod))

    async def _query(self, key: Key, ip: str, port: int, name: str, report: bool = True
                     ) -> dict[str, str]:
        try:
            bizzes = await self.ctx.arklet.query_all(ip, port=port)
        except ArkletUnavailable as exc:
            if report:
                await self._set_status(key, ModulePhase.FAILED, "ArkletUnavailable",
                                       self._attempt(key, f"Arklet at {ip}:{port} does not answer: "
                                                          f"{exc.last_error}"))
            raise
        return {b.version: b.state for b in bizzes if b.name == name}

    async def _unless_deleted(self, key: Key, call):
        """An Arklet call for the Module that its deletion pre-empts: not made if the Module
        is already being deleted, cancelled when the deletion arrives (see preempt.py)."""
        def gone_or_deleting() -> bool:
            obj = self.ctx.modules.get(*key)
            return obj is None or deleting(obj)

        return await self.ctx.deletions.unless_deleted(key, call, gone_or_deleting)

    def _attempt(self, key: Key, message: str) -> str:
        return f"{message} (attempt {self._failures(key) + 1})"

    async def _refused(self, key: Key, reason: str, result: ArkletResult) -> None:
        message = self._attempt(key, f"{result.command}: {result.outcome.name}: {result.message}")
        await self._set_status(key, ModulePhase.FAILED, reason, message)
        raise ArkletRefused(message)

    @contextlib.asynccontextmanager
    async def _show_if_slow(self, key: Key, phase: ModulePhase, reason: str, message: str
                            ) -> AsyncIterator[None]:
        writing = False

        async def later() -> None:
            nonlocal writing
            await asyncio.sleep(self.ctx.settings.slow_status_after)
            writing = True
            await self._set_status(key, phase, reason, message)

        task = asyncio.create_task(later())
        try:
            yield
        finally:
            # A write already under way is awaited, never cancelled: a cancelled PATCH may still
            # reach the API server, on another connection and after the caller's next status
            # write, and leave the slow phase (Upgrading) there for good.
            if not writing:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _label_pod(self, namespace: str, pod_name: str, module_name: str) -> None:
        """Bring the pod's Service label for ``module_name`` and its instance count in line
        with the Modules now bound to it.

        Computed from the cache under a per-pod lock, never from a pod or Module copy read
        earlier: an in-place upgrade takes the old revision's Module off the pod while the new
        one installs, and whichever of the two writes last must see what the other wrote. The
        label stays while any live Module of that name on the pod is Available, so callers
        write a Module's Available status before they call this.
        """
        async with self.ctx.pod_lock(namespace, pod_name):
            await self._label_pod_locked(namespace, pod_name, module_name)

    async def _label_pod_locked(self, namespace: str, pod_name: str, module_name: str,
                                serving_now: str | None = None) -> None:
        pod = self.ctx.pods.get(namespace, pod_name)
        if pod is None:
            return
        wanted = pod_labels(module_name, self.ctx.modules_on_pod(namespace, pod_name),
                            serving_now)
        current = labels_of(pod)
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        updated = await self.ctx.kube.patch_pod_labels(namespace, pod_name, wanted)
        if updated is not None:
            self.ctx.pods.upsert(updated)

    async def _set_status(self, key: Key, phase: ModulePhase, reason: str, message: str,
                          installed: str | None | object = _KEEP) -> None:
        """Write the Module's phase; ``installed`` is the version of this module observed
        ACTIVATED on the base (None: none), or, when not given, what the status said before."""
        obj = self.ctx.modules.get(*key)
        if obj is None:
            return
        # Compared as it will be stored: the status writer redacts credentials in urls, and an
        # unredacted comparison would rewrite such a status on every reconcile.
        message = redact_text(message)
        current = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        if installed is _KEEP:
            installed = current.get("installedVersion")
        counted = self._installs.get(key)
        if counted is not None and counted[0] == generation:
            installs = counted[1] or None  # not written before the first install
        else:
            installs = current.get("installs") if current.get("observedGeneration") == generation \
                else None
        if (current.get("status"), current.get("reason"), current.get("message"),
                current.get("observedGeneration"), current.get("installedVersion"),
                current.get("installs")) == (
                phase.value, reason, message, generation, installed, installs):
            return
        changed = current.get("status") != phase.value
        status = {
            "status": phase.value, "reason": reason, "message": message,
            "observedGeneration": generation, "installedVersion": installed,
            "installs": installs,
            "lastTransitionTime": _timestamp(_now()) if changed else current.get("lastTransitionTime"),
        }
        try:
            updated = await self.ctx.kube.patch_status(PLURAL, key[0], key[1], status)
        except Exception as exc:  # the status is a report; the reconcile itself decides retries
            if not_found(exc):
                return
            raise
        self.ctx.remember_module(updated, wake_self=False)
        if changed or phase is ModulePhase.FAILED:
            kind = WARNING if phase is ModulePhase.FAILED else NORMAL
            self.ctx.events.record(updated, kind, reason, message)

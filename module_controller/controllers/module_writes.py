"""The Module reconciler's API writes: binding, status, the pod's routing labels.

Kept apart from the reconcile loop (controllers/module.py) because each write has rules of its
own that the loop should not have to know: a status is written only when something in it
changes, and credentials in its message are redacted first; the pod's labels are computed from
the cache under the pod's lock; a binding patch carries the resourceVersion it was made from.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, AsyncIterator

from ..api import ModulePhase
from ..api import constants as c
from ..api import objects
from ..api.redact import redact_text
from ..kube.events import NORMAL, WARNING
from ..kube.io import not_found
from ..observability.decisions import decided
from ..planning import placement
from ..planning.module_lifecycle import pod_labels, scheduling_policy
from ..runtime.store import Key
from .caches import labels_of
from .context import Context
from .wake import MODULES

#: (generation, installs answered as done for it, status.lastInstallTime of the last one).
Installs = tuple[int | None, int, str | None]
KEEP = object()  # set_status: leave status.installedVersion as it is


_ATTEMPT = re.compile(r" \(attempt \d+\)$")


def _but_attempt(message: str | None) -> str | None:
    """A status message without the attempt number ``module_calls.attempt`` appends."""
    return _ATTEMPT.sub("", message) if message else message


class ModuleWrites:
    """Writes for Modules of one controller."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    # ----------------------------------------------------------------- binding

    async def bind(self, key: Key, base_pod_name: str | None, selector: dict[str, Any],
                   module_name: str) -> dict[str, Any] | None:
        """Make sure the Module has its finalizer and a base pod; None if it cannot have one yet."""
        obj = self.ctx.caches.modules.get(*key)
        assert obj is not None
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if c.FINALIZER_ALLOCATE_POD not in finalizers:
            finalizers.append(c.FINALIZER_ALLOCATE_POD)
        elif base_pod_name:
            return obj
        # resourceVersion makes the patch fail on a concurrent change instead of overwriting the
        # finalizer list or owner references somebody else just wrote.
        patch: dict[str, Any] = {"metadata": {"resourceVersion": meta["resourceVersion"],
                                    "finalizers": finalizers}}
        if base_pod_name:
            return await self._write_binding(key, patch, None)
        async with self.ctx.locks.placement(key[0]):
            labels = labels_of(obj)
            # A Module that names its base Deployment goes on that Deployment's pods only.
            chosen = placement.choose(
                self.ctx.placement.bases(key[0]), module_name, selector,
                scheduling_policy(labels.get(c.LABEL_MODULE_SCHEDULING_STRATEGY)),
                labels.get(c.LABEL_DEPLOYMENT_NAME))
            if chosen is None:
                await self.set_status(key, ModulePhase.PENDING, "NoEligibleBase",
                                      "no ready base pod with room for this module; waiting")
                return None
            pod = self.ctx.caches.pods.get(key[0], chosen.name)
            assert pod is not None
            patch["metadata"]["labels"] = {c.LABEL_BASE_INSTANCE_NAME: chosen.name,
                                           c.LABEL_BASE_INSTANCE_IP: chosen.ip}
            # Not a controller reference: the pod does not manage the Module, but its deletion
            # lets the garbage collector take Modules the controller has not got to yet.
            patch["metadata"]["ownerReferences"] = (meta.get("ownerReferences") or []) + [
                objects.owner_reference({"apiVersion": "v1", "kind": "Pod", **pod},
                                        controller=False, block_owner_deletion=False)]
            return await self._write_binding(key, patch, chosen)

    async def _write_binding(self, key: Key, patch: dict[str, Any],
                             chosen: placement.Base | None) -> dict[str, Any]:
        obj = await self.ctx.writer.patch(c.MODULE.kind, key[0], key[1], patch, skip=MODULES)
        if chosen is not None:
            decided("Module", key, "bound", "placed on a base", base=chosen.name, ip=chosen.ip)
            self.ctx.events.record(obj, NORMAL, "Scheduled",
                                   f"bound to base pod {chosen.name} ({chosen.ip})")
        return obj

    # ----------------------------------------------------------------- the pod's labels

    async def label_pod(self, namespace: str, pod_name: str, module_name: str) -> None:
        """Bring the pod's Service label for ``module_name`` and its instance count in line
        with the Modules now bound to it.

        Computed from the cache under a per-pod lock, never from a pod or Module copy read
        earlier: an in-place upgrade takes the old revision's Module off the pod while the new
        one installs, and whichever of the two writes last must see what the other wrote. The
        label stays while any live Module of that name on the pod is Available, so callers
        write a Module's Available status before they call this.
        """
        async with self.ctx.locks.pod(namespace, pod_name):
            await self.label_pod_locked(namespace, pod_name, module_name)

    async def label_pod_locked(self, namespace: str, pod_name: str, module_name: str,
                               serving_now: str | None = None) -> None:
        pod = self.ctx.caches.pods.get(namespace, pod_name)
        if pod is None:
            return
        live = self.ctx.caches.modules_on_pod(namespace, pod_name)
        wanted = pod_labels(module_name, live, serving_now,
                            [m for m in live if self.ctx.caches.may_route(m, module_name)])
        current = labels_of(pod)
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        await self.ctx.writer.patch_pod_labels(namespace, pod_name, wanted, skip=MODULES)
        # (Logged as the pod's decision: the label is on the pod, for all its Modules of a name.)
        decided("Pod", (namespace, pod_name), "labelled",
                "module routing follows the Available Modules on the pod", module=module_name,
                routed=wanted.get(c.module_label_key(module_name)) is not None,
                modules=wanted.get(c.LABEL_MODULE_INSTANCE_COUNT))

    # ----------------------------------------------------------------- status

    async def set_status(self, key: Key, phase: ModulePhase, reason: str, message: str,
                         installed: str | None | object = KEEP,
                         counted: Installs | None = None) -> bool:
        """Write the Module's phase; ``installed`` is the version of this module observed
        ACTIVATED on the base (None: none), or, when not given, what the status said before;
        ``counted``: the reconcile's count of installs answered as done (generation, count,
        time of the last one), written with it. True when something was written."""
        obj = self.ctx.caches.modules.get(*key)
        if obj is None:
            return False
        # Compared as it will be stored: the status writer redacts credentials in urls, and an
        # unredacted comparison would rewrite such a status on every reconcile.
        message = redact_text(message)
        current = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        if installed is KEEP:
            installed = current.get("installedVersion")
        same = current.get("observedGeneration") == generation
        if counted is not None and counted[0] == generation:
            installs = counted[1] or None  # not written before the first install
            last_install = counted[2]
        else:
            installs = current.get("installs") if same else None
            last_install = current.get("lastInstallTime") if same else None
        if (objects.phase(obj), current.get("reason"), _but_attempt(current.get("message")),
                current.get("observedGeneration"), current.get("installedVersion"),
                current.get("installs"), current.get("lastInstallTime")) == (
                phase.value, reason, _but_attempt(message), generation, installed, installs,
                last_install):
            # Also when only the attempt number differs: a retry that fails the same way
            # writes nothing and posts no Event (the queue's log counts the attempts).
            return False
        changed = objects.phase(obj) != phase.value
        status = {
            "status": phase.value, "reason": reason, "message": message,
            "observedGeneration": generation, "installedVersion": installed,
            "installs": installs, "lastInstallTime": last_install,
            "lastTransitionTime": objects.format_time(objects.now()) if changed
            else current.get("lastTransitionTime"),
        }
        try:
            updated = await self.ctx.writer.patch_status(c.MODULE.kind, key[0], key[1], status,
                                                         skip=MODULES)
        except Exception as exc:  # the status is a report; the reconcile itself decides retries
            if not_found(exc):
                return False
            raise
        if changed or phase is ModulePhase.FAILED:
            kind = WARNING if phase is ModulePhase.FAILED else NORMAL
            self.ctx.events.record(updated, kind, reason, message)
        return True

    @contextlib.asynccontextmanager
    async def show_if_slow(self, key: Key, phase: ModulePhase, reason: str, message: str,
                           counted: Installs | None = None) -> AsyncIterator[None]:
        """Write ``phase`` only if the body takes longer than ``--slow-status-after``: the
        intermediate phases cost an API write each, worth it only when someone can see them."""
        writing = False

        async def later() -> None:
            nonlocal writing
            await asyncio.sleep(self.ctx.settings.slow_status_after)
            writing = True
            await self.set_status(key, phase, reason, message, counted=counted)

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

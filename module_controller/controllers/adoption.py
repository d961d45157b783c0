"""Taking over the objects upstream's Go v1 controller left (decisions: planning/adoption.py).

Two hooks, each a no-op for objects this controller made:

* :func:`adopt_modules`, called by a ModuleReplicaSet before it counts its Modules: the Modules
  labelled with its name and controlled by nobody become its own (one metadata patch each), so
  it never places a second instance for a module that already runs on a base.
* :func:`adopt_release`, called by a ModuleDeployment before it reads its recorded release:
  upstream's ``releaseStatus`` is rewritten into ours (same revision and group, Completed or
  Paused as it was), with ``observedGeneration`` and conditions in metav1's shape, in one status
  write and one Event.

Neither calls Arklet; what the bases run is then read by the Module reconciler (queryAllBiz), as
for any Module, and a Module whose biz is ACTIVATED becomes Available without an install.
"""

from __future__ import annotations

import time
from typing import Callable

from ..api import constants as c
from ..api.objects import format_time, now, status_of
from ..kube.client import DEFAULT_TIMEOUT
from ..kube.events import NORMAL
from ..observability.decisions import decided
from ..planning import adoption
from ..planning.moduledeployment_rules import revision_number
from ..runtime.store import Key, Obj
from ..settings import Settings
from .caches import UNREAD, labels_of
from .context import Context
from .wake import MODULE_DEPLOYMENTS


async def adopt_modules(ctx: Context, key: Key, replicaset: Obj) -> int:
    """Adopt the orphaned Modules labelled with the ModuleReplicaSet ``key``; how many."""
    adopted = 0
    if not adoption.adopts(replicaset):
        return adopted  # the common case: no walk over its Modules on every reconcile
    for module in ctx.caches.modules.by_label(key[0], c.LABEL_MODULE_REPLICASET, key[1]):
        patch = adoption.module_adoption(module, replicaset)
        if patch is None:
            continue
        meta = module["metadata"]
        await ctx.writer.patch(c.MODULE.kind, key[0], meta["name"], patch, skip=None)
        adopted += 1
        decided(c.MODULE_REPLICA_SET.kind, key, "module adopted",
                "labelled with this ModuleReplicaSet and controlled by nobody",
                module=meta["name"], base=labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME))
    return adopted


async def adopt_release(ctx: Context, key: Key, obj: Obj, revisions: list[Obj]) -> Obj:
    """``obj`` with upstream's recorded release rewritten into ours (``obj`` itself when it
    records none, or ours)."""
    status = status_of(obj)
    if not revisions or not adoption.needs_release_adoption(status):
        return obj
    numbers = [revision_number(labels_of(r), c.LABEL_MODULE_REPLICASET_REVISION)
               for r in revisions]
    spec = obj.get("spec") or {}
    state = adoption.adopted_release(status["releaseStatus"], numbers,
                                     int(spec.get("replicas", c.DEFAULT_REPLICAS)),
                                     bool(spec.get("pause", False)))
    patch = adoption.adopted_status(status, state, obj["metadata"].get("generation"),
                                    format_time(now()))
    updated = await ctx.writer.patch_status(c.MODULE_DEPLOYMENT.kind, key[0], key[1], patch,
                                            skip=MODULE_DEPLOYMENTS)
    message = adoption.describe(state)
    ctx.events.record(updated, NORMAL, adoption.REASON_ADOPTED, message)
    decided(c.MODULE_DEPLOYMENT.kind, key, "release adopted", message,
            revision=state.update_revision, progress=str(state.progress))
    return updated


def read_grace(settings: Settings) -> float:
    """How long a ModuleDeployment waits for its adopted Modules to be read, by the controller's
    own bounds: one Module reconcile that reads its base is a queryAllBiz to its longest call
    and one status write to the API request's timeout."""
    arklet = settings.arklet
    return arklet.longest_call(arklet.timeout) + float(DEFAULT_TIMEOUT.sock_read or 0.0)


class ReadHolds:
    """When each ModuleDeployment began to wait for its unread Modules (the decision:
    :func:`planning.adoption.hold_for_unread`). Held by its reconciler; a key is forgotten
    when the wait ends or the ModuleDeployment is gone."""

    def __init__(self, grace: float, clock: Callable[[], float] = time.monotonic):
        self.grace = grace
        self._clock = clock
        self._since: dict[Key, float] = {}

    def left(self, ctx: Context, key: Key) -> float | None:
        """Seconds ``key`` still waits before judging its release (a store tally, no walk);
        None: go on. Each unread Module is reconciled at once (it is new to this controller)
        and its status write wakes the ModuleDeployment."""
        unread = ctx.caches.modules.tally(UNREAD, key[0], key[1]).get(True, 0)
        hold = adoption.hold_for_unread(unread, self._since.get(key), self._clock(), self.grace)
        if hold.since is None:
            self._since.pop(key, None)
        else:
            self._since[key] = hold.since
        return hold.left

    def forget(self, key: Key) -> None:
        self._since.pop(key, None)

"""How a Module goes (behaviour §4): its base gone, or the Module deleted.

The decisions are the machine's (planning/module_machine.py, the "deleting" rows of
planning/module_table.py); these are the executors of the actions only the removal takes:

* Base gone: the cache says the pod the Module is bound to is gone or being deleted (or its name
  now belongs to another pod). Read again from the API server (``read_pod``), since deleting a
  Module cannot be undone; then the Module is deleted (``base_gone``) and its removal runs.
* Removal (the Module has a deletionTimestamp): stop routing first (``begin``: the pod's Service
  label), then uninstall every version of the module the base lists that no other Module on the
  pod stands for (the one uninstall path, controllers/module_calls.py ``send``), then drop the
  finalizer (``drop_finalizer``). A base whose Arklet does not answer is retried while the pod
  is still there; a pod that is gone has nothing left to uninstall. The Module's ownerReference
  to its pod lets the garbage collector delete Modules the controller has not got to yet; the
  finalizer still makes this removal run for them.
"""

from __future__ import annotations

from typing import Any

from ..api import ModulePhase
from ..api import constants as c
from ..kube.events import NORMAL, WARNING
from ..runtime.store import Key
from .caches import labels_of
from .context import Context
from .module_calls import decide
from .module_writes import Installs, ModuleWrites
from .wake import MODULES


class ModuleRemoval:
    def __init__(self, ctx: Context, writes: ModuleWrites):
        self.ctx = ctx
        self.writes = writes

    async def read_pod(self, key: Key, pod_name: str) -> dict[str, Any] | None:
        """The base pod as the API server has it now; the cache is corrected either way."""
        return await self.ctx.writer.read_pod(key[0], pod_name, skip=MODULES) if pod_name else None

    async def base_gone(self, key: Key, obj: dict[str, Any]) -> None:
        name = labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME) or ""
        decide(key, "base gone", "the base pod is gone or going; deleting the Module", base=name)
        self.ctx.events.record(obj, WARNING, "BaseGone",
                               f"base pod {name} is gone; removing this Module")
        await self.ctx.writer.delete(c.MODULE.kind, key[0], key[1], uid=obj["metadata"]["uid"])

    async def begin(self, key: Key, pod: dict[str, Any] | None, module_name: str,
                    counted: Installs | None) -> None:
        await self.writes.set_status(key, ModulePhase.TERMINATING, "Deleting",
                                     "taking the module off its base", counted=counted)
        if pod is not None:
            # First stop routing: the Service selects on this label. (Being deleted, this
            # Module no longer counts among the pod's Modules.)
            await self.writes.label_pod(key[0], pod["metadata"]["name"], module_name)

    def master_biz(self, obj: dict[str, Any], name: str, version: str, pod_name: str) -> None:
        """Not ours to take off: the base itself carries this name:version."""
        self.ctx.events.record(obj, WARNING, "MasterBiz",
                               f"{name}:{version} is the base itself; left on {pod_name}")

    async def drop_finalizer(self, key: Key, obj: dict[str, Any], module_name: str, pod_name: str,
                             why: str) -> None:
        await self.ctx.writer.remove_finalizer(c.MODULE.kind, obj, c.FINALIZER_ALLOCATE_POD,
                                               skip=MODULES)
        decide(key, "removed", f"finalizer dropped: {why}", base=pod_name)
        self.ctx.events.record(obj, NORMAL, "Removed", f"{module_name} taken off {pod_name}")

"""How a Module goes (behaviour §4): its base gone, or the Module deleted.

* Base gone: the pod the Module is bound to is gone or being deleted (or its name now belongs
  to another pod). Confirmed with the API server, not only the cache, since deleting a Module
  cannot be undone; then the Module is deleted, and its removal below runs.
* Removal (the Module has a deletionTimestamp): stop routing first (the pod's Service label),
  then uninstall every version of the module the base lists that no other Module on the pod
  stands for, then drop the finalizer. A base whose Arklet does not answer is retried while
  the pod is still there; a pod that is gone has nothing left to uninstall. The Module's
  ownerReference to its pod lets the garbage collector delete Modules the controller has not got
  to yet; the finalizer still makes this removal run for them.
"""

from __future__ import annotations

from ..api import Module, ModulePhase
from ..api import constants as c
from ..arklet import ArkletBusy, ArkletUnavailable
from ..kube.events import NORMAL, WARNING
from ..planning.arklet_answers import Answer, Call, Next, answer_of, react
from ..planning.module_lifecycle import Kind, nothing_left_to_remove, pod_step, removal_step
from ..runtime.queue import Result
from ..runtime.store import Key
from .context import Context, labels_of, pod_ip, skip_uninstall
from .module_calls import ArkletRefused, ModuleCalls, decide, module_of, pod_view, siblings
from .module_writes import PLURAL, ModuleWrites


class ModuleRemoval:
    def __init__(self, ctx: Context, writes: ModuleWrites, calls: ModuleCalls):
        self.ctx = ctx
        self.writes = writes
        self.calls = calls

    async def base_gone(self, key: Key, obj: dict) -> Result | None:
        name = labels_of(obj).get(c.LABEL_BASE_INSTANCE_NAME) or ""
        live = await self.ctx.kube.read_pod(key[0], name) if name else None
        if live is not None:
            self.ctx.pods.upsert(live)
            blocked = pod_step(pod_view(live, labels_of(obj).get(c.LABEL_BASE_INSTANCE_IP)))
            if blocked is None or blocked.kind is not Kind.BASE_GONE:
                decide(key, "look again", "the cache was behind: the base is there",
                       changed=False)
                return Result(requeue_after=0.1)
        else:
            stale = self.ctx.pods.get(key[0], name)
            if stale is not None:
                self.ctx.gone("Pod", stale)
        decide(key, "base gone", "the base pod is gone or going; deleting the Module", base=name)
        self.ctx.events.record(obj, WARNING, "BaseGone",
                               f"base pod {name} is gone; removing this Module")
        await self.ctx.kube.delete(PLURAL, key[0], key[1], uid=obj["metadata"]["uid"])
        return None

    async def remove(self, key: Key, module: Module) -> Result | None:
        obj = self.ctx.modules.get(*key)
        assert obj is not None
        if c.FINALIZER_ALLOCATE_POD not in (obj["metadata"].get("finalizers") or []):
            return None
        await self.writes.set_status(key, ModulePhase.TERMINATING, "Deleting",
                                     "taking the module off its base")
        info = module.spec.module
        pod = self.ctx.pods.get(key[0], module.base_pod_name or "")
        view = pod_view(pod, module.base_pod_ip)
        if pod is not None and view.exists:
            # First stop routing: the Service selects on this label. (Being deleted, this
            # Module no longer counts among the pod's Modules.)
            await self.writes.label_pod(key[0], pod["metadata"]["name"], info.name)
        bizzes: dict[str, str] | None = None
        if pod is not None and view.exists and view.ip and not skip_uninstall(pod):
            try:
                bizzes = await self.calls.query(key, Call.REMOVAL_QUERY, view.ip,
                                                self.ctx.port_of(pod), info.name,
                                                pod["metadata"]["uid"])
            except ArkletRefused:
                # react(REMOVAL_QUERY, no answer) is ASK_API: the pod decides.
                live = await self.ctx.kube.read_pod(key[0], module.base_pod_name or "")
                if not nothing_left_to_remove(live is not None, pod_ip(live) if live else None,
                                              view.ip):
                    raise  # the pod still exists: its modules may still run there; retry
                decide(key, "skip uninstall", "Arklet does not answer and the pod is gone")
        claimed = frozenset(v for m in siblings(self.ctx, key, info.name, module.base_pod_name)
                            if (v := module_of(m).get("version")))
        while (step := removal_step(view, bizzes, claimed)).kind is Kind.UNINSTALL:
            assert step.version is not None and bizzes is not None and pod is not None
            decide(key, "uninstall", "removing the Module", version=step.version,
                   base=module.base_pod_name)
            answer, text = await self._uninstall(key, view.ip or "", self.ctx.port_of(pod),
                                                 info.name, step.version)
            reaction = react(Call.REMOVAL_UNINSTALL, answer)
            if reaction.next is not Next.NEXT_VERSION:
                await self.calls.fail(key, reaction.reason or "UninstallFailed", text)
            if answer is Answer.MASTER_BIZ:
                # Not ours to take off: the base itself carries this name:version.
                self.ctx.events.record(obj, WARNING, "MasterBiz",
                                       f"{info.name}:{step.version} is the base itself; left on "
                                       f"{module.base_pod_name}")
            bizzes.pop(step.version, None)
        removed = await self.ctx.kube.remove_finalizer(PLURAL, obj, c.FINALIZER_ALLOCATE_POD)
        if removed is None or not removed["metadata"].get("finalizers"):
            self.ctx.gone(c.MODULE.kind, removed or obj)  # deleted now; the watch may never say so
        else:
            self.ctx.remember_module(removed, wake_self=False)
        decide(key, "removed", "finalizer dropped", base=module.base_pod_name)
        self.ctx.events.record(obj, NORMAL, "Removed",
                               f"{info.name} taken off {module.base_pod_name}")
        return None

    async def _uninstall(self, key: Key, ip: str, port: int, name: str, version: str
                         ) -> tuple[Answer, str]:
        try:
            result = await self.ctx.arklet.uninstall(ip, name, version, port=port)
        except ArkletBusy:
            raise
        except ArkletUnavailable as exc:
            return Answer.UNAVAILABLE, self.calls.attempt(
                key, f"Arklet at {ip}:{port} does not answer: {exc.last_error}")
        return answer_of(result.outcome.name, result.ok), self.calls.attempt(
            key, f"{result.command}: {result.outcome.name}: {result.message}")

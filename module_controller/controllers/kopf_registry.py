"""kopf, but only for watching: the registry the operator hands to ``kopf.operator``.

kopf gives us watching (listing, re-watching, 410 recovery, login) and the operator lifecycle.
Its own per-handler state (progress and diff-base annotations, its finalizer) is not used:
every handler here is a ``kopf.on.event`` handler, which stores nothing in the cluster, so the
API write budget stays ours. Each handler passes the event to the operator's routes, which
update the caches and queue keys for the reconcilers (routes.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable, cast

import kopf

from ..kube.client import connection_info
from ..runtime.store import Obj
from .kopf_diffbase import NoDiffBase
from .routes import Source

if TYPE_CHECKING:
    from .operator import Operator


KOPF_WORKER_IDLE = 1.0  # seconds; kopf's default is 5 (memory: docs/performance.md)


def make_registry(op: "Operator", sources: tuple[Source, ...]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    async def _startup(settings: kopf.OperatorSettings, **_: object) -> None:
        settings.posting.enabled = False  # events are ours (kube.events), with our reasons
        # No watch on CRDs nor namespaces (kopf's "scanning"): the CRDs are installed with
        # the controller and the served namespaces are named, so neither can change what we
        # serve while we run. kopf still reads the API discovery documents once (allowed to
        # every authenticated user). This keeps the controller off cluster-scoped reads: the
        # namespaced install needs no ClusterRole at all (docs/security.md, RBAC).
        settings.scanning.disabled = True
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 30
        settings.persistence.diffbase_storage = NoDiffBase()  # see kopf_diffbase.py
        # kopf keeps a worker (a task and a queue) per watched object until it has been idle
        # this long. Ours only update a cache and enqueue a key, so a lingering worker is
        # memory only: at 10,000 Modules in a release thousands of them were alive at once.
        settings.queueing.idle_timeout = KOPF_WORKER_IDLE
        await op.start()

    @kopf.on.login(registry=registry)
    async def _login(**_: object) -> kopf.ConnectionInfo:
        # The watches log in as the controller's own client does (kube/client.py): exec
        # plugins, OIDC, tokens, certificates, in-cluster, proxies from the environment.
        return await connection_info(op.kubeconfig)

    @kopf.on.cleanup(registry=registry)
    async def _cleanup(**_: object) -> None:
        await op.stop()
        # Stopped by a signal, kopf leaves its waiter on our stop flag running and then
        # waits 5 s for such "hung" tasks before it exits. Raising the flag ends the waiter,
        # so SIGTERM → exit takes milliseconds (a rolling update of the controller, and
        # every cluster test's teardown, used to pay those 5 s).
        op.stop_flag.set()

    def forward(kind: str) -> Callable[..., Awaitable[None]]:
        # async, so kopf calls it on the event loop (sync handlers go to a thread pool).
        async def on_event(event: kopf.RawEvent, **_: object) -> None:
            op.watch_event(kind, event.get("type"), cast(Obj, event["object"]))
        return on_event

    for source in sources:
        kopf.on.event(source.group, source.version, source.plural, id=source.plural,
                      registry=registry)(forward(source.kind))
    return registry

"""kopf, but only for watching: the registry the operator hands to ``kopf.operator``.

kopf gives us watching (listing, re-watching, 410 recovery, login) and the operator lifecycle.
Its own per-handler state (progress and diff-base annotations, its finalizer) is not used:
every handler here is a ``kopf.on.event`` handler, which stores nothing in the cluster, so the
API write budget stays ours. Each handler passes the event to the operator's routes, which
update the caches and queue keys for the reconcilers (routes.py).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping

import kopf

from .kopf_diffbase import NoDiffBase
from .routes import Source

if TYPE_CHECKING:
    from .operator import Operator


KOPF_WORKER_IDLE = 1.0  # seconds; kopf's default is 5 (issue 17, memory)


def in_cluster_server(info: kopf.ConnectionInfo, environ: Mapping[str, str]) -> kopf.ConnectionInfo:
    """The API server a pod is given (KUBERNETES_SERVICE_HOST/PORT), as our own client uses it.

    kopf's service-account login names https://kubernetes.default.svc, which needs cluster DNS;
    the kubelet's environment variables need none, and the controller's other client
    (kube/client.py, in-cluster config) already follows them: both must reach the same server.
    """
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return info
    host = f"[{host}]" if ":" in host else host
    return dataclasses.replace(info, server=f"https://{host}:{port}")


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
    def _login(**kwargs: object) -> kopf.ConnectionInfo | None:
        # A private registry has none of kopf's default login handlers; these are kopf's
        # own, without pykube or the sync kubernetes client.
        info = kopf.login_with_service_account(**kwargs)
        if info is not None:
            return in_cluster_server(info, os.environ)
        return kopf.login_with_kubeconfig(**kwargs)

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
            op.watch_event(kind, event.get("type"), event["object"])
        return on_event

    for source in sources:
        kopf.on.event(source.group, source.version, source.plural, id=source.plural,
                      registry=registry)(forward(source.kind))
    return registry

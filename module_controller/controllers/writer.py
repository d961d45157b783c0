"""The one way the reconcilers write to the API server.

Each write is made through :class:`~module_controller.kube.io.KubeIO` (the one place of
Kubernetes I/O), and the API server's answer, the object's new version, is routed at once exactly
as the watch event of that version will be (:meth:`.routes.Routes.answer`): it goes into the
cache and wakes every watcher that the wiring declares for the change, so the next step needs no
round trip through the watch. The watch event itself then arrives as an echo of a version
already cached, and is ignored.

``skip`` names the writer's own work queue when the writer needs no second look at the change it
made (None: every watcher looks, the object's own reconciler too). An answer that shows a change
the writer did not make (a deletion that began, a new spec) wakes the writer's queue as well.

Deletions and writes of kinds nobody watches (pods deleted, Services) have no answer to route:
the watch reports what follows.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..kube.io import KubeIO
from ..runtime.store import Obj
from .caches import deleting
from .routes import DELETED, Routes

POD, DEPLOYMENT = "Pod", "Deployment"


class Writer:
    def __init__(self, kube: KubeIO, routes: Routes) -> None:
        self.kube = kube
        self.routes = routes

    def _plural(self, kind: str) -> str:
        return self.routes.sources[kind].plural

    # ----------------------------------------------------------------- our own kinds

    async def create(self, kind: str, namespace: str, body: Obj, *, skip: str | None) -> Obj:
        created: Obj = await self.kube.create(self._plural(kind), namespace, body)
        self.answered(kind, created, skip=skip)
        return created

    async def patch(self, kind: str, namespace: str, name: str, patch: Obj, *,
                    skip: str | None) -> Obj:
        """JSON merge patch of metadata/spec (KubeIO.patch)."""
        updated: Obj = await self.kube.patch(self._plural(kind), namespace, name, patch)
        self.answered(kind, updated, skip=skip)
        return updated

    async def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any],
                           *, skip: str | None) -> Obj:
        updated: Obj = await self.kube.patch_status(self._plural(kind), namespace, name, status)
        self.answered(kind, updated, skip=skip)
        return updated

    async def remove_finalizer(self, kind: str, obj: Obj, finalizer: str, *,
                               skip: str | None) -> Obj | None:
        """The object without ``finalizer`` (``obj`` itself: it had none; None: it is gone).
        An object being deleted that has no finalizer left is deleted now, and takes the
        DELETED path at once (:meth:`gone`): its watch event may never come."""
        updated: Obj | None = await self.kube.remove_finalizer(self._plural(kind), obj, finalizer)
        if updated is None or (deleting(updated) and not updated["metadata"].get("finalizers")):
            self.gone(kind, updated or obj)
        elif updated is not obj:
            self.answered(kind, updated, skip=skip)
        return updated

    async def delete(self, kind: str, namespace: str, name: str, *, uid: str | None = None,
                     mark: bool = False) -> None:
        """Delete (a finalizer may hold the object; its watch events follow). ``mark``: mark the
        cached copy as being deleted at once, so the next reconcile does not pick the same
        victim twice before the watch says so."""
        await self.kube.delete(self._plural(kind), namespace, name, uid)
        if mark:
            store = self.routes.caches.store(kind)
            cached = store.get(namespace, name)
            if cached is not None and not deleting(cached):
                store.mark({**cached, "metadata": {**cached["metadata"],
                                                   "deletionTimestamp": "pending"}})

    # ----------------------------------------------------------------- pods, Deployments

    async def patch_pod_labels(self, namespace: str, name: str,
                               labels: Mapping[str, str | None], *,
                               skip: str | None) -> Obj | None:
        """None: the pod is gone."""
        updated = await self.kube.patch_pod_labels(namespace, name, dict(labels))
        if updated is not None:
            self.answered(POD, updated, skip=skip)
        return updated

    async def patch_deployment_labels(self, namespace: str, name: str,
                                      labels: Mapping[str, str | None], *,
                                      skip: str | None) -> Obj | None:
        """None: the Deployment is gone."""
        updated = await self.kube.patch_deployment_labels(namespace, name, dict(labels))
        if updated is not None:
            self.answered(DEPLOYMENT, updated, skip=skip)
        return updated

    async def read_pod(self, namespace: str, name: str, *, skip: str | None) -> Obj | None:
        """The pod as the API server has it now (None: gone); the cache learns it the same way
        as from an answer to a write, and a pod found gone takes the DELETED path (:meth:`gone`)."""
        live: Obj | None = await self.kube.read_pod(namespace, name)
        if live is not None:
            self.answered(POD, live, skip=skip)
        else:
            stale = self.routes.caches.pods.get(namespace, name)
            if stale is not None:
                self.gone(POD, stale)
        return live

    async def delete_pod(self, namespace: str, name: str) -> None:
        await self.kube.delete_pod(namespace, name)

    # ----------------------------------------------------------------- Services (not watched)

    async def ensure_service(self, body: Obj, owner_uid: str) -> str | None:
        problem: str | None = await self.kube.ensure_service(body, owner_uid)
        return problem

    async def delete_owned_services(self, namespace: str, deployment: str, owner_uid: str,
                                    keep: str | None = None) -> None:
        await self.kube.delete_owned_services(namespace, deployment, owner_uid, keep=keep)

    # ----------------------------------------------------------------- routing

    def answered(self, kind: str, obj: Obj, *, skip: str | None) -> None:
        """Route the answer to a write of ``obj`` (of watched ``kind``) made through
        :class:`KubeIO`."""
        obj.setdefault("kind", kind)
        self.routes.answer(kind, obj, skip=skip)

    def gone(self, kind: str, obj: Obj) -> None:
        """``obj`` was seen deleted for good by this process (a finalizer removal answered so, a
        live read found nothing): forget it and wake its watchers now, as its DELETED event
        would; that event, if it ever comes, is then ignored. A watch that re-lists never
        reports such a deletion at all (runtime/resync.py)."""
        self.routes.event(kind, DELETED, obj)


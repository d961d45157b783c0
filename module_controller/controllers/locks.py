"""The locks the reconcilers share: one per namespace for placement, one per pod for its labels."""

from __future__ import annotations

import asyncio
import weakref


class Locks:
    def __init__(self) -> None:
        self._placement: dict[str, asyncio.Lock] = {}
        self._pods: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = \
            weakref.WeakValueDictionary()

    def placement(self, namespace: str) -> asyncio.Lock:
        """Held from "choose bases" until the chosen Modules are written and cached.

        Reconcilers of different ModuleReplicaSets (and unbound Modules) run concurrently;
        without this, two of them could both see the same free slot on a base and overfill it.
        """
        lock = self._placement.get(namespace)
        if lock is None:
            lock = self._placement[namespace] = asyncio.Lock()
        return lock

    def pod(self, namespace: str, pod_name: str) -> asyncio.Lock:
        """Held while a pod's module labels are computed and written (see ModuleReconciler).
        Kept only while somebody holds or waits for it."""
        lock = self._pods.get((namespace, pod_name))
        if lock is None:
            lock = self._pods[(namespace, pod_name)] = asyncio.Lock()
        return lock

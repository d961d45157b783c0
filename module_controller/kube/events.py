"""Kubernetes Events, posted in the background so a reconcile never waits on them.

The queue is bounded: when the API server is slow the oldest reasons still go out and the rest
are dropped with a log line, instead of memory growing without limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)
COMPONENT = "module-controller"
NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder:
    def __init__(self, api: client.ApiClient, capacity: int = 1000):
        self.core = client.CoreV1Api(api)
        self._queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=capacity)
        self._task: asyncio.Task | None = None
        self._instance = socket.gethostname()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._post_forever(), name="event-recorder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def record(self, obj: dict, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"generateName": f"{meta.get('name', 'object')}.",
                         "namespace": meta.get("namespace") or "default"},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                "name": meta.get("name"), "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "type": type_, "reason": reason, "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT, "reportingInstance": self._instance,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        try:
            self._queue.put_nowait(body)
        except asyncio.QueueFull:
            log.warning("event queue full; dropped %s %s on %s", type_, reason, meta.get("name"))

    async def _post_forever(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self.core.create_namespaced_event(body["metadata"]["namespace"], body)
            except (ApiException, OSError, asyncio.TimeoutError) as exc:
                # Events are best effort: losing one must never stop the controller.
                log.warning("could not post event %s: %s", body["reason"], exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until queued events are posted (tests, shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

"""Kubernetes Events, posted in the background so a reconcile never waits on them.

The queue is bounded: when the API server is slow the oldest reasons still go out and the rest
are dropped with a log line, instead of memory growing without limit. A few posters work the
queue at once (a release of 1000 Modules records about as many Events), and the API server's
answer is not turned into a model object: nobody reads it, and parsing its timestamps cost more
CPU than the request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket

from kubernetes_asyncio import client

from ..api.redact import redact_text
from .io import response_json

log = logging.getLogger(__name__)
COMPONENT = "module-controller"
NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder:
    def __init__(self, api: client.ApiClient, capacity: int = 1000, posters: int = 4):
        self.core = client.CoreV1Api(api)
        self._queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=capacity)
        self._posters = posters
        self._tasks: list[asyncio.Task] = []
        self._instance = socket.gethostname()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._post_forever(), name=f"event-poster-{i}")
                           for i in range(self._posters)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

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
            # Redacted here, for every Event: a module url may carry credentials.
            "type": type_, "reason": reason, "message": redact_text(message)[:1024],
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
                await self._post(body)
            except Exception as exc:  # noqa: BLE001 - ApiException, aiohttp errors, timeouts
                # Events are best effort: losing one must never stop the controller (nor this
                # poster: an escaped error would end the task and with it all later Events).
                log.warning("could not post event %s: %s", body["reason"], exc)
            finally:
                self._queue.task_done()

    async def _post(self, body: dict) -> None:
        resp = await self.core.create_namespaced_event(body["metadata"]["namespace"], body,
                                                       _preload_content=False)
        await response_json(resp)  # raises ApiException on an error status

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until queued events are posted (tests, shutdown), at most ``timeout`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

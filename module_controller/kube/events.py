"""Kubernetes Events, posted in the background so a reconcile never waits on them.

Repeats are aggregated, as client-go's event correlator does: an Event is keyed by its object,
type, reason and message. A repeat recorded before the first is posted only raises the queued
Event's count; a repeat after it was posted (within ``SERIES_WINDOW``) patches the posted
Event's ``count`` and ``lastTimestamp`` instead of posting a new one. So a burst of N identical
Events on one object is one Event object with ``count: N``. A different message is a different
Event: an aggregate never rewrites what an earlier Event said.

What is queued is bounded by distinct keys (``capacity``). When it is full, an Event of an
object with a controlling owner is folded into one Event on that owner (one per owner, type
and reason: "Installed ×312 Modules, latest ...") instead of being dropped; only an Event with
nowhere to fold goes with a log line. A release of 10,000 Modules records about as many
Events in a few minutes; none is lost, and what a person reads is one line per owner.

An Event that is one of many alike (a release's Modules each reaching Installed) may instead
be *summarised*: the recorder's ``summarise`` function (given by the controller, which knows what
a group is) names a target object and a series; the Event becomes one Event per target, type,
reason and series, whose ``count`` is the number of objects and whose message says it ("revision
3, group 2/4: 250 Modules Installed; latest ..."), patched as the count grows. Failures are
never summarised by the controller: each stays on its own object.

A few posters work the queue at once, and the API server's answer is read as JSON only for
the Event's name (nobody reads the rest; parsing its timestamps cost more CPU than the request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from kubernetes_asyncio import client

from ..api.objects import Obj, format_time, now
from ..api.redact import redact_text
from .io import call_json

log = logging.getLogger(__name__)
COMPONENT = "module-controller"
NORMAL = "Normal"
WARNING = "Warning"
MERGE = "application/merge-patch+json"
#: A repeat this long after the last post of its key starts a new Event (client-go: 10 min).
SERIES_WINDOW = 600.0
#: Posted series remembered for patching (older ones simply post a new Event).
SERIES_MEMORY = 4096

#: (involved object uid or namespace/name, type, reason, message)
EventKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Summary:
    """Where a summarised Event goes: ``target`` (an object: apiVersion, kind, metadata with
    name, namespace, uid) and ``series`` (e.g. "revision 3, group 2/4"), one Event per both
    with the type and reason."""

    target: Obj
    series: str


#: (object, type, reason, message) -> a Summary, or None to post the Event on the object.
Summarise = Callable[[Obj, str, str, str], "Summary | None"]


@dataclass
class _Pending:
    body: Obj
    count: int = 1
    folded: int = 0  # Events of owned objects folded into this one (owner summaries)
    #: For a summary: its message as a function of the objects counted so far (in all).
    render: Callable[[int], str] | None = None


@dataclass
class _Series:
    name: str
    namespace: str
    count: int
    posted_at: float


def _now() -> str:
    return format_time(now())


def _who(meta: Obj) -> str:
    """The object part of an :data:`EventKey`: its uid, or namespace/name without one."""
    uid = meta.get("uid")
    return uid if isinstance(uid, str) and uid else (
        f"{meta.get('namespace') or 'default'}/{meta.get('name')}")


def _involved(obj: Obj) -> Obj:
    """The Event's ``involvedObject`` for ``obj``."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")}


def _controller_owner(meta: Obj) -> Obj | None:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid") and ref.get("name"):
            return ref
    return None


class EventRecorder:
    def __init__(self, api: client.ApiClient, capacity: int = 1000, posters: int = 4, *,
                 summarise: Summarise | None = None):
        self.core = client.CoreV1Api(api)
        self._capacity = capacity
        self._pending: OrderedDict[EventKey, _Pending] = OrderedDict()
        self._series: OrderedDict[EventKey, _Series] = OrderedDict()
        self._in_flight: dict[EventKey, asyncio.Future[None]] = {}
        self._ready = asyncio.Event()  # something is pending
        self._idle = asyncio.Event()   # nothing pending nor in flight
        self._idle.set()
        self._posters = posters
        self._tasks: list[asyncio.Task[None]] = []
        self._instance = socket.gethostname()
        #: The controller's (see :class:`Summary`); None: every Event on its own object.
        self.summarise = summarise

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._post_forever(), name=f"event-poster-{i}")
                           for i in range(self._posters)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def _body(self, involved: Obj, namespace: str, type_: str, reason: str, message: str) -> Obj:
        now = _now()
        return {
            "metadata": {"generateName": f"{involved.get('name') or 'object'}.",
                         "namespace": namespace},
            "involvedObject": involved,
            "type": type_, "reason": reason, "message": message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT, "reportingInstance": self._instance,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        message = redact_text(message)[:1024]  # here, for every Event: a url may carry credentials
        summary = self.summarise(obj, type_, reason, message) if self.summarise else None
        if summary is not None:
            self._summarise(summary, obj, type_, reason, message)
            return
        key: EventKey = (_who(meta), type_, reason, message)
        pending = self._pending.get(key)
        if pending is not None:  # a repeat not posted yet: one Event, counted
            pending.count += 1
            pending.body["lastTimestamp"] = _now()
            return
        involved = _involved(obj)
        if len(self._pending) < self._capacity:
            self._enqueue(key, _Pending(self._body(involved, namespace, type_, reason, message)))
            return
        owner = _controller_owner(meta)
        if owner is None:
            log.warning("event queue full; dropped %s %s on %s", type_, reason, meta.get("name"))
            return
        self._fold(owner, namespace, involved, type_, reason, message)

    def _summarise(self, summary: Summary, obj: Obj, type_: str, reason: str,
                   message: str) -> None:
        """Count ``obj``'s Event into its summary Event (queued, or patched once posted)."""
        target_meta = summary.target.get("metadata") or {}
        namespace = target_meta.get("namespace") or "default"
        key: EventKey = (_who(target_meta), type_, reason,
                         "\0" + summary.series)  # never an ordinary message
        kind = obj.get("kind") or "object"
        latest = f"latest {obj.get('metadata', {}).get('name')}: {message}"

        def render(count: int) -> str:
            noun = kind if count == 1 else kind + "s"
            return f"{summary.series}: {count} {noun} {reason}; {latest}"[:1024]

        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(self._body(_involved(summary.target), namespace, type_, reason,
                                          ""), count=0)
            # Bounded by targets x series, not by objects; never dropped for a full queue.
            self._enqueue(key, pending)
        pending.count += 1
        pending.render = render
        pending.body["lastTimestamp"] = _now()

    def _fold(self, owner: Obj, namespace: str, involved: Obj, type_: str, reason: str,
              message: str) -> None:
        """One Event on the owner stands for the owned objects' Events of this type and reason
        while the queue is full (at most one per owner, type and reason: bounded by owners)."""
        key: EventKey = (owner["uid"], type_, reason, "")  # the summary's own key
        pending = self._pending.get(key)
        if pending is None:
            target = {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"),
                      "name": owner["name"], "namespace": involved.get("namespace"),
                      "uid": owner["uid"]}
            pending = _Pending(self._body(target, namespace, type_, reason, ""), folded=0)
            self._enqueue(key, pending)
        pending.folded += 1
        pending.body["message"] = (
            f"{reason} on {pending.folded} {involved.get('kind') or 'object'}s "
            f"(folded while the event queue was full); latest {involved.get('name')}: "
            f"{message}")[:1024]
        pending.body["lastTimestamp"] = _now()

    def _enqueue(self, key: EventKey, pending: _Pending) -> None:
        self._pending[key] = pending
        self._idle.clear()
        self._ready.set()

    async def _post_forever(self) -> None:
        while True:
            if not self._pending:
                if not self._in_flight:
                    self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            key, pending = self._pending.popitem(last=False)
            earlier = self._in_flight.get(key)
            if earlier is not None:  # the same key's previous Event first: then patch it
                with contextlib.suppress(Exception):
                    await asyncio.shield(earlier)
            done = self._in_flight[key] = asyncio.get_running_loop().create_future()
            try:
                await self._send(key, pending)
            except Exception as exc:  # noqa: BLE001 - ApiException, aiohttp errors, timeouts
                # Events are best effort: losing one must never stop the controller (nor this
                # poster: an escaped error would end the task and with it all later Events).
                log.warning("could not post event %s: %s", pending.body["reason"], exc)
            finally:
                done.set_result(None)
                if self._in_flight.get(key) is done:
                    del self._in_flight[key]

    async def _send(self, key: EventKey, pending: _Pending) -> None:
        body = pending.body
        series = self._series.get(key)
        if series is not None and time.monotonic() - series.posted_at < SERIES_WINDOW:
            count = series.count + pending.count
            patch: Obj = {"count": count, "lastTimestamp": body["lastTimestamp"]}
            if pending.render is not None:  # a summary says its count in words too
                patch["message"] = pending.render(count)
            try:
                await call_json(self.core.patch_namespaced_event, series.name, series.namespace,
                                patch, content_type=MERGE, raw=True)
                self._remember(key, series.name, series.namespace, count)
                return
            except client.ApiException as exc:
                if exc.status != 404:  # gone (Events expire): post a new one below
                    raise
        body["count"] = pending.count
        if pending.render is not None:
            body["message"] = pending.render(pending.count)
        # raises ApiException on an error status
        created = await call_json(self.core.create_namespaced_event,
                                  body["metadata"]["namespace"], body, raw=True)
        name = (created.get("metadata") or {}).get("name")
        if name:
            self._remember(key, name, body["metadata"]["namespace"], pending.count)

    def _remember(self, key: EventKey, name: str, namespace: str, count: int) -> None:
        self._series[key] = _Series(name, namespace, count, time.monotonic())
        self._series.move_to_end(key)
        while len(self._series) > SERIES_MEMORY:
            self._series.popitem(last=False)

    def queued(self, obj: Obj, type_: str, reason: str) -> list[Obj]:
        """The queued (not yet posted) Event bodies for this object, type and reason (tests)."""
        who = _who(obj.get("metadata", {}))
        return [{**p.body, "count": p.count,
                 **({"message": p.render(p.count)} if p.render is not None else {})}
                for k, p in self._pending.items() if k[:3] == (who, type_, reason)]

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until queued events are posted (tests, shutdown), at most ``timeout`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

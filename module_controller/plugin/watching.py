"""``kubectl module status NAME --watch``: the ModuleDeployment, its revisions, its Modules and its
Events followed through Kubernetes watches (one list, then a watch from the list's
resourceVersion, per kind), redrawn when the facts change.

Every request has a timeout: a watch ends on the server after ``WATCH_SECONDS`` and is made
again from the last resourceVersion seen; an expired version (410) lists again; a lost
connection is retried a bounded number of times with a growing pause, then the command fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from ..api import constants as c
from . import render, view
from .output import Output
from .errors import PluginError
from .kube import ListCall, PluginIO, api_error, event_selector

#: Lost watch connections in a row before ``--watch`` gives up; the pause between two doubles.
WATCH_RETRIES = 5
FIRST_PAUSE = 0.5


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Source:
    """One kind followed: its objects by uid and where the watch goes on from."""

    what: str
    call: ListCall
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    resource_version: str | None = None

    def replace(self, items: list[dict[str, Any]], resource_version: str | None) -> None:
        self.items = {_key(o): o for o in items}
        self.resource_version = resource_version

    def objects(self) -> list[dict[str, Any]]:
        return list(self.items.values())


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or meta.get("name"))


async def _list(io: PluginIO, source: Source) -> None:
    listing = await io.listing(source.call, source.what)
    source.replace(listing.items, listing.resource_version)


async def _follow(io: PluginIO, source: Source, changed: asyncio.Event) -> None:
    failures = 0
    while True:
        try:
            async for kind, obj in io.changes(source.call, source.resource_version):
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if kind == "DELETED":
                    source.items.pop(_key(obj), None)
                elif kind in ("ADDED", "MODIFIED"):
                    source.items[_key(obj)] = obj
                source.resource_version = version or source.resource_version
                if kind != "BOOKMARK":
                    changed.set()
            failures = 0
        except ApiException as exc:
            if exc.status != 410:
                raise PluginError(f"cannot watch {source.what} in namespace "
                                  f'"{io.namespace}": {api_error(exc)}') from None
            await _list(io, source)  # the version expired: list again, watch from there
            changed.set()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failures += 1
            if failures > WATCH_RETRIES:
                raise PluginError(f"lost the watch of {source.what} {failures} times: "
                                  f"{exc or type(exc).__name__}") from None
            await asyncio.sleep(FIRST_PAUSE * 2 ** (failures - 1))


async def follow_status(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    """Draw when the facts change (absolute times compared, so ages ticking do not count; on a
    terminal a running gray-time countdown is redrawn every second); stop at Ctrl-C (the
    caller), ``--timeout``, or with ``--until-done`` once done."""
    name = args.name
    md = await io.get_deployment(name)  # not found: the error names it
    uid = (md.get("metadata") or {}).get("uid")
    by_deployment = f"{c.LABEL_MODULE_DEPLOYMENT}={name}"
    deployment = Source("moduledeployments", io.list_call(
        c.MODULE_DEPLOYMENT.plural, field_selector=f"metadata.name={name}"))
    sources = [deployment,
               Source("modulereplicasets", io.list_call(c.MODULE_REPLICA_SET.plural,
                                                        label_selector=by_deployment)),
               Source("modules", io.list_call(c.MODULE.plural, label_selector=by_deployment))]
    events = Source("events", io.event_call(event_selector(name, uid)))
    for source in sources:
        await _list(io, source)
    if args.events > 0:
        try:
            await _list(io, events)
            sources.append(events)
        except PluginError:
            pass  # events may not be readable: shown as none, as without --watch
    changed = asyncio.Event()
    followers = [asyncio.create_task(_follow(io, s, changed)) for s in sources]
    try:
        return await _draw_until_done(args, out, sources, events, changed, followers)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


async def _draw_until_done(args: argparse.Namespace, out: Output, sources: list[Source],
                           events: Source, changed: asyncio.Event,
                           followers: list[asyncio.Task[None]]) -> int:
    deployment, replicasets, modules = sources[:3]
    deadline = time.monotonic() + args.timeout if args.timeout else None
    tty = args.output == "table" and out.isatty()
    last = None
    while True:
        mds = deployment.objects()
        if not mds:
            out.write(f"moduledeployment {args.name} is gone\n")
            out.flush()
            return 0
        now = _now()
        current = view.status_view(mds[0], replicasets.objects(), modules.objects(),
                                   events.objects(), now=now, event_limit=args.events)
        facts = view.to_data(current)
        ticking = tty and any(g.not_before for g in current.groups)
        if facts != last or ticking:
            last = facts
            _draw(current, args.output, out, tty, now)
        if args.until_done and current.done:
            return 0
        if args.until_done and current.stuck:
            raise PluginError(f'moduledeployment "{args.name}" will not complete until you act: '
                              f"{current.stuck}")
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            if args.until_done:
                hint = f"; {current.next_steps[-1]}" if current.next_steps else ""
                raise PluginError(f"timed out after {args.timeout:g}s waiting for moduledeployment "
                                  f'"{args.name}" to complete ({current.where}){hint}')
            return 0
        await _next_change(changed, followers, 1.0 if ticking else left)
        # Changes come in bursts (a group's Modules, its Events): draw them together.
        pause = args.interval if deadline is None else \
            min(args.interval, deadline - time.monotonic())
        await asyncio.sleep(max(0.0, pause))


async def _next_change(changed: asyncio.Event, followers: list[asyncio.Task[None]],
                       timeout: float | None) -> None:
    """Until a watch reports a change or ``timeout`` passes; a watch that failed raises."""
    waiter = asyncio.create_task(changed.wait())
    try:
        await asyncio.wait([waiter, *followers], timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    for task in followers:
        failure = task.exception() if task.done() and not task.cancelled() else None
        if failure is not None:
            raise failure
    changed.clear()


def _draw(current: view.StatusView, output: str, out: Output, tty: bool,
          now: dt.datetime) -> None:
    if output == "json":
        out.write(json.dumps(view.to_data(current)) + "\n")  # one document a line, as kubectl -w
    elif output == "yaml":
        out.write("---\n" + render.data(current, "yaml"))
    elif output == "name":
        out.write(render.names(c.MODULE_DEPLOYMENT.singular, [current.name]))
    else:
        out.write("\x1b[H\x1b[2J" if tty else f"--- {now.strftime('%H:%M:%SZ')}\n")
        out.write(render.status_table(current, now, wide=output == "wide"))
    out.flush()

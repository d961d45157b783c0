"""The subcommands: read through :mod:`.kube`, decide with :mod:`.view`, print with :mod:`.render`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from typing import Callable, TextIO

from ..api import constants as c
from . import render, view
from .abort import abort as abort_change
from .retry import retry as retry_change
from .kube import Conflict, NotFound, PluginError, PluginIO

WRITE_ATTEMPTS = 5


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def read_status(io: PluginIO, name: str, events: int) -> view.StatusView:
    md = await io.get_deployment(name)
    uid = (md.get("metadata") or {}).get("uid")
    replicasets, modules, evs = await asyncio.gather(
        io.replicasets(name), io.modules(f"{c.LABEL_MODULE_DEPLOYMENT}={name}"),
        io.events(name, uid) if events > 0 else _empty())
    return view.status_view(md, replicasets, modules, evs, now=_now(), event_limit=events)


async def _empty() -> list:
    return []


async def status(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    if not args.watch:
        out.write(render.status(await read_status(io, args.name, args.events), args.output, _now()))
        return 0
    return await watch(io, args, out)


async def watch(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    """Redraw when the facts change (absolute times compared, so ages ticking do not count);
    stop at Ctrl-C (the caller), ``--timeout``, or with ``--until-done`` once done."""
    deadline = time.monotonic() + args.timeout if args.timeout else None
    clear = args.output == "table" and out.isatty()
    last = None
    while True:
        try:
            current = await read_status(io, args.name, args.events)
        except PluginError:
            if last is not None:  # it existed: deleted while we watched
                out.write(f"moduledeployment {args.name} is gone\n")
                out.flush()
                return 0
            raise
        facts = view.to_data(current)
        if facts != last:
            last = facts
            if args.output == "json":
                out.write(json.dumps(facts) + "\n")  # one document per line, like kubectl -w
            elif args.output == "yaml":
                out.write("---\n" + render.data(current, "yaml"))
            else:
                if clear:
                    out.write("\x1b[H\x1b[2J")
                else:
                    out.write(f"--- {_now().strftime('%H:%M:%SZ')}\n")
                out.write(render.status_table(current, _now()))
            out.flush()
        if args.until_done and current.done:
            return 0
        if args.until_done and current.stuck:
            raise PluginError(f'moduledeployment "{args.name}" will not complete until you act: '
                              f"{current.stuck}")
        if deadline is not None and time.monotonic() >= deadline:
            if args.until_done:
                where = f"progress {current.progress}, group {current.batch}" \
                    if current.progress else "no release status yet"
                hint = f"; {current.next_steps[-1]}" if current.next_steps else ""
                raise PluginError(f'timed out after {args.timeout:g}s waiting for moduledeployment '
                                  f'"{args.name}" to complete ({where}){hint}')
            return 0
        pause = args.interval if deadline is None else \
            max(0.0, min(args.interval, deadline - time.monotonic()))
        await asyncio.sleep(pause)


async def _then(io: PluginIO, name: str, written: dict, patch: dict | None,
                wait: float) -> str | None:
    """What the controller did with our write, once it acted (the spec's generation observed,
    the request annotation read) or ``wait`` seconds passed: progress, revision, what is given
    up, and the Events it posted since."""
    meta = written.get("metadata") or {}
    generation = meta.get("generation")
    if generation is None or wait <= 0:
        return None
    asked = [k for k, v in ((patch or {}).get("metadata") or {}).get("annotations", {}).items()
             if v is not None]
    since = _now().replace(microsecond=0)
    deadline = time.monotonic() + wait
    while True:
        try:
            md = await io.get_deployment(name)
        except NotFound:
            # The write let a deletion finish (promote during an offline): that is what it did.
            return "the ModuleDeployment is gone (its offline finished)"
        status = md.get("status") or {}
        acted = (status.get("observedGeneration") or 0) >= generation and not any(
            k in ((md.get("metadata") or {}).get("annotations") or {}) for k in asked)
        if acted or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(0.3, max(0.0, deadline - time.monotonic())))
    if not acted:
        return (f"the controller has not acted on it within {wait:g}s (is it running? see "
                f"kubectl module status {name})")
    current = view.status_view(md, await io.replicasets(name), [],
                               await io.events(name, meta.get("uid")), now=_now(),
                               event_limit=20)
    parts = [f"progress {current.progress}, revision {current.update_revision}, group "
             f"{current.batch}"]
    if current.given_up:
        parts.append(current.given_up)
    parts += [f"{e.reason}: {e.message}" for e in current.events
              if e.last_seen is not None and e.last_seen >= since]
    return "; ".join(parts)


async def _write(io: PluginIO, name: str, decide: Callable[[dict, list[dict]], view.Change],
                 needs_revisions: bool, output: str, out: TextIO, wait: float = 0.0) -> int:
    """Read, decide, patch with the resourceVersion read; on a conflict read again."""
    for _ in range(WRITE_ATTEMPTS):
        md = await io.get_deployment(name)
        replicasets = await io.replicasets(name) if needs_revisions else []
        try:
            change = decide(md, replicasets)
        except view.ViewError as exc:
            raise PluginError(str(exc)) from None
        written = None
        if change.patch is not None:
            try:
                written = await io.patch_deployment(name, change.patch)
            except Conflict:
                continue
        then = await _then(io, name, written, change.patch, wait) if written else None
        if output == "table":
            out.write(change.message + "\n" + (f"then: {then}\n" if then else ""))
        else:
            out.write(render.data({"name": name, "namespace": io.namespace,
                                   "changed": change.patch is not None,
                                   "message": change.message, "then": then}, output))
        return 0
    raise PluginError(f'moduledeployment "{name}" in namespace "{io.namespace}" kept changing; '
                      "try again")


async def promote(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, _: view.promote(md), False, args.output, out,
                        args.wait)


async def pause(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, _: view.set_pause(md, True), False,
                        args.output, out, args.wait)


async def resume(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, _: view.set_pause(md, False), False,
                        args.output, out, args.wait)


async def undo(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, rs: view.undo(md, rs, args.to_revision), True,
                        args.output, out, args.wait)


async def abort(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, _: abort_change(md), False, args.output, out,
                        args.wait)


async def retry(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    return await _write(io, args.name, lambda md, _: retry_change(md), False, args.output, out,
                        args.wait)


async def history(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    md = await io.get_deployment(args.name)
    rows = view.history(md, await io.replicasets(args.name))
    out.write(render.history(rows, args.output, _now()))
    return 0


async def get(io: PluginIO, args: argparse.Namespace, out: TextIO) -> int:
    rows = view.base_modules(await io.modules(view.base_selector(args.base)))
    if not rows and args.output == "table":
        print(f'No modules on base "{args.base}" in namespace "{io.namespace}".', file=sys.stderr)
        return 0
    out.write(render.base_modules(rows, args.output, _now()))
    return 0


COMMANDS = {"status": status, "promote": promote, "pause": pause, "resume": resume,
            "undo": undo, "abort": abort, "retry": retry, "history": history, "get": get}

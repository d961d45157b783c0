"""The subcommands: read through :mod:`.kube`, decide with :mod:`.view`, print with :mod:`.render`.

Loaded only once the command line is parsed (:mod:`.main`), so ``--help`` never pays for the
client libraries this module brings in.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from typing import Any, Awaitable, Callable

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from ..api import constants as c
from . import render, view
from .abort import abort as abort_change
from .output import Output
from .errors import Conflict, NotFound, PluginError
from .kube import PluginIO, api_error, connect, resolve
from .retry import retry as retry_change

WRITE_ATTEMPTS = 5
#: How often a writing command looks whether the controller acted on its write (``--wait``).
THEN_POLL_SECONDS = 0.3

Command = Callable[[PluginIO, argparse.Namespace, Output], Awaitable[int]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def dispatch(args: argparse.Namespace, out: Output) -> int:
    """Connect as kubectl would and run the command; API and network failures become one
    ``error:`` line naming what failed."""
    target = resolve(args.kubeconfig, args.context, args.namespace)
    api = await connect(target)
    async with api:
        try:
            return await COMMANDS[args.command](PluginIO(api, target.namespace), args, out)
        except ApiException as exc:
            raise PluginError(api_error(exc)) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            host = api.configuration.host
            raise PluginError(f"cannot reach the API server {host}: "
                              f"{exc or type(exc).__name__}") from None


async def read_status(io: PluginIO, name: str, events: int) -> view.StatusView:
    md = await io.get_deployment(name)
    uid = (md.get("metadata") or {}).get("uid")
    replicasets, modules, evs = await asyncio.gather(
        io.replicasets(name), io.modules(f"{c.LABEL_MODULE_DEPLOYMENT}={name}"),
        io.events(name, uid) if events > 0 else _empty())
    return view.status_view(md, replicasets, modules, evs, now=_now(), event_limit=events)


async def _empty() -> list[dict[str, Any]]:
    return []


async def status(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    if not args.watch:
        out.write(render.status(await read_status(io, args.name, args.events), args.output, _now()))
        return 0
    from .watching import follow_status

    return await follow_status(io, args, out)


async def list_(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    rows = view.deployments(await io.deployments(args.all_namespaces))
    if not rows and args.output in ("table", "wide"):
        where = "any namespace" if args.all_namespaces else f'namespace "{io.namespace}"'
        print(f"No moduledeployments found in {where}.", file=sys.stderr)
        return 0
    out.write(render.deployments(rows, args.output, _now(), args.all_namespaces))
    return 0


async def _then(io: PluginIO, name: str, written: dict[str, Any], patch: dict[str, Any] | None,
                wait: float) -> list[str] | None:
    """What the controller did with our write, once it acted (the spec's generation observed,
    the request annotation read) or ``wait`` seconds passed: a line with progress, revision and
    what is given up, then one line per Event it posted since."""
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
            return ["the ModuleDeployment is gone (its offline finished)"]
        status = md.get("status") or {}
        acted = (status.get("observedGeneration") or 0) >= generation and not any(
            k in ((md.get("metadata") or {}).get("annotations") or {}) for k in asked)
        if acted or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(THEN_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    if not acted:
        return [f"the controller has not acted on it within {wait:g}s (is it running? see "
                f"kubectl module status {name})"]
    current = view.status_view(md, await io.replicasets(name), [],
                               await io.events(name, meta.get("uid")), now=_now(),
                               event_limit=20)
    summary = f"{current.where}, revision {current.update_revision}"
    if current.given_up:
        summary += f"; {current.given_up}"
    return [summary] + [f"event {e.reason}: {e.message}" for e in current.events
                        if e.last_seen is not None and e.last_seen >= since]


async def _write(io: PluginIO, args: argparse.Namespace, out: Output,
                 decide: Callable[[dict[str, Any], list[dict[str, Any]]], view.Change],
                 needs_revisions: bool = False) -> int:
    """Read, decide, patch with the resourceVersion read (on a conflict read again); print what
    was written, then (``--wait``) what the controller did with it."""
    name = args.name
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
        if args.output == "name":
            out.write(render.names(c.MODULE_DEPLOYMENT.singular, [name]))
            out.flush()
        elif args.output in ("table", "wide"):
            out.write(change.message + "\n")
            out.flush()  # what was written shows at once; what happened follows
        then = await _then(io, name, written, change.patch, args.wait) if written else None
        if args.output in ("table", "wide") and then:
            out.write(f"then: {then[0]}\n" + "".join(f"  {line}\n" for line in then[1:]))
        elif args.output in ("json", "yaml"):
            out.write(render.data({"name": name, "namespace": io.namespace,
                                   "changed": change.patch is not None,
                                   "wrote": change.patch and _written_fields(change.patch),
                                   "message": change.message, "then": then}, args.output))
        return 0
    raise PluginError(f'moduledeployment "{name}" in namespace "{io.namespace}" kept changing; '
                      "try again")


def _written_fields(patch: dict[str, Any]) -> dict[str, Any]:
    """The patch without the resourceVersion precondition: what the command wrote."""
    meta = {k: v for k, v in (patch.get("metadata") or {}).items() if k != "resourceVersion"}
    return {k: v for k, v in {**patch, "metadata": meta}.items() if v}


async def promote(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, _: view.promote(md, full=args.full))


async def pause(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, _: view.set_pause(md, True))


async def resume(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, _: view.set_pause(md, False))


async def undo(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, rs: view.undo(md, rs, args.to_revision),
                        needs_revisions=True)


async def abort(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, _: abort_change(md))


async def retry(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out, lambda md, _: retry_change(md))


async def set_version(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    return await _write(io, args, out,
                        lambda md, _: view.set_version(md, args.version, args.url, args.keep_url))


async def history(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    md = await io.get_deployment(args.name)
    rows = view.history(md, await io.replicasets(args.name))
    out.write(render.history(rows, args.output, _now()))
    return 0


async def get(io: PluginIO, args: argparse.Namespace, out: Output) -> int:
    rows = view.base_modules(await io.modules(view.base_selector(args.base)))
    if not rows and args.output in ("table", "wide"):
        print(f'No modules on base "{args.base}" in namespace "{io.namespace}".', file=sys.stderr)
        return 0
    out.write(render.base_modules(rows, args.output, _now()))
    return 0


COMMANDS: dict[str, Command] = {
    "list": list_, "status": status, "promote": promote, "pause": pause, "resume": resume,
    "undo": undo, "abort": abort, "retry": retry, "set-version": set_version,
    "history": history, "get": get}

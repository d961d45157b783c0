"""``module-controller migrate``: switch a live cluster from upstream's Go v1 controller to this
one (``crds``) and back (``to-upstream``). docs/migration.md tells the whole procedure.

``crds`` replaces the CRDs after checking that every stored object reads under this project's
models, and checks again after: each object parses and the API server would accept it as a new
object (a dry-run create). The controller then adopts the objects (controllers/adoption.py).

``to-upstream`` (with this controller stopped) applies upstream's CRDs from the directory given
and rewrites every object into the shape upstream's controller needs (migrate/upstream_shape.py),
then asks the API server whether it would accept each object as new under upstream's schema.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from ..api import KINDS, KubeObject
from ..api import constants as c
from ..api.crdgen import build_crd
from ..api.errors import describe
from ..api.objects import format_time
from ..api.objects import now as current_time
from ..kube.client import make_api_client
from . import upstream_shape as shape
from .cluster import Cluster
from .pruning import describe as describe_pruned, pruned_fields

Obj = dict[str, Any]


def _answer(exc: ApiException) -> str:
    """The API server's answer in ``exc`` as text (the client keeps it as bytes)."""
    body = exc.body
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _problems_of(model: type[KubeObject], objects: list[Obj]) -> list[str]:
    out = []
    for obj in objects:
        try:
            model.from_api(obj)
        except ValidationError as exc:
            meta = obj.get("metadata") or {}
            out.append(f"{model.crd.names.kind} {meta.get('namespace')}/{meta.get('name')}: "
                       f"{describe(exc)}")
    return out


async def _read_all(cluster: Cluster) -> dict[type[KubeObject], list[Obj]]:
    return {model: await cluster.list(model.crd.names.plural) for model in KINDS}


async def to_ours(cluster: Cluster, force: bool) -> int:
    before = await _read_all(cluster)
    problems = [p for model, objs in before.items() for p in _problems_of(model, objs)]
    for problem in problems:
        _say(f"does not read: {problem}")
    if problems and not force:
        _say("nothing changed: fix these objects first (or --force to switch anyway; they "
             "will report InvalidSpec naming the field)")
        return 1
    crds = [build_crd(model) for model in KINDS]
    for model, crd in zip(KINDS, crds):  # lost with the switch: said before, with the values
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for obj in before[model]:
            for path, value in pruned_fields(schema, obj):
                _say(f"pruned by the switch: {describe_pruned(model.crd.names.kind, obj, path, value)}")
    await cluster.apply_crds(crds)
    _say("replaced the CRDs with this project's")
    after = await _read_all(cluster)
    problems, refused = [], []
    for model, objs in after.items():
        for obj in objs:
            unreadable = _problems_of(model, [obj])
            problems += unreadable
            # A dry-run create, not a dry-run update: under validation ratcheting an update
            # may keep an invalid field it does not change, so it proves nothing of the object.
            line = await _refused_as_new(cluster, model.crd.names.plural, obj)
            if line and not unreadable:
                refused.append(line)  # an object that reads must also be valid as stored
    for line in problems + refused:
        _say(f"after the switch: {line}")
    count = sum(len(objs) for objs in after.values())
    _say(f"{count} stored objects read and are valid under this project's CRDs"
         if not problems and not refused else "some objects need attention (above)")
    # Objects that do not read (and so are not valid as new either) were switched on purpose
    # with --force: they report InvalidSpec naming the field.
    return 0 if not refused and (force or not problems) else 1


async def _refused_as_new(cluster: Cluster, plural: str, obj: Obj) -> str | None:
    """Why the API server would refuse ``obj`` as a new object under the CRDs it serves now
    (every field validated, none ratcheted; a dry run, nothing stored); None: it would not."""
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return None  # going: nobody writes or reads it again
    try:
        await cluster.create_dry_run(plural, obj)
    except ApiException as exc:
        if exc.status == 403 and "NamespaceTerminating" in _answer(exc):
            return None  # its namespace is going
        if exc.status == 404:
            return None  # its namespace went since the list (a create of a served kind)
        return f"{obj['kind']} {meta.get('namespace')}/{meta['name']}: {exc.reason}: {_answer(exc)}"
    return None


def _upstream_crds(directory: Path) -> list[Obj]:
    crds = [doc for path in sorted(directory.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]
    names = {crd["metadata"]["name"] for crd in crds}
    wanted = {f"{model.crd.names.plural}.{c.GROUP}" for model in KINDS}
    if not wanted <= names:
        raise SystemExit(f"error: {directory} lacks the CRDs {sorted(wanted - names)}")
    return [crd for crd in crds if crd["metadata"]["name"] in wanted]


async def to_upstream(cluster: Cluster, crds_dir: Path) -> int:
    crds = _upstream_crds(crds_dir)
    objects = {model.crd.names.kind: await cluster.list(model.crd.names.plural)
               for model in KINDS}
    now = format_time(current_time())
    bases: dict[tuple[str, str | None], Obj | None] = {}
    plans: list[tuple[str, Obj, Obj | None, Obj | None]] = []  # plural, object, patch, status
    refused = []
    for md in objects[c.MODULE_DEPLOYMENT.kind]:
        ns, base = md["metadata"]["namespace"], (md.get("spec") or {}).get("baseDeploymentName")
        if (ns, base) not in bases:
            bases[ns, base] = await cluster.deployment(ns, base) if base else None
        try:
            patch, status = shape.deployment(md, bases[ns, base])
        except shape.NotConvertible as exc:
            refused.append(str(exc))
            continue
        plans.append((c.MODULE_DEPLOYMENT.plural, md, patch, status))
    for mrs in objects[c.MODULE_REPLICA_SET.kind]:
        plans.append((c.MODULE_REPLICA_SET.plural, mrs, shape.replicaset(mrs),
                      shape.replicaset_status(mrs)))
    for mod in objects[c.MODULE.kind]:
        plans.append((c.MODULE.plural, mod, shape.module(mod), shape.module_status(mod, now)))
    for line in refused:
        _say(f"cannot go back: {line}")
    if refused:
        _say("nothing changed")
        return 1
    await cluster.apply_crds(crds)
    _say(f"applied upstream's CRDs from {crds_dir}")
    # The CRDs are upstream's now: one object that fails must not leave the others unwritten,
    # so each failure is told and the rest go on; a second run rewrites what is left.
    failed = []
    for plural, obj, change, new_status in plans:
        try:
            if change:
                obj = await cluster.patch(plural, obj, change)
            if new_status:
                await cluster.patch_status(plural, obj, new_status)
        except ApiException as exc:
            if exc.status != 404:  # 404: deleted meanwhile, nothing to give back
                failed.append(f"{obj.get('kind')} {obj['metadata'].get('namespace')}/"
                              f"{obj['metadata']['name']}: {exc.status} {exc.reason}: {_answer(exc)}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            failed.append(f"{obj.get('kind')} {obj['metadata'].get('namespace')}/"
                          f"{obj['metadata']['name']}: {exc!r}")
    for line in failed:
        _say(f"not rewritten: {line}")
    if failed:
        _say("upstream's CRDs are in place but some objects are not in upstream's shape "
             "(above): run `module-controller migrate to-upstream` again before starting "
             "upstream's controller")
        return 1
    rejected = []
    for model in KINDS:
        for obj in await cluster.list(model.crd.names.plural):
            refusal = await _refused_as_new(cluster, model.crd.names.plural, obj)
            if refusal:
                rejected.append(refusal)
            revision = ((obj.get("status") or {}).get("releaseStatus") or {}).get("updateRevision")
            if revision is not None and not isinstance(revision, str):
                rejected.append(f"{obj['kind']} {obj['metadata']['name']}: "
                                f"status.releaseStatus.updateRevision: {revision!r}")
    for line in rejected:
        _say(f"upstream's schema refuses: {line}")
    _say(f"{len(plans)} objects in upstream's shape; start upstream's controller"
         if not rejected else "some objects need attention (above)")
    return 0 if not rejected else 1


async def _main(args: argparse.Namespace) -> int:
    api = await make_api_client(args.kubeconfig)
    try:
        cluster = Cluster(api)
        if args.migrate_command == "crds":
            return await to_ours(cluster, args.force)
        return await to_upstream(cluster, args.upstream_crds)
    finally:
        await api.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="module-controller migrate",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="migrate_command", required=True)
    crds = sub.add_parser("crds", help="replace upstream's CRDs with this project's, "
                          "checking every stored object before and after")
    crds.add_argument("--force", action="store_true",
                      help="switch even if some stored objects do not read (they will report "
                           "InvalidSpec)")
    back = sub.add_parser("to-upstream", help="stop this controller first: upstream's CRDs "
                          "and every object in the shape upstream's controller needs")
    back.add_argument("--upstream-crds", type=Path, required=True,
                      help="directory of upstream's CRD YAML files (its config/crd/bases)")
    for p in (crds, back):
        p.add_argument("--kubeconfig", default=None, help="kubeconfig (default: $KUBECONFIG)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (ApiException, TimeoutError, aiohttp.ClientError, OSError) as exc:
        _say(f"error: {exc}")
        return 1

"""The objects upstream's Go v1 controller left (data/), and small readers of them."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"
UPSTREAM_CRDS = DATA / "upstream-crds"
COMPLETED = "objects-completed.yaml"
PAUSED = "objects-paused-after-group-1.yaml"


def objects(recording: str) -> list[dict[str, Any]]:
    return copy.deepcopy(yaml.safe_load((DATA / recording).read_text())["items"])


def of_kind(recording: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects(recording) if o["kind"] == kind]


def served(recording: str, kind: str) -> list[dict[str, Any]]:
    """The objects of ``kind`` as the API server serves them once this project's CRDs are in
    place: without the fields it prunes (on read too; the cluster test checks it)."""
    from module_controller.api import KINDS
    from module_controller.api.crdgen import build_crd
    from module_controller.migrate.pruning import pruned_fields

    model = next(m for m in KINDS if m.crd.names.kind == kind)
    schema = build_crd(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    out = of_kind(recording, kind)
    for obj in out:
        for path, _ in pruned_fields(schema, obj):
            *parents, last = re.findall(r"[^.\[\]]+", path)
            node: Any = obj
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            del node[last]
    return out

"""The objects upstream's Go v1 controller left (data/), and small readers of them."""

from __future__ import annotations

import copy
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

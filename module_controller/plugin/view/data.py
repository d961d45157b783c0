"""Views as plain data, for ``-o json`` and ``-o yaml``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from ...api.objects import format_time


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def to_data(value: Any) -> Any:
    """A view as plain data for JSON/YAML: camelCase keys, RFC 3339 times."""
    if hasattr(value, "__dataclass_fields__"):
        return {_camel(k): to_data(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {_camel(str(k)): to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_time(value)
    return value

"""A pydantic ValidationError told the way a person fixing the object needs it: each failing
field by its path in the object (``spec.operationStrategy.batchCount``), the value stored there
and what is wrong with it. pydantic's own ``str()`` starts with "1 validation error for
ModuleDeployment", which names neither."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

#: At most this many fields are named; the rest are counted.
SHOWN = 3
#: A stored value longer than this is cut (a whole template in a message helps nobody).
VALUE_MAX = 80


def _path(loc: tuple[int | str, ...]) -> str:
    """``('spec', 'items', 0, 'name')`` -> ``spec.items[0].name``; pydantic's union branch tags
    (``int``, ``function-after[...]``) are not fields and are left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part in ("int", "str", "float", "bool", "none", "list", "dict"):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(object)"


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 3] + "..."


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe(exc: ValidationError) -> str:
    """``spec.x.y: <value>: <why>``, for each failing field (one line; several joined by ``;``)."""
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = _path(error.get("loc", ()))
        if path in seen:  # one line per field (a union reports each branch)
            continue
        if error.get("type") == "missing":
            seen[path] = f"{path}: required field is missing"
        else:
            seen[path] = f"{path}: {_value(error.get('input'))}: {_message(error.get('msg', ''))}"
    lines = list(seen.values())
    more = len(lines) - SHOWN
    text = "; ".join(lines[:SHOWN])
    return f"{text}; and {more} more" if more > 0 else text

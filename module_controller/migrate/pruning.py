"""Which fields of a stored object the API server drops under a CRD's structural schema (pure).

Fields a schema does not declare are pruned: on every write, and on every read of an object
stored before the schema changed, so switching the CRDs loses them even though no object is
rewritten. ``migrate crds`` lists them, with their values, before it switches.
"""

from __future__ import annotations

import json
from typing import Any

Obj = dict[str, Any]

#: Top-level fields every object keeps whatever its schema says (metadata has rules of its own).
_KEPT = ("apiVersion", "kind", "metadata")


def pruned_fields(schema: Obj, obj: Obj) -> list[tuple[str, Any]]:
    """(path, value) of each field of ``obj`` the ``openAPIV3Schema`` ``schema`` does not
    declare (the outermost such field; what lies under it goes with it)."""
    out: list[tuple[str, Any]] = []
    top = {k: v for k, v in obj.items() if k not in _KEPT}
    _walk(schema, top, "", out)
    return out


def _walk(schema: Obj, value: Any, path: str, out: list[tuple[str, Any]]) -> None:
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if props is not None and key in props:
                _walk(props[key], item, where, out)
            elif isinstance(extra, dict):
                _walk(extra, item, where, out)
            elif props is not None or extra is None:
                out.append((where, item))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(schema["items"], item, f"{path}[{i}]", out)


def describe(kind: str, obj: Obj, path: str, value: Any) -> str:
    meta = obj.get("metadata") or {}
    return (f"{kind} {meta.get('namespace')}/{meta.get('name')}: {path} = "
            f"{json.dumps(value, sort_keys=True, default=str)}")

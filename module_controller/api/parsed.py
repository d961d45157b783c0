"""Validated models of cached objects, parsed once per object version.

A reconcile validates its object (and the Module reconciler its owning ModuleReplicaSet, the
ModuleDeployment reconciler every other ModuleDeployment of its namespace) into a pydantic
model; at 1,000 Modules that was ~5 % of the controller's CPU, mostly parsing the same few
owners again for every Module. An object version never changes (uid + resourceVersion), so
its model is kept in a small LRU (runtime.memo.Lru) and handed out again. The models are read, never changed,
by their callers (a changed model would be shared); invalid objects are not remembered (the
ValidationError is raised every time, as before).
"""

from __future__ import annotations

from typing import Any, TypeVar

from ..runtime.memo import Lru
from .base import KubeModel

M = TypeVar("M", bound=KubeModel)

#: Enough for every owner and the Modules reconciled at once (256 Module workers). A Module's
#: model takes ~8 kB: 2,048 of them held 16.5 MB at any release of that size, for Modules whose
#: next reconcile mostly sees a new version anyway (its own status write).
SIZE = 512
_parsed: Lru[Any] = Lru(SIZE)


def parsed(model: type[M], obj: dict[str, Any]) -> M:
    """``model.from_api(obj)``, memoised by the object's uid and resourceVersion."""
    meta = obj.get("metadata") or {}
    uid, rv = meta.get("uid"), meta.get("resourceVersion")
    if not uid or not rv:
        return model.from_api(obj)
    value: M = _parsed.get((model, uid, rv), lambda: model.from_api(obj))
    return value

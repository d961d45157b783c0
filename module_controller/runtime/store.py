"""In-memory copies of watched objects (what client-go calls an informer cache).

Fed by kopf's watch events and by the answers to our own writes. A copy never replaces a newer
one: resourceVersions of one object increase (etcd revisions), so an answer to our write and a
watch event for it can arrive in either order without the cache going back in time.

Only what a reader can use is kept (docs/performance.md): ``metadata.managedFields`` and the
``kubectl apply`` annotation are dropped from every stored copy (together often larger than
the rest of a small object, and read by no controller), and a store may drop more with
``trim`` (e.g. :func:`slim`: a pod's spec). The caller's dict is not changed; the cache holds a
copy that shares everything it keeps.
"""

from __future__ import annotations

import sys
from collections import Counter, OrderedDict
from types import MappingProxyType
from typing import Any, Callable, Hashable, Iterator, Mapping

#: A Kubernetes object as the API returns it (JSON decoded).
Obj = dict[str, Any]

Key = tuple[str, str]  # (namespace, name)

#: What an object is filed under in one index (None: not in that index). Called on the
#: stored (trimmed) copy, so it must read only what the store keeps.
Indexer = Callable[[Obj], str | None]
#: A tally: (the group an object counts in, or None; the category it counts as).
Tally = tuple[Indexer, Callable[[Obj], Hashable]]


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def _rv(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


TOMBSTONES = 10_000
_NONE: Counter[Hashable] = Counter()  # the tally of a group with no objects (never written)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _without_bookkeeping(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations")
    if "managedFields" not in meta and not (annotations and LAST_APPLIED in annotations):
        return obj
    meta = {k: v for k, v in meta.items() if k != "managedFields"}
    if annotations and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {**obj, "metadata": meta}


#: Strings up to this long are shared between cached copies (keys, label values, names).
SHARED_STRING_MAX = 64


def shared(value: Any) -> Any:
    """``value`` rebuilt with its dict keys and short strings interned: one copy of
    ``serverless.alipay.com/module-replicaset`` (or "Available", or a pod's name) for every
    cached object that carries it, instead of one per object as the JSON decoder makes them
    (about half a cached Module's memory: docs/performance.md)."""
    if isinstance(value, dict):
        return {sys.intern(k) if type(k) is str else k: shared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shared(v) for v in value]
    if type(value) is str and len(value) <= SHARED_STRING_MAX:
        return sys.intern(value)
    return value


def slim(drop: tuple[str, ...] = (), status: tuple[str, ...] | None = None
         ) -> Callable[[Obj], Obj]:
    """A ``trim`` that drops the top-level fields ``drop`` and keeps only the ``status`` fields
    named (all when None): for kinds whose readers need a few fields of large objects."""
    def trim(obj: Obj) -> Obj:
        out = {k: v for k, v in obj.items() if k not in drop}
        if status is not None and isinstance(obj.get("status"), dict):
            out["status"] = {k: v for k, v in obj["status"].items() if k in status}
        return out
    return trim


def label_value(label: str) -> Indexer:
    """An indexer (or tally group) by the value of label ``label``."""
    def value(obj: Obj) -> str | None:
        return (obj["metadata"].get("labels") or {}).get(label)
    return value


class Store:
    """``index_labels``: labels whose values are indexed (``by_label``); ``indexes``: more
    indexes by name, each a function of the object (``by_index``), e.g. "the pods of this
    Deployment"; ``tallies``: counts by category per group (``tally``), e.g. "the Modules of
    this revision: 240 Available, 3 Failed". Indexes and tallies are kept on every upsert and
    removal, never rebuilt by a scan: a reader gets what it needs in time independent of how
    many objects are cached."""

    def __init__(self, kind: str, index_labels: tuple[str, ...] = (),
                 trim: Callable[[Obj], Obj] | None = None,
                 indexes: Mapping[str, Indexer] | None = None,
                 tallies: Mapping[str, Tally] | None = None):
        self.kind = kind
        self._trim = trim
        self._objects: dict[Key, Obj] = {}
        # index name -> (namespace, value) -> keys: "the Modules on this pod / of this
        # ModuleReplicaSet" without scanning every Module (thousands, on every reconcile).
        self._indexers: dict[str, Indexer] = {label: label_value(label) for label in index_labels}
        self._indexers.update(indexes or {})
        self._index: dict[str, dict[tuple[str, str], set[Key]]] = {
            name: {} for name in self._indexers}
        self._tally_by: dict[str, Tally] = dict(tallies or {})
        self._tallies: dict[str, dict[tuple[str, str], Counter[Hashable]]] = {
            name: {} for name in self._tally_by}
        # UIDs seen deleted, so a late answer to our own write (or our own "being deleted"
        # mark) cannot bring back an object the watch has already reported gone.
        self._tombstones: OrderedDict[str, None] = OrderedDict()

    def upsert(self, obj: Obj) -> tuple[Obj | None, bool]:
        """Store ``obj`` unless a newer copy is there or it is known deleted;
        return (previous copy, stored?).

        The version already cached (same uid and resourceVersion: the watch's echo of our own
        write, or our answer after its echo) counts as stored but is not copied again: it is
        the same object version, and the cached copy may carry a local mark (:meth:`mark`)."""
        key = key_of(obj)
        old = self._objects.get(key)
        if obj["metadata"].get("uid") in self._tombstones:
            return old, False
        if old is not None and old["metadata"].get("uid") == obj["metadata"].get("uid"):
            if _rv(old) > _rv(obj):
                return old, False
            if _rv(old) == _rv(obj) and _rv(obj):
                return old, True
        self._put(key, old, obj)
        return old, True

    def mark(self, obj: Obj) -> None:
        """Replace the cached copy with ``obj``, a local variant of the same version (e.g.
        marked as being deleted before the watch says so)."""
        key = key_of(obj)
        self._put(key, self._objects.get(key), obj)

    def _put(self, key: Key, old: Obj | None, obj: Obj) -> None:
        self._unindex(key, old)
        obj = _without_bookkeeping(obj)
        if self._trim is not None:
            obj = self._trim(obj)
        obj = shared(obj)
        self._objects[key] = obj
        self._reindex(key, obj)

    def _reindex(self, key: Key, obj: Obj) -> None:
        for name, index in self._index.items():
            value = self._indexers[name](obj)
            if value is not None:
                index.setdefault((key[0], value), set()).add(key)
        for name, (group_of, category_of) in self._tally_by.items():
            group = group_of(obj)
            if group is not None:
                self._tallies[name].setdefault((key[0], group), Counter())[category_of(obj)] += 1

    def _unindex(self, key: Key, obj: Obj | None) -> None:
        if obj is None:
            return
        for name, index in self._index.items():
            value = self._indexers[name](obj)
            if value is not None:
                bucket = index.get((key[0], value))
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del index[(key[0], value)]
        for name, (group_of, category_of) in self._tally_by.items():
            group = group_of(obj)
            if group is None:
                continue
            counts = self._tallies[name].get((key[0], group))
            if counts is not None:
                category = category_of(obj)
                counts[category] -= 1
                if counts[category] <= 0:
                    del counts[category]
                if not counts:
                    del self._tallies[name][(key[0], group)]

    def by_label(self, namespace: str, label: str, value: str) -> list[Obj]:
        """Objects in ``namespace`` whose label ``label`` is ``value`` (an indexed label)."""
        return self.by_index(label, namespace, value)

    def by_index(self, name: str, namespace: str, value: str) -> list[Obj]:
        """Objects in ``namespace`` that index ``name`` files under ``value``."""
        keys = self._index[name].get((namespace, value), ())
        return [self._objects[k] for k in list(keys) if k in self._objects]

    def tally(self, name: str, namespace: str, group: str) -> Mapping[Hashable, int]:
        """How many objects of ``group`` count as each category (0 for one not seen): a
        read-only view, not a copy (it is read on every wake of a busy reconciler), to be read
        before the store changes again."""
        return MappingProxyType(self._tallies[name].get((namespace, group)) or _NONE)

    def count(self, name: str, namespace: str, value: str) -> int:
        """How many objects :meth:`by_index` would return, without building the list."""
        return len(self._index[name].get((namespace, value), ()))

    def remove(self, obj: Obj) -> Obj | None:
        uid = obj["metadata"].get("uid")
        if uid:
            self._tombstones[uid] = None
            if len(self._tombstones) > TOMBSTONES:
                self._tombstones.popitem(last=False)
        key = key_of(obj)
        current = self._objects.get(key)
        if current is not None and current["metadata"].get("uid") == obj["metadata"].get("uid"):
            self._unindex(key, current)
            return self._objects.pop(key)
        return None

    def missing_from(self, listed: list[Obj], list_rv: int, namespace: str | None = None
                     ) -> list[Obj]:
        """Cached objects a fresh list (served at ``list_rv``) shows deleted.

        A watch re-established by listing again (after the API server restarted, or a 410)
        reports no DELETED event for objects deleted in between. Only copies older than the
        list count: an object created after it may already have arrived by watch.
        """
        present = {obj["metadata"].get("uid") for obj in listed}
        return [obj for obj in self.list(namespace)
                if obj["metadata"].get("uid") not in present and _rv(obj) <= list_rv]

    def is_deleted(self, uid: str | None) -> bool:
        """Seen deleted (and not yet forgotten)."""
        return uid in self._tombstones

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._objects.get((namespace, name))

    def list(self, namespace: str | None = None,
             where: Callable[[Obj], bool] | None = None) -> Iterator[Obj]:
        for (ns, _), obj in list(self._objects.items()):
            if namespace is not None and ns != namespace:
                continue
            if where is None or where(obj):
                yield obj

    def __len__(self) -> int:
        return len(self._objects)

"""From a change of a watched object to the keys each reconciler must look at.

The shape of controller-runtime's ``Watches(kind, handler)``: a reconciler declares, per kind it
watches, a function from the change to the keys of its own kind (:class:`Watch`; the
declarations are in :mod:`.wiring`, the functions in :mod:`.watches`). :class:`Routes` holds
those declarations and is the one path every change takes, whether a watch event, a deletion a
resync found, or the answer to one of our own writes brought it: cache it, drop it if it is no
news, then ask every watcher of its kind for keys and queue them through :class:`~.wake.Wake`.
Nothing else fills a cache or queues a key after a write: the answers come here through
:class:`~.writer.Writer` (a unit test scans the package for other callers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from ..kube.io import KubeIO, Listing
from ..runtime.store import Key, Obj, key_of
from .wake import Wake

if TYPE_CHECKING:
    from .caches import Caches

DELETED = "DELETED"


@dataclass(frozen=True)
class Change:
    """One change of a watched object, as its watchers see it."""

    old: Obj | None  # the copy cached before (None: new to us, or deleted)
    new: Obj  # the new copy; for a deletion, the last copy seen
    gone: bool = False  # deleted

    @property
    def key(self) -> Key:
        return key_of(self.new)


@dataclass(frozen=True)
class Watch:
    """A reconciler watches ``kind``: ``keys`` says which of its own objects a change of that
    kind may affect (the fewer, the fewer reconciles)."""

    kind: str
    keys: Callable[["Caches", Change], Iterable[Key]]
    delay: float = 0.0  # seconds: folds a burst of changes into one reconcile


def any_new_version(old: Obj | None, new: Obj) -> bool:
    return True


@dataclass(frozen=True)
class Source:
    """A watched kind: where kopf watches it, how it is listed (priming, resync), and which of
    its new versions are news to anyone. Its cache is ``Caches.store(kind)``."""

    kind: str
    group: str
    version: str
    plural: str
    lister: Callable[[KubeIO], Callable[[str | None], Awaitable[Listing]]]
    #: Of a new version (not a deletion): does it matter to any watcher? (e.g. a pod's
    #: heartbeat-like status updates do not).
    significant: Callable[[Obj | None, Obj], bool] = any_new_version
    #: Done for every change before any key is queued (e.g. pre-empting an Arklet call).
    observe: Callable[["Caches", Change], None] | None = None


def same_version(old: Obj | None, new: Obj) -> bool:
    return old is not None and old["metadata"].get("uid") == new["metadata"].get("uid") \
        and old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion")


def news_in_answer(old: Obj | None, new: Obj) -> bool:
    """The answer to our own write shows a change this process did not make: a deletion that
    began, or a new spec (generation) since the copy we had.

    Such news arrives first with our answer, which is cached; its own watch event is then older
    than the cache and wakes nobody. So the writer's own reconciler is woken for it too (a
    deletion in the same instant as one of our status writes must not wait for a restart).
    """
    if old is None:
        return False
    old_meta, new_meta = old.get("metadata", {}), new.get("metadata", {})
    return ((not old_meta.get("deletionTimestamp") and bool(new_meta.get("deletionTimestamp")))
            or old_meta.get("generation") != new_meta.get("generation"))


class Routes:
    def __init__(self, caches: "Caches", wake: Wake, sources: Iterable[Source],
                 watches: Iterable[tuple[str, Watch]]) -> None:
        """``watches``: (work queue of the reconciler, what it watches)."""
        self.caches = caches
        self.wake = wake
        self.sources = {s.kind: s for s in sources}
        self._watchers: dict[str, list[tuple[str, Watch]]] = {}
        for queue, watch in watches:
            if watch.kind not in self.sources:
                raise ValueError(f"{queue} watches {watch.kind}, which nothing lists")
            self._watchers.setdefault(watch.kind, []).append((queue, watch))

    def listed(self, kind: str, obj: Obj) -> None:
        """Priming: a listed object goes into the cache before any reconciler runs (every
        object is looked at then anyway)."""
        self.caches.store(kind).upsert(obj)

    def event(self, kind: str, type_: str | None, obj: Obj) -> None:
        """A watch event (``type_`` None: kopf listed the object) or a deletion found by a
        resync or seen first by a reconciler (:meth:`.writer.Writer.gone`)."""
        source = self.sources[kind]
        store = self.caches.store(kind)
        if type_ == DELETED:
            if store.is_deleted(obj["metadata"].get("uid")):
                return  # its deletion was routed already (a reconciler, or a resync, saw it)
            store.remove(obj)
            self._changed(kind, Change(None, obj, gone=True))
            return
        old, stored = store.upsert(obj)
        if not stored or same_version(old, obj):
            return  # older than the cache, or the echo of our own write (already routed)
        if source.significant(old, obj):
            self._changed(kind, Change(old, obj))

    def answer(self, kind: str, obj: Obj, *, skip: str | None) -> None:
        """The API server's answer to our own write of ``obj``: routed as the watch event of
        that version will be (which is then an echo, and ignored), at once. ``skip``: the queue
        of the reconciler that wrote it and needs no second look, unless the answer carries news
        it did not make (:func:`news_in_answer`)."""
        source = self.sources[kind]
        old, stored = self.caches.store(kind).upsert(obj)
        if not stored or same_version(old, obj):
            return  # older than the cache, or its watch event came first and was routed
        if source.significant(old, obj):
            self._changed(kind, Change(old, obj),
                          skip=None if news_in_answer(old, obj) else skip)

    def _changed(self, kind: str, change: Change, *, skip: str | None = None) -> None:
        """Queue what ``change`` wakes; ``skip``: a reconciler that made the change itself and
        needs no second look."""
        source = self.sources.get(kind)
        if source is not None and source.observe is not None:
            source.observe(self.caches, change)
        for queue, watch in self._watchers.get(kind, ()):
            if queue == skip:
                continue
            for key in watch.keys(self.caches, change):
                self.wake.add(queue, key, watch.delay)

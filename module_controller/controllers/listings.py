"""The latest queryAllBiz listing of each base that a Module reconcile took, for the drift check.

During a release every base is listed by the Module reconciles anyway (before and after each
install); the drift check reads such a listing instead of asking the base again (at
10,000 Modules on 2,000 bases its own queries were a sixth of all Arklet calls during a release,
and the only cost per module that grew with the release's length). Only the drift check takes
from it, and only when it runs (the operator creates it with the checker).

A listing is kept per pod uid (it says nothing about another pod that later got the same IP)
and is not read:

* after a command that changes the base (install, uninstall, switch) ended after it was asked
  for: it shows a biz that was just uninstalled, whose Module may be gone by now, as a biz no
  Module stands for (the Arklet client reports each such command, :meth:`Listings.changed`);
* if it is not newer than what the drift check last looked at for that pod, its own query or a
  listing it took (a query that was on its way when the check looked answers later, older).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..arklet import BizInfo


@dataclass(frozen=True)
class Listing:
    asked_at: float  # epoch seconds, before the query was sent
    host: str  # as the Arklet client spells it (protocol.normalise_host)
    bizzes: tuple[BizInfo, ...]


class Listings:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._latest: dict[str, Listing] = {}  # by pod uid
        self._looked: dict[str, float] = {}  # by pod uid: what the drift check last read was asked then
        self._changed: dict[str, float] = {}  # by host: a changing command to it ended then

    def record(self, pod_uid: str, host: str, asked_at: float, bizzes: Iterable[BizInfo]) -> None:
        if asked_at <= self._looked.get(pod_uid, float("-inf")):
            return
        latest = self._latest.get(pod_uid)
        if latest is None or latest.asked_at <= asked_at:
            self._latest[pod_uid] = Listing(asked_at, host, tuple(bizzes))

    def changed(self, host: str) -> None:
        """A command that may change what ``host`` runs has just ended (answered or not)."""
        self._changed[host] = self._clock()

    def take(self, pod_uid: str) -> Listing | None:
        """The pod's latest listing, if nothing changed on the base since it was asked for;
        removed either way (each is read once)."""
        listing = self._latest.pop(pod_uid, None)
        if listing is None or listing.asked_at <= self._changed.get(listing.host, float("-inf")):
            return None
        self.looked(pod_uid, listing.asked_at)
        return listing

    def looked(self, pod_uid: str, asked_at: float) -> None:
        """The drift check read what the pod's base said when asked at ``asked_at``: an older
        listing of it is of no use any more."""
        if asked_at > self._looked.get(pod_uid, float("-inf")):
            self._looked[pod_uid] = asked_at
        latest = self._latest.get(pod_uid)
        if latest is not None and latest.asked_at <= asked_at:
            del self._latest[pod_uid]

    def keep_only(self, pod_uids: set[str], hosts: set[str]) -> None:
        """Forget what is known of pods that host nothing any more (or are gone)."""
        for table, keep in ((self._latest, pod_uids), (self._looked, pod_uids),
                            (self._changed, hosts)):
            for gone in [k for k in table if k not in keep]:
                del table[gone]

    def __len__(self) -> int:
        return len(self._latest)

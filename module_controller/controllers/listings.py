"""The latest queryAllBiz listing of each base that a Module reconcile took, for the drift check.

During a release every base is listed by the Module reconciles anyway (before and after each
install); the drift check reads such a listing instead of asking the base again (issue 17: at
10,000 Modules on 2,000 bases its own queries were a sixth of all Arklet calls during a release,
and the only cost per module that grew with the release's length). Kept per pod uid: a listing
says nothing about another pod that later got the same IP. Only the drift check takes from it,
and only when it runs (the operator creates it with the checker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..arklet import BizInfo


@dataclass(frozen=True)
class Listing:
    asked_at: float  # epoch seconds, before the query was sent
    bizzes: tuple[BizInfo, ...]


class Listings:
    def __init__(self) -> None:
        self._latest: dict[str, Listing] = {}

    def record(self, pod_uid: str, asked_at: float, bizzes: Iterable[BizInfo]) -> None:
        latest = self._latest.get(pod_uid)
        if latest is None or latest.asked_at <= asked_at:
            self._latest[pod_uid] = Listing(asked_at, tuple(bizzes))

    def take(self, pod_uid: str) -> Listing | None:
        """The pod's latest listing, removed: each is read once."""
        return self._latest.pop(pod_uid, None)

    def keep_only(self, pod_uids: set[str]) -> None:
        """Forget the listings of pods that host nothing any more (or are gone)."""
        for uid in [u for u in self._latest if u not in pod_uids]:
            del self._latest[uid]

    def __len__(self) -> int:
        return len(self._latest)

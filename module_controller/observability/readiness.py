"""A ready-made readiness check for :func:`.server.start_probe_server`.

The controller is *ready* when its watches run and it knows its place in the leader election:
the leader acts, a standby waits to take over. Both are ready, so that a rolling update of the
controller Deployment can proceed while one replica is standby. Before the watches run, or while
the election has not yet said leader or standby, it is not ready, with a reason saying why.
"""

from __future__ import annotations

import threading
from typing import Literal

Role = Literal["leader", "standby"]


class Readiness:
    """Callable ``() -> (ready, reason)``; the controller sets its state as it goes.

    With ``leader_election=False`` the process acts alone and only ``watching`` counts.
    Safe to set from any thread.
    """

    def __init__(self, *, leader_election: bool = True) -> None:
        self.leader_election = leader_election
        self._lock = threading.Lock()
        self._watching = False
        self._role: Role | None = None
        self._problem = ""

    def set_watching(self, watching: bool = True) -> None:
        with self._lock:
            self._watching = watching

    def set_role(self, role: Role | None) -> None:
        if role not in ("leader", "standby", None):
            raise ValueError(f"role must be 'leader', 'standby' or None, not {role!r}")
        with self._lock:
            self._role = role

    def set_problem(self, problem: str = "") -> None:
        """Not ready, whatever else holds, while ``problem`` is non-empty (e.g. lost the API)."""
        with self._lock:
            self._problem = problem

    def __call__(self) -> tuple[bool, str]:
        with self._lock:
            watching, role, problem = self._watching, self._role, self._problem
        if problem:
            return False, problem
        if not watching:
            return False, "not watching yet"
        if not self.leader_election:
            return True, "watching"
        if role is None:
            return False, "leader election has not decided yet"
        return True, f"watching; {role}"

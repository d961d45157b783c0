"""Abort, rollback, retry and undo as states a user can see and leave: a table, pure data.

The release machine (:mod:`planning.release_table`) knows phases; a user sees fewer states:
whether the spec's revision is being released, was given up (rolled back, by an abort or on
failure) or runs. :data:`TRANSITIONS` says, for each such state and each thing a user (or the
release) does, which state follows and what the controller does; docs/behaviour.md shows
:func:`render_markdown`, and a unit test drives :func:`planning.release_machine.plan` through
every row and checks it lands where the row says (:func:`state_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..api.moduledeployment import ReleaseProgress as P
from .release import ReleaseState


class State(StrEnum):
    RELEASING = "Releasing"      # a release toward the spec's revision runs (or is paused)
    ROLLING_BACK = "RollingBack"  # the spec's revision is given up; the stable one is released
    #                               (rolled back to, or scaled)
    ABORTED = "Aborted"          # given up, the stable revision runs: until the user acts
    COMPLETED = "Completed"      # the spec's revision runs on every wanted base
    OFFLINE = "Offline"          # deleted: instances go in groups (Terminating, Terminated)


class Trigger(StrEnum):
    ABORT = "kubectl module abort (annotation abort-revision naming the running release)"
    FAILURE = "progress deadline passed with Failed instances, rollbackOnFailure"
    FAILURE_NO_ROLLBACK = "progress deadline passed with Failed instances, no rollbackOnFailure"
    ROLLBACK_DONE = "the stable revision's last group Available"
    RETRY = "kubectl module retry (annotation retry-revision naming the given-up revision)"
    UNDO_TO_GIVEN_UP = "kubectl module undo --to-revision <given-up revision>: a retry"
    SAME_SPEC_AGAIN = "the given-up spec applied again after an undo (generation moved)"
    OTHER_CHANGE = "any other spec change naming the given-up module (generation moved)"
    NEW_MODULE = "a new spec: another version, or the same version at another url"
    UNDO_TO_STABLE = "kubectl module undo to the stable revision"
    STEERING = "only pause, confirmBatchNum or replicas changed"
    DELETION = "the ModuleDeployment deleted"
    RESTART = "the controller restarts"


@dataclass(frozen=True)
class Transition:
    state: State
    trigger: Trigger
    next: State
    does: str


_S, _T = State, Trigger
_RELEASE_AGAIN = ("clears releaseStatus.abortedRevision, RolledBack=False; releases the spec "
                  "in groups (Event Retried)")

TRANSITIONS: tuple[Transition, ...] = (
    Transition(_S.RELEASING, _T.ABORT, _S.ROLLING_BACK,
               "gives the release up at once, lifts a pause, releases the stable revision in "
               "groups; RolledBack=True reason Aborted, Event Aborted"),
    Transition(_S.RELEASING, _T.FAILURE, _S.ROLLING_BACK,
               "drops the Failed instances, releases the stable revision in groups; "
               "RolledBack=True reason ProgressDeadlineExceeded"),
    Transition(_S.RELEASING, _T.FAILURE_NO_ROLLBACK, _S.RELEASING,
               "stops there, Progressing=False reason ProgressDeadlineExceeded; a new spec or "
               "undo takes over"),
    Transition(_S.ROLLING_BACK, _T.ABORT, _S.ROLLING_BACK,
               "refuses it (Event AbortRefused): the rollback has nothing earlier to go to"),
    Transition(_S.ROLLING_BACK, _T.STEERING, _S.ROLLING_BACK,
               "applies it to the rollback (pause stops it after its group)"),
    Transition(_S.ROLLING_BACK, _T.ROLLBACK_DONE, _S.ABORTED,
               "progress Aborted, Progressing=False reason ReleaseAborted; VERSION shows the "
               "stable revision's"),
    Transition(_S.ROLLING_BACK, _T.RETRY, _S.RELEASING,
               "ends the rollback at its group boundary, then " + _RELEASE_AGAIN),
    Transition(_S.ABORTED, _T.RETRY, _S.RELEASING, _RELEASE_AGAIN),
    Transition(_S.ABORTED, _T.UNDO_TO_GIVEN_UP, _S.RELEASING, _RELEASE_AGAIN),
    Transition(_S.ABORTED, _T.SAME_SPEC_AGAIN, _S.RELEASING, _RELEASE_AGAIN),
    Transition(_S.ABORTED, _T.OTHER_CHANGE, _S.RELEASING, _RELEASE_AGAIN),
    Transition(_S.ABORTED, _T.NEW_MODULE, _S.RELEASING,
               "clears the given-up revision, RolledBack=False reason SpecChanged; releases the "
               "new spec"),
    Transition(_S.ABORTED, _T.UNDO_TO_STABLE, _S.COMPLETED,
               "clears the given-up revision: the spec's revision is the one that runs"),
    Transition(_S.ABORTED, _T.STEERING, _S.ROLLING_BACK,
               "releases a new replicas count on the stable revision (progress Executing), "
               "then reads Aborted again (pause or confirmBatchNum alone change nothing); the "
               "given-up revision stays given up"),
    Transition(_S.ABORTED, _T.ABORT, _S.ABORTED, "refuses it (Event AbortRefused)"),
    Transition(_S.ABORTED, _T.RESTART, _S.ABORTED,
               "reads the same status: stays Aborted, installs nothing of the given-up revision"),
    Transition(_S.ABORTED, _T.DELETION, _S.OFFLINE,
               "takes the stable revision's instances offline in groups"),
    Transition(_S.COMPLETED, _T.RETRY, _S.COMPLETED,
               "refuses it (Event RetryRefused): nothing is given up"),
)


def state_of(st: ReleaseState) -> State:
    """The state a user sees of the recorded release ``st``."""
    if st.progress in (P.TERMINATING, P.TERMINATED):
        return State.OFFLINE
    if st.progress is P.ABORTED:
        return State.ABORTED
    if st.aborted_revision is not None and st.update_revision == st.stable_revision:
        return State.ROLLING_BACK
    if st.progress is P.COMPLETED:
        return State.COMPLETED
    return State.RELEASING


def render_markdown() -> str:
    """The table for docs/behaviour.md."""
    lines = ["| state | when | then | the controller |", "|---|---|---|---|"]
    lines += [f"| {t.state.value} | {t.trigger.value} | {t.next.value} | {t.does} |"
              for t in TRANSITIONS]
    return "\n".join(lines) + "\n"

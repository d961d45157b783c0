"""The release of a ModuleDeployment as an explicit transition table: phase x event -> action, next.

:func:`planning.release_machine.plan` runs it: it finds the phase of the recorded release, names
the event it observes, looks the pair up here, does the row's action and checks that the phase it
reached is one the row allows. An action either ends the reconcile's planning ("done": counts
to write, a wait) or leads on ("again": the next event is looked at in the new phase, so one
reconcile may take a few rows, e.g. a confirmation starts the next group, which is Available
already). Every (phase, event) pair is a :class:`Row` or :class:`Impossible` with the reason;
a unit test checks the table is total and docs/design.md shows :func:`render_markdown`.

Pure data: this module decides nothing by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    """Where a release stands. Read from ``status.releaseStatus`` (and the clock, for the gray
    time) by :func:`planning.release_machine.phase_of`."""

    IDLE = "Idle"                  # no release recorded yet
    EXECUTING = "Executing"        # a group is being applied
    ROLLING_BACK = "RollingBack"   # a group of the stable revision, while the spec's is given up
    GRAY_WAIT = "GrayWait"         # a group done; the gray time runs before the next one starts
    PAUSED = "Paused"              # at a confirmation point, or paused by the user
    COMPLETED = "Completed"        # the last group was Available (or nothing was to be done)
    ABORTED = "Aborted"            # at rest on the stable revision; the spec's is given up
    TERMINATING = "Terminating"    # offline: the ModuleDeployment is deleted, groups shrink to 0
    TERMINATED = "Terminated"      # offline done; the finalizers can go


class Event(StrEnum):
    """What the planner observes, checked in this order (the first that holds is the event)."""

    ABORT = "abort asked"                         # annotation names the running release
    ABORT_REFUSED = "abort asked, nothing to give up"
    DELETION = "deletion"                         # and the release is not the offline one yet
    SETTLED = "revisions match the spec"
    SPEC_CHANGED = "spec changed"                 # at rest: the revisions differ from the spec
    BASES_CHANGED = "peer bases changed"          # peer mode: the ready bases moved mid-scale
    SPEC_CHANGED_STUCK = "spec changed, group cannot finish or is rolled back"
    PAUSE_HELD = "pause held"                     # spec.pause still true, not confirmed
    PAUSE_CLEARED = "pause cleared"               # spec.pause false
    CONFIRMED = "confirmBatchNum reached"
    GRAY_TIME = "gray time running"
    GROUP_PENDING = "group not Available yet"
    DEADLINE_PASSED = "deadline passed"
    GROUP_FAILED = "deadline passed, instances Failed"
    GROUP_FAILED_NO_ROLLBACK = "deadline passed, instances Failed, no rollback"
    GROUP_AVAILABLE = "group Available"
    CONFIRMATION_POINT = "group Available at a confirmation point"
    PAUSE_SET = "group Available, pause set"
    LAST_GROUP_AVAILABLE = "last group Available"
    GROUP_AVAILABLE_SPEC_CHANGED = "group Available, spec changed"


class Action(StrEnum):
    """What is done. Each names one function of :mod:`planning.release_machine`."""

    GIVE_UP = "give the release up: release the stable revision again, lift a pause"
    REFUSE_ABORT = "refuse the abort (Event AbortRefused)"
    START = "start a release toward the spec (offline when deleted)"
    GIVE_WAY = "start a release toward the new spec now (Event ReleaseSuperseded)"
    RECORD_SETTLED = "record Completed (Aborted while the spec's revision is given up)"
    END_AT_BOUNDARY = "end the release at its group boundary"
    HOLD = "hold the group's counts, wait for the user"
    RESUME = "next group; spec.pause back to false if set"
    HOLD_GRAY = "hold the previous group's counts until the gray time ends"
    WAIT_FOR_GROUP = "apply the group's counts; look again at the deadline"
    REPORT_DEADLINE = "apply the group's counts; report the deadline, keep trying"
    REPORT_FAILED = "report the release failed; stop here"
    NEXT_GROUP = "next group (after the gray time, if any)"
    PAUSE = "Paused; set spec.pause at the controller's own confirmation point"
    FINISH = ("Completed (Terminated offline, Aborted after a give-up); confirmBatchNum back "
              "to 0")


#: Actions after which the next event is looked at in the same reconcile.
#: NEXT_GROUP leads on because the group it starts may be Available already (its instances
#: were there, or gone, before it started); it would get no event to look at it again.
LEADS_ON = frozenset({Action.GIVE_UP, Action.REFUSE_ABORT, Action.START, Action.GIVE_WAY,
                      Action.END_AT_BOUNDARY, Action.RESUME, Action.NEXT_GROUP})


@dataclass(frozen=True)
class Row:
    action: Action
    next: tuple[Phase, ...]    # the phases the action may reach


@dataclass(frozen=True)
class Impossible:
    why: str


Entry = Row | Impossible

_P = Phase
_E = Event
_A = Action
_RUNNING = (_P.EXECUTING, _P.ROLLING_BACK)

# Reasons shared by several impossible pairs.
_NO_RELEASE = "no release runs"
_OFFLINE_ABORT = "an abort is not looked at while the ModuleDeployment is deleted"
_OFFLINE_DELETE = "the offline release is the deletion's own"
_AT_REST = "only a release at rest compares the revisions with the spec"
_AT_BOUNDARY = "a paused release is at its group boundary: a new spec takes over at once"
_RUNNING_SPEC = "a running group looks at a new spec only when it is Available or cannot finish"
_NO_GROUP = "no group is being applied in this phase"
_PEER_ROLLBACK = "peer mode scales the spec's own revision, a rollback releases another one"
_NOT_PAUSED = "only a Paused release waits for the user"
_NOT_GRAY = "the gray time is the GrayWait phase"
_OFFLINE_SPEC = "offline follows no spec"
_OFFLINE_FAIL = "offline is never judged failed, only late"
_STABLE = ("its target is the stable revision already, there is nothing earlier to go back "
           "to: the abort is refused, the failure reported")


def _rows(phase: Phase) -> dict[Event, Entry]:
    """The row of every event in ``phase``."""
    def again(action: Action, *reach: Phase) -> Row:
        return Row(action, reach)

    running = phase in _RUNNING
    offline = phase in (_P.TERMINATING, _P.TERMINATED)
    rest = phase in (_P.IDLE, _P.COMPLETED, _P.ABORTED)
    same = (phase,)
    out: dict[Event, Entry] = {}
    # Give-ups.
    if phase in (_P.EXECUTING, _P.GRAY_WAIT, _P.PAUSED):
        out[_E.ABORT] = again(_A.GIVE_UP, _P.ROLLING_BACK)
    elif phase is _P.ROLLING_BACK:
        out[_E.ABORT] = Impossible(_STABLE)
    else:
        out[_E.ABORT] = Impossible(_OFFLINE_ABORT if offline else _NO_RELEASE)
    out[_E.ABORT_REFUSED] = Impossible(_OFFLINE_ABORT) if offline else \
        again(_A.REFUSE_ABORT, phase)
    out[_E.DELETION] = Impossible(_OFFLINE_DELETE) if offline else \
        again(_A.START, _P.TERMINATING)
    # At rest.
    if rest:
        out[_E.SETTLED] = Row(_A.RECORD_SETTLED, (_P.COMPLETED, _P.ABORTED))
        out[_E.SPEC_CHANGED] = again(_A.START, _P.EXECUTING, _P.ROLLING_BACK, _P.TERMINATING)
    else:
        out[_E.SETTLED] = Impossible(_AT_REST)
        out[_E.SPEC_CHANGED] = again(_A.END_AT_BOUNDARY, _P.COMPLETED) \
            if phase is _P.PAUSED else Impossible(_OFFLINE_SPEC if offline else _RUNNING_SPEC)
    # A new spec while a group runs (or waits out its gray time).
    for event, action in ((_E.BASES_CHANGED, _A.START), (_E.SPEC_CHANGED_STUCK, _A.GIVE_WAY)):
        if event is _E.BASES_CHANGED and phase is _P.ROLLING_BACK:
            out[event] = Impossible(_PEER_ROLLBACK)
        elif event is _E.BASES_CHANGED and phase in (_P.EXECUTING, _P.GRAY_WAIT):
            out[event] = again(action, _P.EXECUTING)
        elif running or phase is _P.GRAY_WAIT:
            out[event] = again(action, _P.EXECUTING, _P.ROLLING_BACK)
        else:
            out[event] = Impossible(_NO_RELEASE if rest else _AT_BOUNDARY
                                    if phase is _P.PAUSED else _OFFLINE_SPEC)
    # The user's answer at a confirmation point.
    if phase is _P.PAUSED:
        out[_E.PAUSE_HELD] = Row(_A.HOLD, same)
        for event in (_E.PAUSE_CLEARED, _E.CONFIRMED):
            out[event] = again(_A.RESUME, _P.EXECUTING, _P.ROLLING_BACK, _P.GRAY_WAIT,
                               _P.TERMINATING)
    else:
        for event in (_E.PAUSE_HELD, _E.PAUSE_CLEARED, _E.CONFIRMED):
            out[event] = Impossible(_NOT_PAUSED)
    out[_E.GRAY_TIME] = Row(_A.HOLD_GRAY, same) if phase is _P.GRAY_WAIT else \
        Impossible(_NOT_GRAY)
    # The group being applied.
    applying = running or offline
    for event, action in ((_E.GROUP_PENDING, _A.WAIT_FOR_GROUP),
                          (_E.DEADLINE_PASSED, _A.REPORT_DEADLINE)):
        out[event] = Row(action, same) if applying else Impossible(_NO_GROUP)
    if phase is _P.EXECUTING:
        out[_E.GROUP_FAILED] = again(_A.GIVE_UP, _P.ROLLING_BACK)
    else:
        out[_E.GROUP_FAILED] = Impossible(
            _STABLE if phase is _P.ROLLING_BACK else _OFFLINE_FAIL if offline else _NO_GROUP)
    out[_E.GROUP_FAILED_NO_ROLLBACK] = Row(_A.REPORT_FAILED, same) if running else \
        Impossible(_OFFLINE_FAIL if offline else _NO_GROUP)
    more = "a Terminated release has done its last group"
    for event, action, reach in (
            (_E.GROUP_AVAILABLE, _A.NEXT_GROUP, (phase, _P.GRAY_WAIT)),
            (_E.CONFIRMATION_POINT, _A.PAUSE, (_P.PAUSED,)),
            (_E.PAUSE_SET, _A.PAUSE, (_P.PAUSED,))):
        out[event] = Row(action, reach) if running or phase is _P.TERMINATING else \
            Impossible(more if phase is _P.TERMINATED else _NO_GROUP)
    out[_E.LAST_GROUP_AVAILABLE] = Row(
        _A.FINISH, (_P.TERMINATED,) if offline else (_P.COMPLETED, _P.ABORTED)) if applying else \
        Impossible(_NO_GROUP)
    out[_E.GROUP_AVAILABLE_SPEC_CHANGED] = again(_A.END_AT_BOUNDARY, _P.COMPLETED) if running \
        else Impossible(_OFFLINE_SPEC if offline else _NO_GROUP)
    return out


#: The table: every (phase, event) pair.
TABLE: dict[tuple[Phase, Event], Entry] = {
    (phase, event): entry for phase in Phase for event, entry in _rows(phase).items()}


def render_markdown() -> str:
    """The table for docs/design.md: the rows by phase, then the impossible pairs by reason."""
    lines = ["| phase | event | action | then |", "|---|---|---|---|"]
    impossible: dict[Phase, dict[str, list[str]]] = {}
    for phase in Phase:
        for event in Event:
            entry = TABLE[phase, event]
            if isinstance(entry, Impossible):
                impossible.setdefault(phase, {}).setdefault(entry.why, []).append(f"`{event}`")
                continue
            reach = " or ".join(p.value for p in entry.next)
            then = f"{reach}, next event" if entry.action in LEADS_ON else f"{reach}, done"
            lines.append(f"| {phase.value} | {event.value} | {entry.action.value} | {then} |")
    lines += ["", "Impossible pairs, by phase:", ""]
    for phase, reasons in impossible.items():
        told = "; ".join(f"{', '.join(events)} ({why})" for why, events in reasons.items())
        lines.append(f"* {phase.value}: {told}.")
    return "\n".join(lines) + "\n"

"""The release's next step (behaviour §2.3; giving up: planning.rollback), run from the transition table.

:func:`plan` reads the phase of the recorded release (:func:`phase_of`), names the event it
observes (:func:`_event`), looks the pair up in :data:`release_table.TABLE` and does the row's
action, until an action ends the planning. The arithmetic (group sizes, counts, completeness) is
:mod:`planning.release`; the give-up rules (what may be given up, the effective target) are
:mod:`planning.rollback`. The answer says what the replica counts of the revisions should be now,
what the release status becomes, whether to set ``spec.pause`` (a confirmation point) and when
to look again; its ``steps`` are the rows taken, for the reconciler's decision log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from ..api.moduledeployment import ReleaseProgress as P
from . import release, rollback
from .release import Decision, Observed, ReleaseState
from .release_table import LEADS_ON, TABLE, Action, Event, Impossible, Phase

# Longer chains than this, beside one step per group, do not exist (a refused abort, a
# boundary, a start, a give-way, the last group): more would mean two rows lead on to each other
# for ever. Groups lead on to the next (a group may be Available the moment it starts: instances
# already gone when a deletion goes offline), so a release may take one step per group.
MAX_STEPS = 8


def phase_of(st: ReleaseState, now: dt.datetime) -> Phase:
    """The phase of the recorded release ``st`` at ``now``. Init and WaitingForConfirmation,
    which this controller never writes, run as Executing."""
    if st.progress is None or st.update_revision is None:
        return Phase.IDLE
    if st.progress is P.COMPLETED:
        return Phase.COMPLETED
    if st.progress is P.ABORTED:
        return Phase.ABORTED
    if st.progress is P.PAUSED:
        return Phase.PAUSED
    if st.progress is P.TERMINATED:
        return Phase.TERMINATED
    if st.next_reconcile is not None and now < st.next_reconcile:
        return Phase.GRAY_WAIT
    if st.progress is P.TERMINATING:
        return Phase.TERMINATING
    if st.aborted_revision is not None and st.update_revision == st.stable_revision:
        return Phase.ROLLING_BACK
    return Phase.EXECUTING


@dataclass
class _Run:
    """What one plan() works with: the spec as observed, the target the release follows (the
    stable revision while the spec's is given up), the state to carry the stable and given-up
    revisions from, and whether an abort is still to be answered."""

    spec: Observed
    obs: Observed
    carry: ReleaseState
    now: dt.datetime
    abort_pending: bool
    counts: dict[str, int] | None = None   # the current group's counts, once computed


class Contradiction(Exception):
    """The recorded release cannot be carried on from (a status written by hand, or by a
    controller with other rules): :func:`plan` repairs it from the objects."""


def plan(spec: Observed, st: ReleaseState, now: dt.datetime) -> Decision:
    """What to do now; see the module docstring. A recorded release that contradicts the objects
    (or the table) is never trusted into an exception: the release is planned again from what
    the objects say (:func:`rollback.repaired`), and ``decision.repaired`` says why."""
    problem = rollback.contradiction(spec, st)
    if problem is None:
        try:
            return _plan(spec, st, now)
        except Contradiction as exc:
            problem = str(exc)
    decision = _plan(spec, rollback.repaired(spec, st), now)
    decision.repaired = problem
    return decision


def _plan(spec: Observed, st: ReleaseState, now: dt.datetime) -> Decision:
    st, retried = rollback.forget_given_up(spec, st)
    run = _Run(spec=spec, obs=rollback.effective(spec, st), carry=st, now=now,
               abort_pending=spec.abort and not spec.deleting)
    decision = Decision(state=st, retried=retried,
                        retry_refused=rollback.retry_refused(spec, st, retried))
    while len(decision.steps) < MAX_STEPS + decision.state.real_batch_count:
        phase = phase_of(decision.state, now)
        event = _event(run, phase, decision.state)
        entry = TABLE[phase, event]
        if isinstance(entry, Impossible):
            raise Contradiction(f"{event} in {phase} ({entry.why})")
        _ACTIONS[entry.action](run, decision, event)
        decision.state = rollback.carry(run.carry, decision.state)
        reached = phase_of(decision.state, now)
        if reached not in entry.next:
            raise Contradiction(f"{entry.action.name} from {phase} reached {reached}")
        decision.steps.append(release.Step(phase, event, entry.action, reached))
        if entry.action not in LEADS_ON:
            return rollback.steering_kept(spec, rollback.keep_stable(run.carry, decision))
    raise Contradiction(f"no rest after {len(decision.steps)} steps: {decision.steps}")


# ----------------------------------------------------------------- events

def _event(run: _Run, phase: Phase, st: ReleaseState) -> Event:
    """The first event of :class:`Event` that holds for ``st``."""
    obs = run.obs
    if run.abort_pending:
        running = st.progress not in (None, P.COMPLETED, P.ABORTED, P.TERMINATING, P.TERMINATED)
        return Event.ABORT_REFUSED if rollback.cannot_give_up(run.spec, st, running) else \
            Event.ABORT
    offline = st.desired == 0 and st.progress in (P.TERMINATING, P.TERMINATED, P.PAUSED)
    if obs.deleting and not offline:
        return Event.DELETION  # a deletion interrupts whatever runs, at once (behaviour §2.6)
    if phase in (Phase.IDLE, Phase.COMPLETED, Phase.ABORTED):
        return Event.SETTLED if release.settled(obs) else Event.SPEC_CHANGED
    moved = release.superseded(obs, st)
    if moved and st.progress is P.EXECUTING:
        if obs.skip_confirmation:
            return Event.BASES_CHANGED
        if release.yields_at_once(obs, st):
            return Event.SPEC_CHANGED_STUCK
    if phase is Phase.PAUSED:
        if moved:
            return Event.SPEC_CHANGED
        if obs.pause and obs.confirm_batch_num < st.current_batch:
            return Event.PAUSE_HELD
        return Event.CONFIRMED if obs.pause else Event.PAUSE_CLEARED
    if phase is Phase.GRAY_WAIT:
        return Event.GRAY_TIME
    run.counts = release.targets(obs, st, st.current_batch)
    if not release.complete(obs, st, run.counts):
        if _deadline_left(obs, st, run.now) >= 0:
            return Event.GROUP_PENDING
        update = release.revision(run.spec, st.update_revision)
        if obs.deleting or st.progress is not P.EXECUTING or update is None or not update.failed:
            return Event.DEADLINE_PASSED
        if obs.strategy.rollback_on_failure and \
                rollback.cannot_give_up(run.spec, st, True) is None:
            return Event.GROUP_FAILED
        return Event.GROUP_FAILED_NO_ROLLBACK
    return _group_done(obs, st)


def _group_done(obs: Observed, st: ReleaseState) -> Event:
    if not obs.deleting and release.superseded(obs, st):
        # A new spec takes over at the group boundary, which is now (behaviour §2.3.6);
        # after the last group too: ending the release there leads on to the new one in this
        # reconcile, while finishing it would wait for a wake that may not come (the status
        # write that says Completed is this controller's own).
        return Event.GROUP_AVAILABLE_SPEC_CHANGED
    if st.current_batch >= st.real_batch_count:
        return Event.LAST_GROUP_AVAILABLE
    if obs.confirm_batch_num >= st.current_batch:
        return Event.GROUP_AVAILABLE  # confirmed ahead through confirmBatchNum
    beta_group = obs.strategy.use_beta and st.current_batch == 1
    if (obs.strategy.need_confirm or beta_group) and not obs.skip_confirmation:
        return Event.CONFIRMATION_POINT
    return Event.PAUSE_SET if obs.pause else Event.GROUP_AVAILABLE


def _deadline_left(obs: Observed, st: ReleaseState, now: dt.datetime) -> float:
    started = st.last_transition or now
    return obs.strategy.deadline_seconds - (now - started).total_seconds()


# ----------------------------------------------------------------- actions

def _give_up(run: _Run, decision: Decision, event: Event) -> None:
    """Give the running release up and release the stable revision again, at once."""
    why = rollback.REASON_ABORTED if event is Event.ABORT else rollback.REASON_FAILED
    run.abort_pending = False
    st = decision.state
    run.carry = replace(st, aborted_revision=st.update_revision,
                        aborted_module=run.spec.update_module,
                        aborted_generation=run.spec.generation)
    run.obs = rollback.effective(run.spec, run.carry)
    # What was decided for the release given up is void.
    fresh = Decision(state=release.start(run.obs, run.now), rolled_back=why)
    if run.spec.pause:
        fresh.set_pause = False  # a rollback does not wait at the group it interrupts
    _void(decision, fresh)


def _refuse_abort(run: _Run, decision: Decision, event: Event) -> None:
    running = decision.state.progress not in (None, P.COMPLETED, P.ABORTED, P.TERMINATING,
                                              P.TERMINATED)
    decision.abort_refused = rollback.cannot_give_up(run.spec, decision.state, running)
    run.abort_pending = False


def _start(run: _Run, decision: Decision, event: Event) -> None:
    decision.state = release.start(run.obs, run.now)


def _give_way(run: _Run, decision: Decision, event: Event) -> None:
    # The group cannot progress (or a rollback leaves its version): the new release starts now;
    # the abandoned revision keeps only its Available instances (release.targets).
    decision.superseded = release.yields_at_once(run.obs, decision.state)
    decision.state = release.start(run.obs, run.now)


def _at_rest(run: _Run) -> P:
    """Completed, or Aborted while the release follows the stable revision instead of the
    spec's given-up one: a spec that differs from what runs is never Completed."""
    return P.ABORTED if run.obs.update_revision != run.spec.update_revision else P.COMPLETED


def _record_settled(run: _Run, decision: Decision, event: Event) -> None:
    st, obs = decision.state, run.obs
    rest = _at_rest(run)
    if st.progress is None or st.update_revision != obs.update_revision:
        decision.state = ReleaseState(
            update_revision=obs.update_revision, current_batch=1, real_batch_count=1,
            original_delta=0, progress=rest, desired=obs.desired, last_transition=run.now)
    elif st.progress is not rest:
        decision.state = replace(st, progress=rest, last_transition=run.now)
    decision.reset_confirm = obs.confirm_batch_num != 0


def _end_at_boundary(run: _Run, decision: Decision, event: Event) -> None:
    # What was decided for the ended release is void (the group's counts included): the new
    # spec's release (or its settled state) decides them. A release that ends after its last
    # group has run to its end: confirmBatchNum goes back to 0 as when it finishes.
    st = decision.state
    fresh = Decision(state=replace(st, progress=P.COMPLETED))
    fresh.reset_confirm = st.current_batch >= st.real_batch_count and run.obs.confirm_batch_num != 0
    _void(decision, fresh)


def _void(decision: Decision, fresh: Decision) -> None:
    """``decision`` becomes ``fresh``, keeping the steps taken and a refused abort."""
    fresh.steps, fresh.abort_refused = decision.steps, decision.abort_refused
    for item in fields(Decision):
        setattr(decision, item.name, getattr(fresh, item.name))


def _hold(run: _Run, decision: Decision, event: Event) -> None:
    decision.replicas = release.targets(run.obs, decision.state, decision.state.current_batch)


def _resume(run: _Run, decision: Decision, event: Event) -> None:
    if run.obs.pause:
        decision.set_pause = False
    decision.state = replace(decision.state, current_batch=decision.state.current_batch + 1,
                             progress=P.TERMINATING if run.obs.deleting else P.EXECUTING,
                             last_transition=run.now)


def _hold_gray(run: _Run, decision: Decision, event: Event) -> None:
    # The previous group's counts hold until the gray time is over.
    st = decision.state
    assert st.next_reconcile is not None
    decision.replicas = release.targets(run.obs, st, st.current_batch - 1)
    decision.requeue_after = (st.next_reconcile - run.now).total_seconds()


def _apply_group(run: _Run, decision: Decision, event: Event) -> None:
    _group_counts(run, decision)
    left = _deadline_left(run.obs, decision.state, run.now)
    if left < 0:
        decision.deadline_exceeded = True
        decision.failed = event is Event.GROUP_FAILED_NO_ROLLBACK
    else:
        # Look again when the deadline passes: a group that is stuck sends no events.
        decision.requeue_after = left + 1.0


def _next_group(run: _Run, decision: Decision, event: Event) -> None:
    obs, st = run.obs, decision.state
    if obs.pause:
        decision.set_pause = False  # confirmed ahead through confirmBatchNum
    gray = obs.strategy.gray_seconds
    gray_end = run.now + dt.timedelta(seconds=gray) if gray else None
    nxt = replace(st, current_batch=st.current_batch + 1, last_transition=run.now,
                  next_reconcile=gray_end)
    decision.state = nxt
    if gray_end is not None:
        decision.requeue_after = float(gray)
        decision.replicas = release.targets(obs, nxt, nxt.current_batch - 1)
        return
    decision.replicas = release.limit_unavailable(
        obs, nxt, release.targets(obs, nxt, nxt.current_batch))


def _group_counts(run: _Run, decision: Decision) -> None:
    """The counts of the group just found Available, as they stay when nothing follows."""
    assert run.counts is not None  # computed for this state by _event
    decision.replicas = release.limit_unavailable(run.obs, decision.state, run.counts)


def _pause(run: _Run, decision: Decision, event: Event) -> None:
    _group_counts(run, decision)
    gray = run.obs.strategy.gray_seconds
    decision.state = replace(decision.state, progress=P.PAUSED, last_transition=run.now,
                             next_reconcile=run.now + dt.timedelta(seconds=gray) if gray
                             else None)
    if not run.obs.pause:
        decision.set_pause = True  # the controller's own confirmation point


def _finish(run: _Run, decision: Decision, event: Event) -> None:
    _group_counts(run, decision)
    done = P.TERMINATED if run.obs.deleting else _at_rest(run)
    decision.state = replace(decision.state, progress=done, last_transition=run.now,
                             next_reconcile=None)
    decision.reset_confirm = run.obs.confirm_batch_num != 0


_ACTIONS: dict[Action, Callable[[_Run, Decision, Event], None]] = {
    Action.GIVE_UP: _give_up,
    Action.REFUSE_ABORT: _refuse_abort,
    Action.START: _start,
    Action.GIVE_WAY: _give_way,
    Action.RECORD_SETTLED: _record_settled,
    Action.END_AT_BOUNDARY: _end_at_boundary,
    Action.HOLD: _hold,
    Action.RESUME: _resume,
    Action.HOLD_GRAY: _hold_gray,
    Action.WAIT_FOR_GROUP: _apply_group,
    Action.REPORT_DEADLINE: _apply_group,
    Action.REPORT_FAILED: _apply_group,
    Action.NEXT_GROUP: _next_group,
    Action.PAUSE: _pause,
    Action.FINISH: _finish,
}

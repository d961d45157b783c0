"""The abort / rollback / retry / undo states: docs/behaviour.md shows the table of the code,
and the release machine does what every row says."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning.give_up_table import (TRANSITIONS, State, Transition, Trigger,
                                                      render_markdown, state_of)
from module_controller.planning.release import Observed, ReleaseState, Revision, Strategy
from module_controller.planning.release_machine import plan

BEHAVIOUR = Path(__file__).resolve().parents[2] / "docs" / "behaviour.md"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
V1, V2, V3 = (f"provider:{v}@http://x/{v}.jar" for v in ("1.0.0", "2.0.0", "3.0.0"))
GEN = 5


def test_behaviour_doc_shows_the_table_of_the_code():
    begin, end = "<!-- give-up-table: begin -->\n", "<!-- give-up-table: end -->"
    shown = BEHAVIOUR.read_text().split(begin, 1)[1].split(end, 1)[0]
    assert shown == render_markdown(), (
        "docs/behaviour.md differs from planning/give_up_table.py; paste render_markdown() "
        "between the give-up-table markers")


def _obs(**kw) -> Observed:
    """The spec names revision 2 (2.0.0) over revision 1 (1.0.0), three instances."""
    base = dict(desired=3, update_revision=2,
                revisions=(Revision(1, "r1", 3, 3, 3, version="1.0.0"),
                           Revision(2, "r2", 0, 0, 0, version="2.0.0")),
                strategy=Strategy(deadline_seconds=10, rollback_on_failure=True),
                pause=False, confirm_batch_num=0, update_module=V2, generation=GEN)
    return Observed(**{**base, **kw})


def _start(state: State) -> tuple[Observed, ReleaseState, dt.datetime]:
    """A world in ``state``, found there by the machine itself."""
    running = ReleaseState(update_revision=2, current_batch=1, real_batch_count=1,
                           original_delta=3, progress=P.EXECUTING, desired=3,
                           last_transition=T0, stable_revision=1)
    mid = _obs(revisions=(Revision(1, "r1", 3, 3, 3, version="1.0.0"),
                          Revision(2, "r2", 3, 3, 1, version="2.0.0")))
    if state is State.RELEASING:
        return mid, running, T0
    back = plan(replace(mid, abort=True), running, T0).state
    if state is State.ROLLING_BACK:
        return mid, back, T0
    obs = _obs()
    st = plan(obs, back, T0).state
    if state is State.ABORTED:
        return obs, st, T0
    assert state is State.COMPLETED
    done = _obs(update_revision=1, update_module=V1)
    return done, plan(done, ReleaseState(), T0).state, T0


def _act(trigger: Trigger, obs: Observed, st: ReleaseState) -> tuple[Observed, dt.datetime]:
    late = T0 + dt.timedelta(seconds=11)
    failing = (Revision(1, "r1", 3, 3, 3, version="1.0.0"),
               Revision(2, "r2", 3, 3, 0, failed=3, version="2.0.0"))
    given_up = str(st.aborted_revision)
    return {
        Trigger.ABORT: (replace(obs, abort=True), T0),
        Trigger.FAILURE: (replace(obs, revisions=failing), late),
        Trigger.FAILURE_NO_ROLLBACK: (replace(obs, revisions=failing, strategy=Strategy(
            deadline_seconds=10, rollback_on_failure=False)), late),
        Trigger.ROLLBACK_DONE: (replace(obs, revisions=(
            Revision(1, "r1", 3, 3, 3, version="1.0.0"),
            Revision(2, "r2", 0, 0, 0, version="2.0.0"))), T0),
        Trigger.RETRY: (replace(obs, retry=given_up if st.aborted_revision else "2"), T0),
        Trigger.UNDO_TO_GIVEN_UP: (replace(obs, retry=given_up), T0),
        Trigger.SAME_SPEC_AGAIN: (replace(obs, generation=GEN + 2), T0),
        Trigger.OTHER_CHANGE: (replace(obs, generation=GEN + 1, strategy=Strategy(
            batch_count=2, deadline_seconds=10, rollback_on_failure=True)), T0),
        Trigger.NEW_MODULE: (replace(obs, update_revision=3, update_module=V3,
                                     generation=GEN + 1, revisions=obs.revisions + (
                                         Revision(3, "r3", 0, 0, 0, version="3.0.0"),)), T0),
        Trigger.UNDO_TO_STABLE: (replace(obs, update_revision=1, update_module=V1,
                                         generation=GEN + 1), T0),
        Trigger.STEERING: (replace(obs, pause=True, desired=2, generation=GEN + 1), T0),
        Trigger.DELETION: (replace(obs, deleting=True, desired=0, update_revision=1,
                                   update_module=V1), T0),
        Trigger.RESTART: (obs, T0),
    }[trigger]


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.state}-{t.trigger.name}")
def test_the_machine_does_what_each_row_says(row: Transition):
    obs, st, _ = _start(row.state)
    assert state_of(st) is row.state, st
    acted, now = _act(row.trigger, obs, st)
    decision = plan(acted, st, now)
    assert decision.repaired is None
    assert state_of(decision.state) is row.next, (row, decision.state)
    if "AbortRefused" in row.does:
        assert decision.abort_refused
    if "RetryRefused" in row.does:
        assert decision.retry_refused
    if "Retried" in row.does:
        assert decision.retried
    if row.trigger is Trigger.STEERING and row.state is State.ABORTED:
        assert decision.replicas.get("r1") == 2 and not decision.replicas.get("r2")


def test_every_state_a_user_can_be_left_in_has_a_way_out():
    """Aborted is left by the user's acts only; nothing traps a release there."""
    outs = {t.trigger for t in TRANSITIONS if t.state is State.ABORTED and t.next is not
            State.ABORTED}
    assert {Trigger.RETRY, Trigger.SAME_SPEC_AGAIN, Trigger.NEW_MODULE,
            Trigger.UNDO_TO_STABLE} <= outs

"""The release's transition table: total, drawn in the docs as the code has it, and every row
reachable (random walks through simulated releases take each possible row, none impossible)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path

from module_controller.api.common import UpgradePolicy as U
from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning.release import Observed, ReleaseState, Revision, Strategy
from module_controller.planning.release_machine import plan
from module_controller.planning.release_table import (TABLE, Event, Impossible, Phase, Row,
                                                      render_markdown)

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_every_phase_and_event_has_a_row_or_is_impossible():
    for phase in Phase:
        for event in Event:
            assert isinstance(TABLE[phase, event], (Row, Impossible)), (phase, event)
    assert len(TABLE) == len(Phase) * len(Event)


def test_every_phase_has_a_way_on():
    """No phase is a trap: each has a row, and each phase but Idle is reached by one."""
    reached = {p for entry in TABLE.values() if isinstance(entry, Row) for p in entry.next}
    assert reached >= set(Phase) - {Phase.IDLE}
    for phase in Phase:
        assert any(isinstance(TABLE[phase, e], Row) for e in Event), phase


def test_design_doc_shows_the_table_of_the_code():
    text = DESIGN.read_text()
    begin, end = "<!-- release-table: begin -->\n", "<!-- release-table: end -->"
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == render_markdown(), (
        "docs/design.md differs from planning/release_table.py; paste render_markdown() "
        "between the release-table markers")


class Walk:
    """A simulated ModuleDeployment: instances follow the counts at random speed, some fail;
    the user changes replicas, versions, pause and confirmBatchNum, aborts and deletes."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        self.revs: dict[int, list[int]] = {1: [0, 0, 0, 0]}  # number -> replicas, inst, avail, failed
        self.update, self.desired = 1, rnd.randint(0, 4)
        self.strategy = Strategy(
            batch_count=rnd.randint(1, 3), use_beta=rnd.random() < 0.3,
            need_confirm=rnd.random() < 0.3, gray_seconds=rnd.choice([0, 0, 5, 20]),
            max_unavailable=rnd.randint(0, 1), policy=rnd.choice(list(U)),
            deadline_seconds=rnd.choice([10, 60]), rollback_on_failure=rnd.random() < 0.6)
        self.peer = rnd.random() < 0.15
        self.state = ReleaseState()
        self.pause, self.confirm = False, 0
        self.abort, self.deleting = rnd.random() < 0.1, rnd.random() < 0.1
        self.now = T0
        self.generation, self.retry = 1, None
        self.bad: set[int] = set()  # revisions whose installs fail
        self.short: set[int] = set()  # revisions short of bases

    def observed(self) -> Observed:
        revisions = tuple(Revision(n, f"r{n}", r, i, a, failed=f, short_of_bases=n in self.short)
                          for n, (r, i, a, f) in sorted(self.revs.items()))
        return Observed(
            desired=0 if self.deleting else self.desired, update_revision=self.update,
            revisions=revisions, strategy=self.strategy, pause=self.pause,
            confirm_batch_num=self.confirm, deleting=self.deleting,
            skip_confirmation=self.peer and not self.deleting
            and self.state.update_revision == self.update,
            update_module=f"m:{self.update}", abort=self.abort, retry=self.retry,
            generation=self.generation)

    def step(self, taken: set[tuple[Phase, Event]]) -> None:
        decision = plan(self.observed(), self.state, self.now)
        assert decision.repaired is None, "the machine contradicted itself: " + decision.repaired
        taken.update((s.phase, s.event) for s in decision.steps)
        self.state = decision.state
        before = self.generation
        if decision.set_pause is not None and decision.set_pause != self.pause:
            self.pause = decision.set_pause
            self.generation += 1
        if decision.reset_confirm:
            self.confirm = 0
            self.generation += 1
        if self.generation != before and self.state.aborted_generation == before:
            # as the reconciler does: its own spec write is not the user acting
            self.state = replace(self.state, aborted_generation=self.generation)
        if self.state.progress is P.COMPLETED:
            assert self.state.update_revision == self.update, \
                "Completed on another revision than the spec's"
        if decision.rolled_back:
            self.abort = False
        self.retry = None
        for name, replicas in decision.replicas.items():
            self.revs[int(name[1:])][0] = replicas
        self.world()
        self.user()
        self.now += dt.timedelta(seconds=self.rnd.choice([0, 1, 3, 7, 30]))

    def world(self) -> None:
        for number, rev in self.revs.items():
            replicas, instances, available, failed = rev
            if instances > replicas:
                instances -= self.rnd.randint(0, instances - replicas)
            elif instances < replicas and self.rnd.random() < 0.7:
                instances += self.rnd.randint(1, replicas - instances)
            if number in self.bad:
                available, failed = 0, instances
            else:
                available = min(instances, available + self.rnd.randint(0, instances)) \
                    if self.rnd.random() < 0.8 else min(available, instances)
                failed = 0
            rev[:] = [replicas, instances, available, failed]
        self.short = {n for n in self.revs if self.rnd.random() < 0.03}
        if self.rnd.random() < 0.02:  # a Module made by hand with a revision's label
            self.revs[self.rnd.choice(sorted(self.revs))][1] += 1

    def user(self) -> None:
        r = self.rnd.random()
        if self.deleting:
            return
        # deletion and peer bases that move change no generation
        changed = 0.05 <= r < 0.35 and not (r < 0.12 and self.peer)
        self.generation += changed
        if r < 0.05:
            self.deleting = True
        elif r < 0.12:
            self.desired = self.rnd.randint(0, 4)
        elif r < 0.2:
            number = max(self.revs) + 1
            self.revs[number] = [0, 0, 0, 0]
            self.update = number
            if self.rnd.random() < 0.4:
                self.bad.add(number)
        elif r < 0.24 and len(self.revs) > 1:
            self.update = self.rnd.choice(sorted(self.revs))  # back to an older version
        elif r < 0.3:
            self.pause = not self.pause
        elif r < 0.35:
            self.confirm = self.rnd.randint(0, 3)
        elif r < 0.39:
            self.abort = True
        elif r < 0.42:
            self.peer = not self.peer
        elif r < 0.45 and self.state.aborted_revision is not None:
            self.retry = str(self.rnd.choice([self.state.aborted_revision, 1]))


def test_random_releases_take_every_possible_row_and_no_impossible_one():
    taken: set[tuple[Phase, Event]] = set()
    for seed in range(800):
        walk = Walk(random.Random(seed))
        for _ in range(60):
            walk.step(taken)  # an impossible pair raises AssertionError in plan()
    taken |= _rare_rows()
    possible = {pair for pair, entry in TABLE.items() if isinstance(entry, Row)}
    assert possible - taken == set(), "rows no walk took"


def _rare_rows() -> set[tuple[Phase, Event]]:
    """Rows the random walks take about once in 800 (an abort or new peer bases during a gray
    time), made directly: which rare rows a walk happens to reach shifts with any change of the
    machine's choices, and the test is about the table, not about luck."""
    gray = ReleaseState(update_revision=2, current_batch=1, real_batch_count=2, original_delta=2,
                        progress=P.EXECUTING, desired=2, last_transition=T0, stable_revision=1,
                        next_reconcile=T0 + dt.timedelta(seconds=60))
    revisions = (Revision(1, "r1", 1, 1, 1), Revision(2, "r2", 1, 1, 1))
    strategy = Strategy(batch_count=2, gray_seconds=60)
    out = set()
    for obs, event in (
            (Observed(desired=2, update_revision=2, revisions=revisions, strategy=strategy,
                      pause=False, confirm_batch_num=0, abort=True), Event.ABORT),
            (Observed(desired=3, update_revision=2, revisions=revisions, strategy=strategy,
                      pause=False, confirm_batch_num=0, skip_confirmation=True),
             Event.BASES_CHANGED)):
        first = plan(obs, gray, T0).steps[0]
        assert (first.phase, first.event) == (Phase.GRAY_WAIT, event), first
        out.add((first.phase, first.event))
    paused = replace(gray, progress=P.PAUSED, next_reconcile=None)
    obs = Observed(desired=2, update_revision=2, revisions=revisions, strategy=strategy,
                   pause=True, confirm_batch_num=0, abort=True)
    first = plan(obs, paused, T0).steps[0]
    assert (first.phase, first.event) == (Phase.PAUSED, Event.ABORT), first
    out.add((first.phase, first.event))
    # The user pauses a rollback of two groups (a change of pause alone leaves it given up).
    back = ReleaseState(update_revision=1, current_batch=1, real_batch_count=2, original_delta=2,
                        progress=P.EXECUTING, desired=2, last_transition=T0, stable_revision=1,
                        aborted_revision=2, aborted_module="m:2", aborted_generation=3,
                        aborted_pause=False, aborted_confirm=0, aborted_replicas=2)
    obs = Observed(desired=2, update_revision=2, revisions=(Revision(1, "r1", 1, 1, 1),
                                                            Revision(2, "r2", 1, 1, 1)),
                   strategy=Strategy(batch_count=2), pause=True, confirm_batch_num=0,
                   update_module="m:2", generation=4)
    first = plan(obs, back, T0).steps[0]
    assert (first.phase, first.event) == (Phase.ROLLING_BACK, Event.PAUSE_SET), first
    out.add((first.phase, first.event))
    return out

"""The grouped release planner, driven against a simulated world (no cluster)."""

from __future__ import annotations

import datetime as dt

import pytest

from module_controller.api.common import UpgradePolicy as U
from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning.release import (Observed, ReleaseState, Revision, Strategy,
                                                group_sizes)
from module_controller.planning.release_machine import plan

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("delta, batch, beta, sizes", [
    (5, 3, False, [2, 2, 1]),
    (5, 3, True, [1, 2, 2]),
    (2, 2, False, [1, 1]),
    (1, 3, False, [1]),
    (1, 3, True, [1]),
    (2, 1, True, [1, 1]),
    (10, 4, True, [1, 3, 3, 3]),
    (7, 1, False, [7]),
    (-4, 3, False, [2, 1, 1]),
    (0, 3, False, [0]),
    (100, 7, False, [15, 15, 14, 14, 14, 14, 14]),
])
def test_group_sizes(delta, batch, beta, sizes):
    assert group_sizes(delta, batch, beta) == sizes
    assert sum(sizes) == abs(delta)
    assert max(sizes) - min(sizes[1:] if beta and abs(delta) >= 2 else sizes) <= 1


class World:
    """Revisions whose instances follow spec.replicas at once and are all Available."""

    def __init__(self, revisions: dict[str, tuple[int, int]], update: int, desired: int,
                 strategy: Strategy):
        self.revs = {name: list(v) for name, v in revisions.items()}  # name -> [number, replicas]
        self.update = update
        self.desired = desired
        self.strategy = strategy
        self.state = ReleaseState()
        self.pause = False
        self.confirm = 0
        self.now = T0
        self.deleting = False
        self.history: list[tuple[P | None, int, dict[str, int]]] = []

    def observed(self) -> Observed:
        return Observed(
            desired=0 if self.deleting else self.desired, update_revision=self.update,
            revisions=tuple(Revision(n, name, r, r, r) for name, (n, r) in self.revs.items()),
            strategy=self.strategy, pause=self.pause, confirm_batch_num=self.confirm,
            deleting=self.deleting)

    def step(self) -> None:
        d = plan(self.observed(), self.state, self.now)
        for name, replicas in d.replicas.items():
            self.revs[name][1] = replicas
        self.state = d.state
        if d.set_pause is not None:
            self.pause = d.set_pause
        if d.reset_confirm:
            self.confirm = 0
        self.history.append((d.state.progress, d.state.current_batch,
                             {n: r for n, (_, r) in self.revs.items()}))

    def run(self, until, limit=20) -> None:
        for _ in range(limit):
            self.step()
            if until(self):
                return
        raise AssertionError(self.history)


def test_seed_upgrade_pauses_after_group_one_then_completes():
    w = World({"md-replicas-1": (1, 2), "md-replicas-2": (2, 0)}, update=2, desired=2,
              strategy=Strategy(batch_count=2, need_confirm=True))
    w.run(lambda w: w.state.progress is P.PAUSED)
    assert w.pause is True
    assert w.revs == {"md-replicas-1": [1, 1], "md-replicas-2": [2, 1]}
    assert (w.state.current_batch, w.state.real_batch_count) == (1, 2)
    for _ in range(3):  # nothing moves while paused
        w.step()
    assert w.revs["md-replicas-2"][1] == 1 and w.state.progress is P.PAUSED
    w.pause = False  # kubectl patch ... pause=false
    w.run(lambda w: w.state.progress is P.COMPLETED)
    assert w.revs == {"md-replicas-1": [1, 0], "md-replicas-2": [2, 2]}
    assert w.pause is False


def test_confirm_batch_num_confirms_once_and_stale_repeat_does_nothing():
    w = World({"r1": (1, 0)}, update=1, desired=3,
              strategy=Strategy(batch_count=3, need_confirm=True))
    w.run(lambda w: w.state.progress is P.PAUSED)
    assert w.revs["r1"][1] == 1
    w.confirm = 1
    w.run(lambda w: w.state.progress is P.PAUSED and w.state.current_batch == 2)
    assert w.revs["r1"][1] == 2 and w.pause is True
    w.confirm = 1  # stale: group 2 waits
    for _ in range(3):
        w.step()
    assert w.revs["r1"][1] == 2 and w.state.progress is P.PAUSED
    w.confirm = 2
    w.run(lambda w: w.state.progress is P.COMPLETED)
    assert w.revs["r1"][1] == 3 and w.confirm == 0 and w.pause is False


def test_beta_group_is_one_instance_and_pauses():
    w = World({"r1": (1, 0)}, update=1, desired=5, strategy=Strategy(batch_count=3, use_beta=True))
    w.run(lambda w: w.state.progress is P.PAUSED)
    assert w.revs["r1"][1] == 1 and w.state.real_batch_count == 3
    w.pause = False
    w.run(lambda w: w.state.progress is P.COMPLETED)
    sizes = [h[2]["r1"] for h in w.history]
    assert 3 in sizes and sizes[-1] == 5  # 1, then +2, then +2


def test_gray_time_holds_the_next_group():
    w = World({"r1": (1, 0)}, update=1, desired=2, strategy=Strategy(batch_count=2, gray_seconds=30))
    w.step()
    w.step()
    assert w.revs["r1"][1] == 1 and w.state.current_batch == 2
    assert w.state.next_reconcile == T0 + dt.timedelta(seconds=30)
    w.step()
    assert w.revs["r1"][1] == 1, "still inside the gray time"
    w.now += dt.timedelta(seconds=31)
    w.run(lambda w: w.state.progress is P.COMPLETED)
    assert w.revs["r1"][1] == 2


def test_user_pause_freezes_after_the_current_group():
    w = World({"r1": (1, 0)}, update=1, desired=3, strategy=Strategy(batch_count=3))
    w.pause = True
    w.run(lambda w: w.state.progress is P.PAUSED)
    assert w.revs["r1"][1] == 1
    w.pause = False
    w.run(lambda w: w.state.progress is P.COMPLETED)


def test_deletion_interrupts_and_goes_offline_in_groups():
    w = World({"r1": (1, 0)}, update=1, desired=4, strategy=Strategy(batch_count=2, need_confirm=True))
    w.run(lambda w: w.state.progress is P.PAUSED)
    w.deleting = True
    w.run(lambda w: w.state.progress is P.PAUSED and w.state.desired == 0)
    assert w.revs["r1"][1] == 1, "first offline group removed half of what existed"
    w.pause = False
    w.run(lambda w: w.state.progress is P.TERMINATED)
    assert w.revs["r1"][1] == 0


def test_new_spec_mid_release_takes_over_at_the_group_boundary():
    w = World({"r1": (1, 4), "r2": (2, 0)}, update=2, desired=4, strategy=Strategy(batch_count=4))
    w.step()
    assert w.revs == {"r1": [1, 4], "r2": [2, 1]}, "the old instance stays until its replacement is up"
    w.step()
    assert w.revs == {"r1": [1, 3], "r2": [2, 1]}
    w.revs["r3"] = [3, 0]
    w.update = 3
    w.run(lambda w: w.state.progress is P.COMPLETED and w.state.update_revision == 3)
    assert w.revs["r3"][1] == 4 and w.revs["r1"][1] == 0 and w.revs["r2"][1] == 0


def test_settled_deployment_does_nothing():
    w = World({"r1": (1, 2)}, update=1, desired=2, strategy=Strategy())
    w.step()
    assert w.state.progress is P.COMPLETED and w.revs == {"r1": [1, 2]}


def test_uninstall_then_install_waves_respect_max_unavailable():
    strategy = Strategy(batch_count=1, max_unavailable=1, policy=U.UNINSTALL_THEN_INSTALL)
    obs = Observed(desired=4, update_revision=2,
                   revisions=(Revision(1, "r1", 4, 4, 4), Revision(2, "r2", 0, 0, 0)),
                   strategy=strategy, pause=False, confirm_batch_num=0)
    d = plan(obs, ReleaseState(), T0)
    assert d.replicas["r2"] == 1, d.replicas


def test_uninstall_then_install_waits_for_the_wave_in_flight():
    strategy = Strategy(batch_count=1, max_unavailable=1, policy=U.UNINSTALL_THEN_INSTALL)
    # One replacement placed, not Available yet; the old revision still reads 4 Available.
    st = ReleaseState(update_revision=2, current_batch=1, real_batch_count=1, original_delta=4,
                      progress=P.EXECUTING, desired=4, last_transition=T0)
    obs = Observed(desired=4, update_revision=2,
                   revisions=(Revision(1, "r1", 4, 4, 4), Revision(2, "r2", 1, 1, 0)),
                   strategy=strategy, pause=False, confirm_batch_num=0)
    assert plan(obs, st, T0).replicas["r2"] == 1, "no second instance down at once"
    done = Observed(desired=4, update_revision=2,
                    revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 1, 1, 1)),
                    strategy=strategy, pause=False, confirm_batch_num=0)
    assert plan(done, st, T0).replicas["r2"] == 2


def test_peer_scale_follows_bases_that_go_away_mid_scale():
    """Peer mode: a scale toward 2 bases runs, then one of them goes away before the second
    instance can be placed. The scale must settle on the one base left, not wait for a group
    that can never complete."""
    strategy = Strategy(batch_count=2, use_beta=False, need_confirm=False, gray_seconds=0,
                        max_unavailable=1, policy=U.INSTALL_THEN_UNINSTALL, deadline_seconds=600)

    def observed(desired: int, replicas: int, instances: int) -> Observed:
        return Observed(desired=desired, update_revision=1,
                        revisions=(Revision(1, "r1", replicas, instances, instances),),
                        strategy=strategy, pause=False, confirm_batch_num=0, deleting=False,
                        skip_confirmation=True)

    # 4 bases -> 2 seen ready: the scale from 4 to 2 starts.
    first = plan(observed(2, 4, 4), ReleaseState(update_revision=1, progress=P.COMPLETED,
                                                 desired=4), T0)
    assert first.replicas == {"r1": 2} and first.state.progress is P.EXECUTING
    # Before it completes, one more base goes: 1 ready base, 1 instance left.
    later = T0 + dt.timedelta(seconds=1)
    decision = plan(observed(1, 2, 1), first.state, later)
    assert decision.replicas == {"r1": 1}
    assert decision.state.progress is P.COMPLETED and decision.state.desired == 1


# ----------------------------------------------------------------- a stuck group gives way

def _executing(update: int, delta: int, desired: int) -> ReleaseState:
    return ReleaseState(update_revision=update, current_batch=1, real_batch_count=1,
                        original_delta=delta, progress=P.EXECUTING, desired=desired,
                        last_transition=T0)


def test_scale_short_of_bases_gives_way_to_a_scale_back_at_once():
    """replicas 3 -> 4 on 3 bases: the 4th instance has no base, the group never completes.
    Back to 3 must not wait for it."""
    short = Revision(1, "r1", 4, 3, 3, short_of_bases=True)
    obs = Observed(desired=3, update_revision=1, revisions=(short,), strategy=Strategy(),
                   pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(1, 1, 4), T0)
    assert d.replicas == {"r1": 3} and d.superseded
    assert d.state.progress is P.COMPLETED and d.state.desired == 3


def test_scale_short_of_bases_gives_way_to_a_new_version_at_once():
    short = Revision(1, "r1", 4, 3, 3, short_of_bases=True)
    obs = Observed(desired=3, update_revision=2, revisions=(short, Revision(2, "r2", 0, 0, 0)),
                   strategy=Strategy(), pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(1, 1, 4), T0)
    assert d.state.update_revision == 2 and d.state.progress is P.EXECUTING
    assert d.replicas == {"r1": 3, "r2": 3}, "old revision back to what is wanted, new one grows"


def test_rollback_from_failing_release_drops_the_failed_instances_at_once():
    """2.0.0 (r2) fails on every base; 1.0.0 (r1) re-applied. r2's instances never came up:
    they are abandoned (r2 -> 0), not finished; r1 keeps its 3."""
    obs = Observed(desired=3, update_revision=1,
                   revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 3, 3, 0, failed=3)),
                   strategy=Strategy(), pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(2, 3, 3), T0)
    assert d.replicas == {"r1": 3, "r2": 0}
    assert d.state.update_revision == 1 and d.superseded == "rollback to revision 1"


def test_rollback_waits_for_no_group_of_the_version_it_leaves():
    """A rollback gives way at once even while the group looks healthy (still installing):
    finishing the group would activate the version rolled back from."""
    obs = Observed(desired=2, update_revision=1,
                   revisions=(Revision(1, "r1", 2, 2, 2), Revision(2, "r2", 2, 2, 0)),
                   strategy=Strategy(batch_count=2), pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(2, 2, 2), T0)
    assert d.replicas == {"r1": 2, "r2": 0} and d.state.update_revision == 1


def test_new_version_over_a_failing_one_keeps_the_serving_instances():
    """2.0.0 (r2) fails, 3.0.0 (r3) applied: the room for old instances goes to r1's Available
    ones, not to r2's Failed ones."""
    obs = Observed(desired=3, update_revision=3,
                   revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 3, 3, 0, failed=3),
                              Revision(3, "r3", 0, 0, 0)),
                   strategy=Strategy(), pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(2, 3, 3), T0)
    assert d.replicas == {"r1": 3, "r2": 0, "r3": 3}


def test_healthy_group_still_takes_a_new_version_at_its_boundary():
    """Not stuck, not a rollback: the contract's rule (behaviour §2.3.6) holds, the running
    group finishes first."""
    obs = Observed(desired=2, update_revision=3,
                   revisions=(Revision(1, "r1", 2, 2, 2), Revision(2, "r2", 2, 2, 0),
                              Revision(3, "r3", 0, 0, 0)),
                   strategy=Strategy(), pause=False, confirm_batch_num=0)
    d = plan(obs, _executing(2, 2, 2), T0)
    assert d.state.update_revision == 2 and d.superseded is None
    assert d.replicas == {"r1": 2, "r2": 2, "r3": 0}


# ----------------------------------------------------------------- a group Available as it starts

def _offline(groups: int) -> tuple[Observed, ReleaseState]:
    """A deletion going offline in ``groups`` groups whose instances are all gone already (their
    bases went away): every group is Available the moment it starts."""
    obs = Observed(desired=0, update_revision=1, revisions=(Revision(1, "r1", 6, 0, 0),),
                   strategy=Strategy(batch_count=groups), pause=False, confirm_batch_num=0,
                   deleting=True)
    st = ReleaseState(update_revision=1, current_batch=1, real_batch_count=groups,
                      original_delta=-6, progress=P.TERMINATING, desired=0, last_transition=T0)
    return obs, st


def test_a_group_available_as_it_starts_is_looked_at_in_the_same_reconcile():
    """Nothing sends an event for a group that is done before it starts: planning stopped at
    'next group' would leave the release Terminating for ever."""
    obs, st = _offline(3)
    d = plan(obs, st, T0)
    assert d.state.progress is P.TERMINATED
    assert d.state.current_batch == 3
    assert d.replicas == {"r1": 0}


def test_more_groups_than_the_step_bound_still_finish_in_one_plan():
    obs, st = _offline(12)
    assert plan(obs, st, T0).state.progress is P.TERMINATED


def test_next_group_that_is_pending_gets_a_deadline_wake():
    """The group just started is not Available: the plan looks again by its deadline, as for
    any group being applied (a stuck group sends no events)."""
    w = World({"r1": (1, 0)}, update=1, desired=2, strategy=Strategy(batch_count=2))
    w.step()  # group 1 applied; the World makes its instance Available at once
    d = plan(w.observed(), w.state, w.now)  # group 1 Available -> group 2 starts, pending
    assert d.state.current_batch == 2 and d.replicas == {"r1": 2}
    assert d.requeue_after is not None and d.requeue_after > 0


def test_a_new_spec_that_arrives_during_the_last_group_starts_when_the_group_is_done():
    """The last group of revision 2 turns Available after revision 3 was made: the same plan()
    that ends revision 2's release starts revision 3's. Finishing it as Completed instead left
    the ModuleDeployment waiting for a wake that its own status write does not give (the chaos
    suite, beside two CPU hogs: 60 s with revision 3 at 0 replicas)."""
    st = ReleaseState(update_revision=2, current_batch=2, real_batch_count=2, original_delta=3,
                      progress=P.EXECUTING, desired=3, last_transition=T0, stable_revision=1)
    obs = Observed(desired=4, update_revision=3,
                   revisions=(Revision(1, "r1", 0, 0, 0), Revision(2, "r2", 3, 3, 3),
                              Revision(3, "r3", 0, 0, 0)),
                   strategy=Strategy(batch_count=2), pause=False, confirm_batch_num=0)
    d = plan(obs, st, T0)
    assert d.state.update_revision == 3 and d.state.progress is P.EXECUTING, d.steps
    assert d.replicas.get("r3", 0) >= 1, d.replicas


def test_a_strategy_edited_mid_release_does_not_resize_its_groups():
    """batchCount 1 -> 2 while the one-group release of 2 instances runs: its last group still
    moves both (found by the sequence tier: it read Completed with 1 of 2 instances)."""
    from module_controller.planning.release import (Observed, ReleaseState, Revision, Strategy,
                                                    targets)
    st = ReleaseState(update_revision=2, current_batch=1, real_batch_count=1, original_delta=2,
                      desired=2)
    for strategy in (Strategy(batch_count=2), Strategy(batch_count=3, use_beta=True),
                     Strategy(batch_count=1, use_beta=True)):
        obs = Observed(desired=2, update_revision=2,
                       revisions=(Revision(1, "r1", 2, 2, 2), Revision(2, "r2", 2, 2, 2)),
                       strategy=strategy, pause=False, confirm_batch_num=0)
        assert targets(obs, st, 1)["r2"] == 2, strategy

"""Giving a release up (planning.rollback): rollback on failure and abort, without a cluster."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning.release import Observed, ReleaseState, Revision, Strategy
from module_controller.planning.release_machine import plan
from module_controller.planning.rollback import REASON_ABORTED, REASON_FAILED

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
V1, V2 = "provider:1.0.0@http://x/1.jar", "provider:2.0.0@http://x/2.jar"


def _running(stable: int | None = 1) -> ReleaseState:
    """Revision 2 released over revision 1 (3 instances, one group), started at T0."""
    return ReleaseState(update_revision=2, current_batch=1, real_batch_count=1, original_delta=3,
                        progress=P.EXECUTING, desired=3, last_transition=T0,
                        stable_revision=stable)


def _failing(rollback: bool = True, failed: int = 3, **kw) -> Observed:
    return Observed(desired=3, update_revision=2,
                    revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 3, 3, 0, failed=failed)),
                    strategy=Strategy(deadline_seconds=10, rollback_on_failure=rollback),
                    pause=False, confirm_batch_num=0, update_module=V2, **kw)


def test_before_the_deadline_nothing_is_given_up_and_it_looks_again_then():
    d = plan(_failing(), _running(), T0 + dt.timedelta(seconds=4))
    assert d.rolled_back is None and not d.failed and d.state.update_revision == 2
    assert d.requeue_after is not None and 6 <= d.requeue_after <= 7


def test_failed_release_rolls_back_to_the_stable_revision():
    d = plan(_failing(), _running(), T0 + dt.timedelta(seconds=11))
    assert d.rolled_back == REASON_FAILED
    assert d.replicas == {"r1": 3, "r2": 0}, "the Failed instances are dropped"
    st = d.state
    assert (st.update_revision, st.stable_revision, st.aborted_revision, st.aborted_module) == \
        (1, 1, 2, V2)
    assert st.progress is P.EXECUTING, "done once the Failed instances are gone"


def test_after_the_rollback_the_unchanged_spec_stays_rolled_back():
    """The spec still names 2.0.0: a later reconcile (or a restarted controller, which reads the
    same status) keeps revision 1 and does not start 2.0.0 again."""
    later = T0 + dt.timedelta(seconds=12)
    st = plan(_failing(), _running(), T0 + dt.timedelta(seconds=11)).state
    settled = Observed(desired=3, update_revision=2,
                       revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 0, 0, 0)),
                       strategy=Strategy(deadline_seconds=10, rollback_on_failure=True),
                       pause=False, confirm_batch_num=0, update_module=V2)
    for _ in range(2):
        d = plan(settled, st, later)
        st = d.state
        assert d.rolled_back is None and d.replicas.get("r2", 0) == 0 \
            and d.replicas.get("r1", 3) == 3
        assert (st.progress, st.update_revision, st.aborted_revision) == (P.ABORTED, 1, 2)


def test_a_fixed_url_for_the_given_up_version_is_released_again():
    st = plan(_failing(), _running(), T0 + dt.timedelta(seconds=11)).state
    fixed = Observed(desired=3, update_revision=2,
                     revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 0, 0, 0)),
                     strategy=Strategy(rollback_on_failure=True), pause=False,
                     confirm_batch_num=0, update_module=V2.replace("2.jar", "2-fixed.jar"))
    st = plan(fixed, st, T0 + dt.timedelta(seconds=20)).state  # the rollback's group ends
    d = plan(fixed, st, T0 + dt.timedelta(seconds=21))
    assert d.state.aborted_revision is None and d.state.update_revision == 2
    assert d.replicas["r2"] == 3


def test_without_rollback_on_failure_the_release_stops_and_reports():
    d = plan(_failing(rollback=False), _running(), T0 + dt.timedelta(seconds=11))
    assert d.failed and d.rolled_back is None
    assert d.state.update_revision == 2 and d.state.progress is P.EXECUTING


def test_first_release_has_nothing_to_roll_back_to():
    obs = Observed(desired=3, update_revision=1, revisions=(Revision(1, "r1", 3, 3, 0, failed=3),),
                   strategy=Strategy(deadline_seconds=10, rollback_on_failure=True),
                   pause=False, confirm_batch_num=0, update_module=V1)
    st = replace(_running(stable=None), update_revision=1)
    d = plan(obs, st, T0 + dt.timedelta(seconds=11))
    assert d.failed and d.rolled_back is None and d.state.update_revision == 1


def test_slow_but_not_failing_release_is_not_rolled_back():
    d = plan(_failing(failed=0), _running(), T0 + dt.timedelta(seconds=11))
    assert d.deadline_exceeded and not d.failed and d.rolled_back is None


def test_abort_returns_to_the_stable_revision_at_once_and_lifts_the_pause():
    obs = replace(_failing(rollback=False, failed=0, abort=True), pause=True)
    st = replace(_running(), progress=P.PAUSED, real_batch_count=2)
    d = plan(obs, st, T0 + dt.timedelta(seconds=1))
    assert d.rolled_back == REASON_ABORTED and d.set_pause is False
    assert d.state.update_revision == 1 and d.state.aborted_revision == 2
    assert d.replicas == {"r1": 3, "r2": 0}


def test_abort_without_a_running_release_is_refused():
    done = ReleaseState(update_revision=1, current_batch=1, real_batch_count=1,
                        progress=P.COMPLETED, desired=3, stable_revision=1)
    obs = Observed(desired=3, update_revision=1, revisions=(Revision(1, "r1", 3, 3, 3),),
                   strategy=Strategy(), pause=False, confirm_batch_num=0, update_module=V1,
                   abort=True)
    d = plan(obs, done, T0)
    assert d.abort_refused == "no release is running" and d.rolled_back is None


def test_a_completed_release_becomes_the_stable_revision():
    obs = Observed(desired=3, update_revision=2,
                   revisions=(Revision(1, "r1", 0, 0, 0), Revision(2, "r2", 3, 3, 3)),
                   strategy=Strategy(), pause=False, confirm_batch_num=0, update_module=V2)
    d = plan(obs, _running(), T0 + dt.timedelta(seconds=1))
    assert d.state.progress is P.COMPLETED and d.state.stable_revision == 2


def _given_up(generation: int = 5) -> tuple[Observed, ReleaseState]:
    """Revision 2 given up (aborted at generation ``generation``) and revision 1 back on all
    three bases; the spec still names revision 2."""
    st = plan(_failing(generation=generation), _running(), T0 + dt.timedelta(seconds=11)).state
    settled = Observed(desired=3, update_revision=2,
                       revisions=(Revision(1, "r1", 3, 3, 3), Revision(2, "r2", 0, 0, 0)),
                       strategy=Strategy(deadline_seconds=10, rollback_on_failure=True),
                       pause=False, confirm_batch_num=0, update_module=V2, generation=generation)
    st = plan(settled, st, T0 + dt.timedelta(seconds=12)).state
    assert (st.progress, st.update_revision, st.aborted_revision, st.aborted_generation) == \
        (P.ABORTED, 1, 2, generation)
    return settled, st


def test_the_given_up_spec_applied_again_is_released_again():
    """An undo and the given-up spec applied again, the controller having seen neither: the
    generation moved on, so the spec is released (not Completed on revision 1)."""
    settled, st = _given_up()
    d = plan(replace(settled, generation=7), st, T0 + dt.timedelta(seconds=13))
    assert d.retried and "generation 5 -> 7" in d.retried
    assert (d.state.progress, d.state.update_revision, d.state.aborted_revision) == \
        (P.EXECUTING, 2, None)
    assert d.replicas["r2"] == 3


def test_a_retry_annotation_naming_the_given_up_revision_releases_it_again():
    settled, st = _given_up()
    d = plan(replace(settled, retry="2"), st, T0 + dt.timedelta(seconds=13))
    assert d.retried == "retry of revision 2 asked" and d.retry_refused is None
    assert (d.state.progress, d.state.update_revision) == (P.EXECUTING, 2)


def test_a_stale_retry_is_refused_and_changes_nothing():
    settled, st = _given_up()
    d = plan(replace(settled, retry="1"), st, T0 + dt.timedelta(seconds=13))
    assert d.retried is None and "given-up revision is 2" in (d.retry_refused or "")
    assert (d.state.progress, d.state.update_revision) == (P.ABORTED, 1)
    d = plan(replace(settled, retry="2"), replace(st, aborted_revision=None,
                                                  progress=P.COMPLETED), T0)
    assert "no release is given up" in (d.retry_refused or "")


def test_an_undo_to_the_stable_revision_completes():
    settled, st = _given_up()
    undone = replace(settled, update_revision=1, update_module=V1, generation=6)
    d = plan(undone, st, T0 + dt.timedelta(seconds=13))
    assert (d.state.progress, d.state.update_revision, d.state.aborted_revision) == \
        (P.COMPLETED, 1, None)


def test_an_aborted_release_is_never_completed_while_the_spec_differs():
    settled, st = _given_up()
    for _ in range(3):
        st = plan(settled, st, T0 + dt.timedelta(seconds=20)).state
        assert st.progress is P.ABORTED


def test_a_hand_written_status_that_contradicts_the_objects_is_repaired():
    """progress Terminated on a ModuleDeployment that is not deleted: planned again from the
    objects, never an exception."""
    obs = Observed(desired=2, update_revision=1, revisions=(Revision(1, "r1", 2, 2, 2),),
                   strategy=Strategy(), pause=False, confirm_batch_num=0, update_module=V1)
    bogus = ReleaseState(update_revision=1, current_batch=1, real_batch_count=1,
                         original_delta=-2, progress=P.TERMINATED, desired=0, last_transition=T0)
    d = plan(obs, bogus, T0)
    assert d.repaired and "Terminated" in d.repaired
    assert (d.state.progress, d.state.update_revision) == (P.COMPLETED, 1)
    for bad in (replace(bogus, progress=P.EXECUTING, current_batch=9),
                replace(bogus, progress=P.COMPLETED, aborted_revision=1, stable_revision=7),
                replace(bogus, progress=P.ABORTED),
                replace(bogus, progress=P.PAUSED, current_batch=1, real_batch_count=1)):
        d = plan(obs, bad, T0)
        assert d.state.progress is P.COMPLETED, (bad, d)

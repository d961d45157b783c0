"""Giving a release up: automatic rollback on failure and the user's abort (issue 16), pure.

:func:`plan` wraps :func:`release.plan`. It keeps two facts across releases in the release
status: the *stable* revision (the last one whose release completed) and an *aborted* revision
(one given up, with the ``name:version@url`` it was given up as). While the spec still points at
the aborted revision as it was, the release's target is the stable revision instead: the
controller never rewrites the user's spec (a templateRef could not be rewritten anyway), and a
restarted controller reads the same status and does the same. Any change of the spec's module
(another version, or the same version at a fixed url) clears the abort and is released as usual.

A release *fails* when ``progressDeadlineSeconds`` pass without a completed group while
instances of its revision are Failed. With ``rollbackOnFailure`` and a stable revision to go
back to, it is given up and the stable revision is released again, in groups, with the same
strategy; otherwise the release stays where it is and the failure is reported. An abort is the
same give-up, asked for by the user.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ..api.moduledeployment import ReleaseProgress as P
from . import release
from .release import Decision, Observed, ReleaseState

REASON_ABORTED = "Aborted"
REASON_FAILED = "ProgressDeadlineExceeded"


def plan(obs: Observed, st: ReleaseState, now: dt.datetime) -> Decision:
    """What to do now: :func:`release.plan` toward the effective target, plus give-ups."""
    if st.aborted_revision is not None and (obs.update_revision != st.aborted_revision
                                            or obs.update_module != st.aborted_module):
        st = replace(st, aborted_revision=None, aborted_module=None)  # the spec moved on
    running = st.progress not in (None, P.COMPLETED, P.ABORTED, P.TERMINATING, P.TERMINATED)
    if obs.abort and not obs.deleting:
        refused = _cannot_give_up(obs, st, running)
        if refused is None:
            return _give_up(obs, st, now, REASON_ABORTED)
        decision = plan(replace(obs, abort=False), st, now)
        decision.abort_refused = refused
        return decision

    decision = _keep(st, release.plan(_effective(obs, st), st, now))
    if decision.deadline_exceeded and not obs.deleting and decision.state.progress is P.EXECUTING:
        update = next((r for r in obs.revisions if r.number == decision.state.update_revision),
                      None)
        if update is not None and update.failed:
            if obs.strategy.rollback_on_failure and \
                    _cannot_give_up(obs, decision.state, True) is None:
                return _give_up(obs, decision.state, now, REASON_FAILED)
            decision.failed = True
    return decision


def _effective(obs: Observed, st: ReleaseState) -> Observed:
    """The spec's revision, or the stable one while the spec's revision is given up."""
    if st.aborted_revision is not None and st.stable_revision is not None and not obs.deleting:
        return replace(obs, update_revision=st.stable_revision)
    return obs


def _cannot_give_up(obs: Observed, st: ReleaseState, running: bool) -> str | None:
    if not running or st.update_revision is None:
        return "no release is running"
    if st.aborted_revision == st.update_revision:
        return f"revision {st.update_revision} is given up already"
    if st.stable_revision is None or st.stable_revision == st.update_revision:
        return "nothing to roll back to: no earlier revision completed"
    if not any(r.number == st.stable_revision for r in obs.revisions):
        return f"revision {st.stable_revision} to roll back to is gone"
    return None


def _give_up(obs: Observed, st: ReleaseState, now: dt.datetime, why: str) -> Decision:
    """Give the running release up and release the stable revision again, at once."""
    given_up = replace(st, aborted_revision=st.update_revision, aborted_module=obs.update_module)
    target = _effective(obs, given_up)
    fresh = release.start(target, now)
    fresh = replace(fresh, stable_revision=st.stable_revision,
                    aborted_revision=given_up.aborted_revision,
                    aborted_module=given_up.aborted_module)
    decision = release.run(target, fresh, now, Decision(state=fresh))
    decision = _keep(fresh, decision)
    decision.rolled_back = why
    if obs.pause:
        decision.set_pause = False  # a rollback does not wait at the group it interrupts
    return decision


def _keep(st: ReleaseState, decision: Decision) -> Decision:
    """Carry the stable and aborted revisions into the decided state; a completed release of
    a revision that is not given up makes it the stable one."""
    new = decision.state
    stable = st.stable_revision
    if new.progress is P.COMPLETED and new.update_revision != st.aborted_revision:
        stable = new.update_revision
    decision.state = replace(new, stable_revision=stable, aborted_revision=st.aborted_revision,
                             aborted_module=st.aborted_module)
    return decision

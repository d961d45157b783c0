"""Giving a release up: automatic rollback on failure and the user's abort (issue 16), pure.

Two facts are kept across releases in the release status: the *stable* revision (the last one
whose release completed) and an *aborted* revision (one given up, with the ``name:version@url``
it was given up as). While the spec still points at the aborted revision as it was, the
release's target is the stable revision instead (:func:`effective`): the controller never
rewrites the user's spec (a templateRef could not be rewritten anyway), and a restarted
controller reads the same status and does the same. Any change of the spec's module (another
version, or the same version at a fixed url) clears the abort (:func:`forget_moved_on`) and is
released as usual.

A release *fails* when ``progressDeadlineSeconds`` pass without a completed group while
instances of its revision are Failed. With ``rollbackOnFailure`` and a stable revision to go
back to (:func:`cannot_give_up` says why not), it is given up and the stable revision is
released again, in groups, with the same strategy; otherwise the release stays where it is and
the failure is reported. An abort is the same give-up, asked for by the user. The transitions
themselves are rows of :mod:`planning.release_table` (events ``abort asked``, ``deadline passed,
instances Failed``; action ``give the release up``).
"""

from __future__ import annotations

from dataclasses import replace

from ..api.moduledeployment import ReleaseProgress as P
from .release import Decision, Observed, ReleaseState

REASON_ABORTED = "Aborted"
REASON_FAILED = "ProgressDeadlineExceeded"


def forget_moved_on(obs: Observed, st: ReleaseState) -> ReleaseState:
    """``st`` without its given-up revision once the spec's module is another one."""
    if st.aborted_revision is not None and (obs.update_revision != st.aborted_revision
                                            or obs.update_module != st.aborted_module):
        return replace(st, aborted_revision=None, aborted_module=None)
    return st


def effective(obs: Observed, st: ReleaseState) -> Observed:
    """The spec's revision, or the stable one while the spec's revision is given up."""
    if st.aborted_revision is not None and st.stable_revision is not None and not obs.deleting:
        return replace(obs, update_revision=st.stable_revision)
    return obs


def cannot_give_up(obs: Observed, st: ReleaseState, running: bool) -> str | None:
    """Why the release ``st`` cannot be given up (None: it can)."""
    if not running or st.update_revision is None:
        return "no release is running"
    if st.aborted_revision == st.update_revision:
        return f"revision {st.update_revision} is given up already"
    if st.stable_revision is None or st.stable_revision == st.update_revision:
        return "nothing to roll back to: no earlier revision completed"
    if not any(r.number == st.stable_revision for r in obs.revisions):
        return f"revision {st.stable_revision} to roll back to is gone"
    return None


def carry(kept: ReleaseState, new: ReleaseState) -> ReleaseState:
    """``new`` with the stable and given-up revisions of ``kept`` (a fresh release state
    knows neither)."""
    return replace(new, stable_revision=kept.stable_revision,
                   aborted_revision=kept.aborted_revision, aborted_module=kept.aborted_module)


def keep_stable(kept: ReleaseState, decision: Decision) -> Decision:
    """The decided state with the revisions of ``kept``; a completed release of a revision that
    is not given up makes it the stable one."""
    new = decision.state
    stable = kept.stable_revision
    if new.progress is P.COMPLETED and new.update_revision != kept.aborted_revision:
        stable = new.update_revision
    decision.state = replace(carry(kept, new), stable_revision=stable)
    return decision

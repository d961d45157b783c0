"""Giving a release up: automatic rollback on failure and the user's abort, pure.

Two facts are kept across releases in the release status: the *stable* revision (the last one
whose release completed) and an *aborted* revision (one given up, with the ``name:version@url``
it was given up as). While the spec still points at the aborted revision as it was, the
release's target is the stable revision instead (:func:`effective`), and once that runs
the release reads Aborted: the controller never rewrites the user's spec (a templateRef could
not be rewritten anyway), and a restarted controller reads the same status and does the same.
The user leaves that state by acting (:func:`forget_given_up`): a retry, any change of the
spec (its generation moves on; also the given-up spec applied again after an undo), or another
module; the spec is then released as usual.

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


def forget_given_up(obs: Observed, st: ReleaseState) -> tuple[ReleaseState, str | None]:
    """``st`` without its given-up revision once the user acted, and how they did (None: the
    give-up stands). The user acts by changing the spec's module (another version, a fixed
    url), by any other change of the spec (its generation moved on since the give-up: also a
    spec applied again after an undo the controller never saw, or an undo back to the given-up
    revision), or by asking for a retry (the annotation naming the given-up revision)."""
    if st.aborted_revision is None:
        return st, None
    if st.aborted_generation is None and obs.generation is not None:
        st = replace(st, aborted_generation=obs.generation)  # a status from before the field
    why = None
    if obs.retry is not None and obs.retry == str(st.aborted_revision):
        why = f"retry of revision {st.aborted_revision} asked"
    elif obs.update_revision != st.aborted_revision or obs.update_module != st.aborted_module:
        why = f"the spec moved on to {obs.update_module} (revision {obs.update_revision})"
    elif obs.generation is not None and st.aborted_generation is not None and \
            obs.generation > st.aborted_generation:
        if (obs.pause, obs.confirm_batch_num, obs.desired) != \
                (st.aborted_pause, st.aborted_confirm, st.aborted_replicas):
            # pause, confirmBatchNum or replicas changed: taken for that change (it steers or
            # scales the stable revision), not for a new spec
            return replace(st, aborted_generation=obs.generation), None
        why = (f"the spec was changed (generation {st.aborted_generation} -> {obs.generation}) "
               f"and names revision {st.aborted_revision} again")
    if why is None:
        return st, None
    return replace(st, aborted_revision=None, aborted_module=None, aborted_generation=None,
                   aborted_pause=None, aborted_confirm=None, aborted_replicas=None), why


def steering_kept(obs: Observed, decision: Decision) -> Decision:
    """The decision with the spec's pause and confirmBatchNum (as they are once it is written)
    and the wanted instances kept beside a given-up revision (:func:`forget_given_up` tells a
    change of these from a new spec)."""
    st = decision.state
    if st.aborted_revision is None:
        return decision
    pause = obs.pause if decision.set_pause is None else decision.set_pause
    confirm = 0 if decision.reset_confirm else obs.confirm_batch_num
    decision.state = replace(st, aborted_pause=pause, aborted_confirm=confirm,
                             aborted_replicas=obs.desired)
    return decision


def retry_refused(obs: Observed, st: ReleaseState, retried: str | None) -> str | None:
    """Why a retry annotation is not acted on (None: there is none, or it was acted on)."""
    if obs.retry is None or (retried is not None and retried.startswith("retry")):
        return None
    if retried is not None:
        return f"retry of revision {obs.retry} not needed: {retried}"
    if st.aborted_revision is None:
        return f"retry of revision {obs.retry} refused: no release is given up"
    return (f"retry of revision {obs.retry} refused: the given-up revision is "
            f"{st.aborted_revision}")


def contradiction(obs: Observed, st: ReleaseState) -> str | None:
    """Why the recorded release ``st`` cannot be true of the objects ``obs`` (None: it can).
    The transition table finds the rest (:class:`release_machine.Contradiction`)."""
    numbers = {r.number for r in obs.revisions}
    if st.progress in (P.TERMINATING, P.TERMINATED) and not obs.deleting:
        return f"progress {st.progress} while the ModuleDeployment is not deleted"
    if st.progress is not None and st.update_revision is not None and not (
            1 <= st.current_batch <= max(st.real_batch_count, 1)):
        return f"group {st.current_batch}/{st.real_batch_count}"
    if st.aborted_revision is not None and not obs.deleting and (
            st.stable_revision is None or st.stable_revision not in numbers):
        return (f"revision {st.aborted_revision} given up for revision {st.stable_revision}, "
                "which does not exist")
    if st.progress is P.ABORTED and st.aborted_revision is None:
        return "progress Aborted with no given-up revision"
    return None


def repaired(obs: Observed, st: ReleaseState) -> ReleaseState:
    """The release state to plan from when ``st`` contradicts the objects: no release recorded
    (the planner compares the revisions with the spec and starts what is missing), keeping
    the stable revision if it exists."""
    stable = st.stable_revision if any(r.number == st.stable_revision
                                       for r in obs.revisions) else None
    return ReleaseState(stable_revision=stable)


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
                   aborted_revision=kept.aborted_revision, aborted_module=kept.aborted_module,
                   aborted_generation=kept.aborted_generation, aborted_pause=kept.aborted_pause,
                   aborted_confirm=kept.aborted_confirm, aborted_replicas=kept.aborted_replicas)


def keep_stable(kept: ReleaseState, decision: Decision) -> Decision:
    """The decided state with the revisions of ``kept``; a completed release of a revision that
    is not given up makes it the stable one."""
    new = decision.state
    stable = kept.stable_revision
    if new.progress is P.COMPLETED and new.update_revision != kept.aborted_revision:
        stable = new.update_revision
    decision.state = replace(carry(kept, new), stable_revision=stable)
    return decision

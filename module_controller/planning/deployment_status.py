"""A ModuleDeployment's status from the release planner's decision (pure): the counts, the
Available / Progressing / RolledBack conditions, ``releaseStatus``, and the Events that tell a
user what changed. The reconciler writes what :func:`deployment_status` returns, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api import constants as c
from ..api.moduledeployment import ReleaseProgress
from ..api.objects import format_time, parse_time
from . import rollback
from .conditions import get_condition, set_condition
from .release import Decision, Observed, ReleaseState

NORMAL, WARNING = "Normal", "Warning"
#: Progressing's reason while the spec's revision is given up (progress Aborted).
REASON_ABORTED = "ReleaseAborted"

#: ReplicaFailure reasons of the reconciler's early exits; a planned release clears them.
EARLY_FAILURES = (c.REASON_MODULE_NAME_CONFLICT, c.REASON_TEMPLATE_NOT_FOUND, "InvalidSpec",
                  c.REASON_BASE_NOT_FOUND)


@dataclass(frozen=True)
class Facts:
    """What the status reports besides the decision."""

    available: int            # instances that serve, one per base pod
    failing: str              # the Failed instances of failing_revision(), for messages
    rollback_on_failure: bool
    deadline_seconds: int
    generation: int | None


@dataclass
class StatusUpdate:
    status: dict[str, Any] | None                  # the status to write; None: unchanged
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def blocked(conditions: list[dict[str, Any]] | None, reason: str, message: str,
            unavailable: bool = False) -> list[dict[str, Any]]:
    """The conditions of a ModuleDeployment that cannot be released (invalid, conflicting,
    template or base missing): ReplicaFailure with the reason; ``unavailable``: Available is
    False for it too (the counts in status are not recomputed meanwhile)."""
    out = set_condition(conditions, c.CONDITION_REPLICA_FAILURE, True, reason, message)
    return set_condition(out, c.CONDITION_AVAILABLE, False, reason, message) if unavailable \
        else out


def service_conflict_cleared(conditions: list[dict[str, Any]] | None
                             ) -> list[dict[str, Any]] | None:
    """The conditions without a ReplicaFailure of reason ServiceConflict, once the module
    Service could be made (or is no longer wanted); None when there is none to clear.

    Not an early failure (:data:`EARLY_FAILURES`): the Service is made after the release's
    status is written, so the status write must not drop the condition only for the Service
    step to set it again on every reconcile while the conflict stands."""
    failure = get_condition(conditions, c.CONDITION_REPLICA_FAILURE)
    if failure is None or failure.get("reason") != c.REASON_SERVICE_CONFLICT:
        return None
    return [x for x in conditions or [] if x is not failure]


def failing_revision(decision: Decision, before: ReleaseState) -> int | None:
    """The revision whose Failed instances the messages name: the failed release's, or the one
    just given up."""
    if decision.failed:
        return decision.state.update_revision
    return before.update_revision if decision.rolled_back else None


def failing_message(names: list[str]) -> str:
    """``names`` (``module on pod``), at most five of them, for a message."""
    shown = ", ".join(sorted(names)[:5])
    return f"{len(names)} instance(s) ({shown}{', ...' if len(names) > 5 else ''})"


def progressing(decision: Decision, facts: Facts) -> tuple[bool, str, str]:
    """The Progressing condition: (status, reason, message)."""
    st = decision.state
    if decision.failed:
        why = "nothing to roll back to" if facts.rollback_on_failure else "rollbackOnFailure is off"
        return (False, c.REASON_PROGRESS_DEADLINE_EXCEEDED,
                f"release of revision {st.update_revision} failed: group {st.current_batch} did "
                f"not complete within {facts.deadline_seconds}s and {facts.failing} failed; "
                f"stopped here ({why})")
    if decision.deadline_exceeded:
        return (False, c.REASON_PROGRESS_DEADLINE_EXCEEDED,
                f"group {st.current_batch} did not complete within {facts.deadline_seconds}s; "
                "still trying")
    if st.progress is ReleaseProgress.ABORTED:
        return (False, REASON_ABORTED,
                f"the release of revision {st.aborted_revision} ({st.aborted_module}) was given "
                f"up; revision {st.stable_revision} runs. The spec is not released until you "
                "act: kubectl module retry, a new spec, or kubectl module undo")
    if st.progress is ReleaseProgress.COMPLETED:
        return True, "ReleaseCompleted", "release completed"
    return (True, "ReleaseProgressing",
            f"group {st.current_batch}/{st.real_batch_count}: {st.progress}")


def available(decision: Decision, observed: Observed, serving: int) -> tuple[bool, str, str]:
    """The Available condition: enough instances serve (within maxUnavailable), or, once the
    release completed, all of them."""
    desired = observed.desired
    enough = serving >= max(0, desired - observed.strategy.max_unavailable)
    done = decision.state.progress is ReleaseProgress.COMPLETED and serving >= desired
    return (enough or done, "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
            f"{serving} of {desired} instances Available")


def give_up_conditions(conditions: list[dict[str, Any]] | None, decision: Decision,
                       before: ReleaseState, failing: str
                       ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
    """The conditions with RolledBack set or cleared, and the Warning Event (reason, message)
    to post now, if any. ``before`` is the release state the decision started from."""
    st = decision.state
    if decision.rolled_back is not None:
        given_up = st.aborted_revision
        if decision.rolled_back == rollback.REASON_ABORTED:
            message = (f"release of revision {given_up} aborted by the user at group "
                       f"{before.current_batch}/{before.real_batch_count}; releasing revision "
                       f"{st.stable_revision} again")
        else:
            message = (f"release of revision {given_up} failed: no group completed within the "
                       f"progress deadline and {failing} failed; rolling back to revision "
                       f"{st.stable_revision}")
        conditions = set_condition(conditions, c.CONDITION_ROLLED_BACK, True,
                                   decision.rolled_back, message)
        return conditions, (decision.rolled_back if decision.rolled_back == rollback.REASON_ABORTED
                            else c.CONDITION_ROLLED_BACK, message)
    current = get_condition(conditions, c.CONDITION_ROLLED_BACK)
    if st.aborted_revision is None and current is not None and current.get("status") == "True":
        why = decision.retried or f"the spec moved on from revision {before.aborted_revision}"
        conditions = set_condition(
            conditions, c.CONDITION_ROLLED_BACK, False,
            "Retried" if why.startswith("retry") else "SpecChanged", why)
    return list(conditions or []), None


def release_state(status: dict[str, Any]) -> ReleaseState:
    """The release recorded in a ModuleDeployment's ``status`` (the inverse of
    :func:`release_status`, with ``desiredReplicas``)."""
    rs = status.get("releaseStatus") or {}
    try:
        progress = ReleaseProgress(str(rs["progress"])) if rs.get("progress") else None
    except ValueError:
        progress = None  # written by hand: planned again from the objects
    return ReleaseState(
        update_revision=rs.get("updateRevision"),
        current_batch=rs.get("currentBatch") or 0,
        real_batch_count=rs.get("realBatchCount") or 0,
        original_delta=rs.get("originalDeltaReplicas") or 0,
        progress=progress,
        desired=status.get("desiredReplicas"),
        last_transition=parse_time(rs.get("lastTransitionTime")),
        next_reconcile=parse_time(rs.get("nextReconcileTime")),
        stable_revision=rs.get("stableRevision"),
        aborted_revision=rs.get("abortedRevision"),
        aborted_module=rs.get("abortedModule"),
        aborted_generation=rs.get("abortedGeneration"),
        aborted_pause=rs.get("abortedPause"),
        aborted_confirm=rs.get("abortedConfirmBatchNum"),
        aborted_replicas=rs.get("abortedReplicas"),
    )


def release_status(st: ReleaseState) -> dict[str, Any]:
    """``status.releaseStatus`` of ``st`` (fields without a value left out)."""
    fields = {
        "updateRevision": st.update_revision,
        "currentBatch": st.current_batch,
        "realBatchCount": st.real_batch_count,
        "originalDeltaReplicas": st.original_delta,
        "progress": st.progress.value if st.progress else None,
        "batchProgress": f"{st.current_batch}/{st.real_batch_count}",
        "lastTransitionTime": format_time(st.last_transition) if st.last_transition else None,
        "nextReconcileTime": format_time(st.next_reconcile, ceil=True)
        if st.next_reconcile else None,
        "stableRevision": st.stable_revision,
        "abortedRevision": st.aborted_revision,
        "abortedModule": st.aborted_module,
        "abortedGeneration": st.aborted_generation,
        "abortedPause": st.aborted_pause,
        "abortedConfirmBatchNum": st.aborted_confirm,
        "abortedReplicas": st.aborted_replicas,
    }
    return {k: v for k, v in fields.items() if v is not None}


def running_version(observed: Observed) -> str | None:
    """The module version(s) the Available instances run, newest revision first (two while a
    release moves them): what ``kubectl get`` shows, never the spec's alone."""
    versions: list[str] = []
    for rev in sorted(observed.revisions, key=lambda r: -r.number):
        if rev.available > 0 and rev.version and rev.version not in versions:
            versions.append(rev.version)
    return ",".join(versions) or None


def deployment_status(current: dict[str, Any], decision: Decision, observed: Observed,
                      before: ReleaseState, facts: Facts) -> StatusUpdate:
    """The status to write (``current`` is the status now) and the Events to post."""
    st = decision.state
    update = next((r for r in observed.revisions if r.number == st.update_revision), None)
    desired = observed.desired
    conditions = set_condition(current.get("conditions"), c.CONDITION_AVAILABLE,
                               *available(decision, observed, facts.available))
    progress = progressing(decision, facts)
    conditions = set_condition(conditions, c.CONDITION_PROGRESSING, *progress)
    conditions, give_up_event = give_up_conditions(conditions, decision, before, facts.failing)
    conditions = [x for x in conditions if not (
        x["type"] == c.CONDITION_REPLICA_FAILURE and x.get("reason") in EARLY_FAILURES)]
    progress_now = release_status(st)
    status: dict[str, Any] = {
        "observedGeneration": facts.generation,
        "replicas": sum(r.instances for r in observed.revisions),
        "desiredReplicas": desired if st.desired is None else st.desired,
        "readyReplicas": facts.available,
        "availableReplicas": facts.available,
        "unavailableReplicas": max(0, desired - facts.available),
        "updatedReplicas": update.instances if update else 0,
        "updatedAvailableReplicas": update.available if update else 0,
        "version": running_version(observed),
        "conditions": conditions,
        "releaseStatus": progress_now,
    }
    out = StatusUpdate(status=None)
    if give_up_event is not None:
        out.events.append((WARNING, *give_up_event))
    if decision.abort_refused:
        out.events.append((WARNING, "AbortRefused", decision.abort_refused))
    if decision.retried and observed.update_revision == before.aborted_revision:
        out.events.append((NORMAL, "Retried", f"revision {before.aborted_revision} is released "
                           f"again: {decision.retried}"))
    if decision.retry_refused:
        out.events.append((WARNING, "RetryRefused", decision.retry_refused))
    if decision.repaired:
        out.events.append((WARNING, "StatusRepaired", (
            f"status.releaseStatus contradicted the objects ({decision.repaired}); recomputed "
            "from the revisions and their instances")))
    if all(current.get(k) == v for k, v in status.items()):
        return out
    # A merge patch keeps what it does not name: a field the release no longer has (a given-up
    # revision the user moved on from) is written as null, or it would come back on the next read.
    gone = {k: None for k in current.get("releaseStatus") or {} if k not in progress_now}
    out.status = {**status, "releaseStatus": {**progress_now, **gone}}
    if (current.get("releaseStatus") or {}).get("progress") != progress_now.get("progress"):
        out.events.append((NORMAL, f"Release{st.progress.value if st.progress else ''}",
                           f"group {st.current_batch}/{st.real_batch_count}, "
                           f"{facts.available}/{desired} Available"))
    was = get_condition(current.get("conditions"), c.CONDITION_PROGRESSING) or {}
    # Once when the deadline passes, and once more if the release is found failed later.
    if decision.deadline_exceeded and (was.get("status") != "False" or (
            decision.failed and not (was.get("message") or "").startswith("release of"))):
        out.events.append((WARNING, c.REASON_PROGRESS_DEADLINE_EXCEEDED, progress[2]))
    return out

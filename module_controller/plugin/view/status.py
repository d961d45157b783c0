"""The facts ``kubectl module status`` shows for one ModuleDeployment: its revisions, the groups
of its release, its instances, conditions and Events, and what to do next."""

from __future__ import annotations

from typing import Any

import datetime as dt
from dataclasses import dataclass, field

from ...api import constants as c
from ...api import objects
from ...api.moduledeployment import ReleaseProgress as P
from ...planning.deployment_status import EARLY_FAILURES
from ...planning.release import group_sizes
from .reading import labels_of, module_of_template, name_of, parse_time, revision_of

PLUGIN = "kubectl module"
#: ReplicaFailure reasons of a spec the controller refuses outright (nothing is released until
#: the spec, a ModuleTemplate or the base Deployment changes).
REFUSALS = EARLY_FAILURES


@dataclass(frozen=True)
class RevisionView:
    revision: int | None
    name: str
    module: str | None
    version: str | None
    url: str | None
    #: "update" (the revision the release moves instances to), "stable" (serves traffic: an old
    #: revision still holding instances, or the update revision once the release completed).
    roles: tuple[str, ...]
    desired: int
    current: int
    available: int
    created: dt.datetime | None


@dataclass(frozen=True)
class GroupView:
    number: int
    #: Instances the group adds (or removes); None when the spec no longer tells (changed since).
    size: int | None
    #: done, running, waiting-for-confirmation, confirmed, gray-time, pending
    state: str
    #: When the state began, as far as releaseStatus carries it (the current group only).
    since: dt.datetime | None = None
    #: End of the gray time before this group may start (nextReconcileTime).
    not_before: dt.datetime | None = None


@dataclass(frozen=True)
class InstanceView:
    name: str
    revision: int | None
    version: str | None
    installed_version: str | None
    base_pod: str | None
    base_ip: str | None
    phase: str | None
    reason: str | None
    message: str | None
    deleting: bool
    created: dt.datetime | None


@dataclass(frozen=True)
class ConditionView:
    type: str
    status: str
    reason: str | None
    message: str | None
    last_transition: dt.datetime | None


@dataclass(frozen=True)
class EventView:
    type: str | None
    reason: str | None
    message: str | None
    count: int
    last_seen: dt.datetime | None


@dataclass(frozen=True)
class StatusView:
    name: str
    namespace: str
    module: str | None
    version: str | None
    url: str | None
    template_ref: str | None
    replicas: int | None           # spec.replicas (-1 = peer mode)
    desired: int | None            # status.desiredReplicas
    available: int | None
    progress: str | None
    batch: str | None              # "current/total" (releaseStatus.batchProgress)
    update_revision: int | None
    pause: bool
    confirm_batch_num: int
    strategy: str                  # one line: groups, confirmation, policy
    spec_observed: bool            # status.observedGeneration == metadata.generation
    waiting_group: int | None      # the group that waits for promote to start, if any
    revisions: tuple[RevisionView, ...]
    groups: tuple[GroupView, ...]
    instances: tuple[InstanceView, ...]
    conditions: tuple[ConditionView, ...]
    events: tuple[EventView, ...]
    #: The module version(s) the Available instances run (status.version), not the spec's.
    running_version: str | None = None
    #: A given-up release (aborted, or rolled back on failure): "revision N (module) given up
    #: ..., revision M runs"; None when nothing is given up.
    given_up: str | None = None
    #: Why the controller refuses the spec (a ReplicaFailure of a blocking reason, for the
    #: spec as it is now): "Reason: message"; None when it does not.
    refused: str | None = None
    next_steps: tuple[str, ...] = field(default=())
    #: releaseStatus.currentBatch and realBatchCount: while Paused, the group that is done.
    current_group: int | None = None
    group_count: int | None = None

    @property
    def where(self) -> str:
        """Where the release stands, in the one group numbering: "Paused after group 1 of 2"."""
        return progress_phrase(self.progress, self.current_group, self.group_count)

    @property
    def done(self) -> bool:
        return self.progress in (P.COMPLETED.value, P.TERMINATED.value) and self.spec_observed

    @property
    def stuck(self) -> str | None:
        """Why the release cannot complete until the user acts (``--until-done`` stops at once);
        None: it may still complete."""
        if self.refused and self.spec_observed:
            return f"the controller refuses the spec: {self.refused}"
        if self.progress == P.ABORTED.value and self.spec_observed:
            return f"the release is aborted: {self.given_up}"
        return None


def progress_phrase(progress: str | None, current: int | None, total: int | None) -> str:
    """The release's progress and group, numbered as the contract does (groups 1..N in the
    order they run; while Paused, ``current`` is the group that is done)."""
    if not progress:
        return "no release status yet"
    if not total or not current:
        return progress
    if progress == P.PAUSED.value:
        return f"Paused after group {current} of {total}"
    if progress in (P.COMPLETED.value, P.TERMINATED.value):
        return f"{progress} ({total} group{'s' if total != 1 else ''})"
    if progress == P.ABORTED.value:
        return progress
    return f"{progress}, group {current} of {total}"


def countdown(until: dt.datetime, now: dt.datetime) -> str:
    """Seconds left as a short duration: 42s, 3m5s, 1h2m."""
    seconds = max(0, int((until - now).total_seconds() + 0.999))
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s}s" if s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m}m" if m else f"{hours}h"


def _strategy_line(spec: dict[str, Any]) -> str:
    ops = spec.get("operationStrategy") or {}
    parts = [f"batchCount {ops.get('batchCount', 1)}"]
    if ops.get("useBeta"):
        parts.append("useBeta")
    if ops.get("needConfirm"):
        parts.append("needConfirm")
    if ops.get("grayTimeBetweenBatchSeconds"):
        parts.append(f"grayTime {ops['grayTimeBetweenBatchSeconds']}s")
    parts.append(ops.get("upgradePolicy") or "install_then_uninstall")
    return ", ".join(parts)


def _revisions(replicasets: list[dict[str, Any]], modules: list[dict[str, Any]], update: int | None,
               completed: bool) -> tuple[RevisionView, ...]:
    out = []
    for mrs in sorted(replicasets, key=lambda m: revision_of(m) or 0, reverse=True):
        number = revision_of(mrs)
        spec = mrs.get("spec") or {}
        status = mrs.get("status") or {}
        module = module_of_template(spec.get("template"))
        mine = [m for m in modules if labels_of(m).get(c.LABEL_MODULE_REPLICASET) == name_of(mrs)]
        roles = []
        if number is not None and number == update:
            roles.append("update")
            if completed:
                roles.append("stable")
        elif mine or int(spec.get("replicas") or 0) > 0:
            roles.append("stable")
        out.append(RevisionView(
            revision=number, name=name_of(mrs), module=module.get("name"),
            version=module.get("version"), url=module.get("url"), roles=tuple(roles),
            desired=int(spec.get("replicas") or 0),
            current=int(status.get("replicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            created=parse_time((mrs.get("metadata") or {}).get("creationTimestamp"))))
    return tuple(out)


def _group_sizes(spec: dict[str, Any], rs: dict[str, Any]) -> list[int | None]:
    total = int(rs.get("realBatchCount") or 0)
    delta = int(rs.get("originalDeltaReplicas") or 0)
    ops = spec.get("operationStrategy") or {}
    for batch_count, beta in ((int(ops.get("batchCount") or 1), bool(ops.get("useBeta"))),
                              (1, False)):  # peer-mode scaling runs as one group
        sizes = group_sizes(delta, batch_count, beta)
        if len(sizes) == total:
            return list(sizes)
    return [None] * total


def waiting_group(md: dict[str, Any]) -> int | None:
    """The group that waits for a confirmation to start, or None. ``promote`` confirms it by
    setting ``spec.confirmBatchNum`` to the group before it (the one that is done)."""
    spec = md.get("spec") or {}
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    if rs.get("progress") != P.PAUSED.value:
        return None
    current = int(rs.get("currentBatch") or 0)
    total = int(rs.get("realBatchCount") or 0)
    if current < 1 or current >= total:
        return None
    if not spec.get("pause") or int(spec.get("confirmBatchNum") or 0) >= current:
        return None  # already confirmed; the controller has not moved on yet
    return current + 1


def _groups(md: dict[str, Any], now: dt.datetime) -> tuple[GroupView, ...]:
    spec = md.get("spec") or {}
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    progress = rs.get("progress")
    total = int(rs.get("realBatchCount") or 0)
    current = int(rs.get("currentBatch") or 0)
    if not progress or total < 1:
        return ()
    sizes = _group_sizes(spec, rs)
    since = parse_time(rs.get("lastTransitionTime"))
    gray_end = parse_time(rs.get("nextReconcileTime"))
    if gray_end is not None and gray_end <= now:
        gray_end = None
    groups = []
    for number in range(1, total + 1):
        size = sizes[number - 1]
        if progress in (P.COMPLETED.value, P.TERMINATED.value):
            groups.append(GroupView(number, size, "done", since if number == total else None))
        elif progress == P.PAUSED.value:
            if number <= current:
                groups.append(GroupView(number, size, "done", since if number == current else None))
            elif number == current + 1:
                state = "waiting-for-confirmation" if waiting_group(md) == number else "confirmed"
                groups.append(GroupView(number, size, state, since, gray_end))
            else:
                groups.append(GroupView(number, size, "pending"))
        else:  # Executing, Terminating (and Init, WaitingForConfirmation, Aborted as recorded)
            if number < current:
                groups.append(GroupView(number, size, "done"))
            elif number == current:
                state = "gray-time" if gray_end is not None else "running"
                groups.append(GroupView(number, size, state, since, gray_end))
            else:
                groups.append(GroupView(number, size, "pending"))
    return tuple(groups)


def _instances(modules: list[dict[str, Any]]) -> tuple[InstanceView, ...]:
    out = []
    for m in modules:
        meta = m.get("metadata") or {}
        status = m.get("status") or {}
        module = ((m.get("spec") or {}).get("module")) or {}
        out.append(InstanceView(
            name=meta.get("name") or "", revision=revision_of(m), version=module.get("version"),
            installed_version=status.get("installedVersion"),
            base_pod=labels_of(m).get(c.LABEL_BASE_INSTANCE_NAME) or None,
            base_ip=labels_of(m).get(c.LABEL_BASE_INSTANCE_IP) or None,
            phase=objects.phase(m), reason=status.get("reason"),
            message=status.get("message"), deleting=bool(meta.get("deletionTimestamp")),
            created=parse_time(meta.get("creationTimestamp"))))
    return tuple(sorted(out, key=lambda i: (-(i.revision or 0), i.base_pod or "~", i.name)))


def _conditions(status: dict[str, Any]) -> tuple[ConditionView, ...]:
    return tuple(ConditionView(x.get("type") or "", x.get("status") or "", x.get("reason"),
                               x.get("message"), parse_time(x.get("lastTransitionTime")))
                 for x in status.get("conditions") or [])


def event_time(event: dict[str, Any]) -> dt.datetime | None:
    return (parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime"))
            or parse_time(event.get("firstTimestamp"))
            or parse_time((event.get("metadata") or {}).get("creationTimestamp")))


def _events(events: list[dict[str, Any]], limit: int) -> tuple[EventView, ...]:
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def version(e: dict[str, Any]) -> int:  # creation order within one second (Event times are whole)
        rv = (e.get("metadata") or {}).get("resourceVersion") or ""
        return int(rv) if rv.isdigit() else 0

    ordered = sorted(events, key=lambda e: (event_time(e) or epoch, version(e)))
    return tuple(EventView(e.get("type"), e.get("reason"), e.get("message"),
                           int(e.get("count") or 1), event_time(e))
                 for e in ordered[-limit:]) if limit > 0 else ()


def _given_up(rs: dict[str, Any], replicasets: list[dict[str, Any]]) -> str | None:
    aborted, stable = rs.get("abortedRevision"), rs.get("stableRevision")
    if aborted is None:
        return None
    versions = {revision_of(m): module_of_template((m.get("spec") or {}).get("template"))
                .get("version") for m in replicasets}
    how = "aborted" if rs.get("progress") == P.ABORTED.value else "being given up"
    return (f"revision {aborted} ({versions.get(aborted) or rs.get('abortedModule')}) {how}; "
            f"revision {stable} ({versions.get(stable) or '?'}) runs")


def _refused(status: dict[str, Any]) -> str | None:
    """A ReplicaFailure the controller sets when it cannot release the spec at all."""
    for x in status.get("conditions") or []:
        if x.get("type") == c.CONDITION_REPLICA_FAILURE and x.get("status") == "True" and \
                x.get("reason") in REFUSALS:
            return f"{x.get('reason')}: {x.get('message')}"
    return None


def _next_steps(view: StatusView, md: dict[str, Any], now: dt.datetime) -> tuple[str, ...]:
    name = view.name
    steps: list[str] = []
    failure = next((x for x in view.conditions
                    if x.type == c.CONDITION_REPLICA_FAILURE and x.status == "True"), None)
    if failure is not None:
        steps.append(f"the controller refuses the spec ({failure.reason}: {failure.message}): "
                     "fix the ModuleDeployment")
    if (md.get("metadata") or {}).get("deletionTimestamp"):
        steps.append("being deleted: its modules go offline in groups")
    if view.progress is None:
        if failure is None:
            steps.append("no release status yet: is the controller running and watching "
                         f"namespace {view.namespace}?")
        return tuple(steps)
    if view.given_up is not None:
        steps.append(f"{view.given_up}. To release it again: {PLUGIN} retry {name}; or apply "
                     f"a new spec, or {PLUGIN} undo {name} to keep the running revision")
    if not view.spec_observed:
        steps.append("the controller has not yet acted on the latest spec")
    deadline = next((x for x in view.conditions if x.type == c.CONDITION_PROGRESSING
                     and x.status == "False"), None)
    failed = [i for i in view.instances if i.phase == "Failed"]
    if view.progress == P.ABORTED.value:
        return tuple(steps)
    if failed:
        first = failed[0]
        steps.append(f"{len(failed)} instance(s) Failed, e.g. {first.name} on "
                     f"{first.base_pod or '?'}: {first.reason or ''} {first.message or ''}".rstrip())
    if deadline is not None:
        steps.append(f"{deadline.reason}: {deadline.message}")
    if failed or deadline is not None:
        steps.append(f"to roll back: {PLUGIN} undo {name}")
    total = len(view.groups)
    if view.waiting_group is not None:
        steps.append(f"group {view.waiting_group} of {total} waits for confirmation: "
                     f"{PLUGIN} promote {name}")
    elif view.progress == P.PAUSED.value:
        steps.append("confirmed: the controller starts the next group")
    elif view.pause and view.progress not in (P.COMPLETED.value, P.TERMINATED.value):
        steps.append(f"paused (spec.pause): the release stops after the current group; "
                     f"{PLUGIN} resume {name}")
    elif view.progress in (P.EXECUTING.value, P.TERMINATING.value) and not failed:
        group = next((g for g in view.groups if g.state in ("running", "gray-time")), None)
        if group is not None and group.state == "gray-time" and group.not_before is not None:
            steps.append(f"next group in {countdown(group.not_before, now)}: group "
                         f"{group.number} of {total} starts when the gray time ends")
        elif group is not None:
            steps.append(f"group {group.number} of {total} is running; wait "
                         f"({PLUGIN} status {name} --watch)")
    elif view.progress in (P.COMPLETED.value, P.TERMINATED.value) and view.spec_observed \
            and not steps:
        steps.append("release completed: nothing to do")
    return tuple(steps)


def status_view(md: dict[str, Any], replicasets: list[dict[str, Any]], modules: list[dict[str, Any]],
                events: list[dict[str, Any]] | None = None, *, now: dt.datetime | None = None,
                event_limit: int = 5) -> StatusView:
    """The facts ``kubectl module status`` shows for one ModuleDeployment."""
    now = now or objects.now()
    meta = md.get("metadata") or {}
    spec = md.get("spec") or {}
    status = md.get("status") or {}
    rs = status.get("releaseStatus") or {}
    module = module_of_template(spec.get("template"))
    progress = rs.get("progress")
    update = rs.get("updateRevision")
    observed = status.get("observedGeneration")
    spec_observed = observed is not None and observed == meta.get("generation")
    view = StatusView(
        name=meta.get("name") or "", namespace=meta.get("namespace") or "",
        module=module.get("name"), version=module.get("version"), url=module.get("url"),
        template_ref=(spec.get("templateRef") or {}).get("name"),
        replicas=spec.get("replicas"), desired=status.get("desiredReplicas"),
        available=status.get("availableReplicas"), progress=progress,
        batch=rs.get("batchProgress"), update_revision=update,
        pause=bool(spec.get("pause")), confirm_batch_num=int(spec.get("confirmBatchNum") or 0),
        strategy=_strategy_line(spec),
        spec_observed=spec_observed,
        waiting_group=waiting_group(md),
        revisions=_revisions(replicasets, modules, update, progress == P.COMPLETED.value),
        groups=_groups(md, now), instances=_instances(modules),
        conditions=_conditions(status), events=_events(events or [], event_limit),
        running_version=status.get("version"), given_up=_given_up(rs, replicasets),
        refused=_refused(status), current_group=_int(rs.get("currentBatch")),
        group_count=_int(rs.get("realBatchCount")))
    return StatusView(**{**view.__dict__, "next_steps": _next_steps(view, md, now)})


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None

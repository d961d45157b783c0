"""The grouped release of a ModuleDeployment (behaviour §2.3), as a pure function of observed state.

:func:`plan` looks at the revisions (ModuleReplicaSets) and the recorded release status and says
what the replica counts of the revisions should be now, what the release status becomes, whether
the controller must set ``spec.pause`` (a confirmation point) and when to look again. Everything
it needs to resume is in the ModuleDeployment's status, so a restarted controller continues
exactly where the last one stopped.

Vocabulary: the *update revision* is the revision the release moves instances to (for a scale
or offline, the current one); *old* revisions are all others. A release of ``|delta|`` instances
runs in groups; group ``k`` is complete when the update revision holds its target count of
Available instances and the old revisions have shrunk to what is left for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from ..api.common import UpgradePolicy
from ..api.moduledeployment import ReleaseProgress as P


def group_sizes(delta: int, batch_count: int, use_beta: bool) -> list[int]:
    """Sizes of the groups of a release of ``|delta|`` instances (behaviour §2.3 step 2).

    ``B = min(batchCount, |delta|)``; with useBeta and ``|delta| >= 2`` the first group is one
    instance and the rest is split over ``max(batchCount-1, 1)`` groups. Groups differ by at most
    one, larger first.
    """
    n = abs(delta)
    if n == 0:
        return [0]
    if use_beta and n >= 2:
        return [1] + _split(n - 1, max(batch_count - 1, 1))
    return _split(n, batch_count)


def _split(n: int, groups: int) -> list[int]:
    groups = max(1, min(groups, n))
    size, extra = divmod(n, groups)
    return [size + 1 if i < extra else size for i in range(groups)]


@dataclass(frozen=True)
class Revision:
    number: int
    name: str
    replicas: int             # spec.replicas of the ModuleReplicaSet
    instances: int            # Modules that exist (deleting ones included: they are not gone yet)
    available: int            # Available Modules, not deleting
    failed: int = 0           # Failed Modules, not deleting (their installs keep failing)
    short_of_bases: bool = False  # not all of ``replicas`` could be placed: no eligible base


@dataclass(frozen=True)
class Strategy:
    batch_count: int = 1
    use_beta: bool = False
    need_confirm: bool = False
    gray_seconds: int = 0
    max_unavailable: int = 0   # resolved count
    policy: UpgradePolicy = UpgradePolicy.INSTALL_THEN_UNINSTALL
    deadline_seconds: int = 600
    rollback_on_failure: bool = False


@dataclass(frozen=True)
class ReleaseState:
    """``status.releaseStatus`` plus ``status.desiredReplicas`` (the release's target)."""

    update_revision: int | None = None
    current_batch: int = 0
    real_batch_count: int = 0
    original_delta: int = 0
    progress: P | None = None
    desired: int | None = None
    last_transition: dt.datetime | None = None
    next_reconcile: dt.datetime | None = None
    # Kept across releases (see planning.rollback): the last revision whose release completed,
    # and a revision given up (rolled back from or aborted) with the module it was given up as.
    stable_revision: int | None = None
    aborted_revision: int | None = None
    aborted_module: str | None = None


@dataclass(frozen=True)
class Observed:
    desired: int                       # what the spec wants now (peer mode resolved, 0 on delete)
    update_revision: int               # the revision the spec points at
    revisions: tuple[Revision, ...]
    strategy: Strategy
    pause: bool
    confirm_batch_num: int
    deleting: bool = False
    skip_confirmation: bool = False    # peer-mode scaling: a new base gets its module at once
    update_module: str = ""            # name:version@url of the spec's revision
    abort: bool = False                # the user asked to abort the running release


@dataclass
class Decision:
    replicas: dict[str, int] = field(default_factory=dict)   # MRS name -> spec.replicas
    state: ReleaseState = field(default_factory=ReleaseState)
    set_pause: bool | None = None          # write spec.pause
    reset_confirm: bool = False            # write spec.confirmBatchNum = 0
    requeue_after: float | None = None
    deadline_exceeded: bool = False
    superseded: str | None = None          # why a running group was given up for a new spec
    rolled_back: str | None = None         # the release was given up: "Aborted" or a failure
    failed: bool = False                   # deadline passed with Failed instances, no rollback
    abort_refused: str | None = None       # why an abort could not be done


def _revision(obs: Observed, number: int | None) -> Revision | None:
    return next((r for r in obs.revisions if r.number == number), None)


def start(obs: Observed, now: dt.datetime) -> ReleaseState:
    """A new release toward ``obs.desired`` on ``obs.update_revision``."""
    update = _revision(obs, obs.update_revision)
    have = update.replicas if update else 0
    delta = obs.desired - have
    if obs.deleting:
        delta = -sum(r.replicas for r in obs.revisions)
    s = obs.strategy
    sizes = group_sizes(delta, 1 if obs.skip_confirmation else s.batch_count,
                        s.use_beta and not obs.skip_confirmation)
    return ReleaseState(
        update_revision=obs.update_revision,
        current_batch=1,
        real_batch_count=len(sizes),
        original_delta=delta,
        progress=P.TERMINATING if obs.deleting else P.EXECUTING,
        desired=obs.desired,
        last_transition=now,
        next_reconcile=None,
    )


def _targets(obs: Observed, st: ReleaseState, batch: int) -> dict[str, int]:
    """Replica counts when groups 1..``batch`` of the recorded release are applied."""
    s = obs.strategy
    skip = obs.skip_confirmation
    sizes = group_sizes(st.original_delta, 1 if skip else s.batch_count, s.use_beta and not skip)
    moved = sum(sizes[:batch])
    if obs.deleting:
        # Offline: the total shrinks group by group; the update revision keeps its instances
        # longest, older revisions go first.
        remaining = max(0, -st.original_delta - moved)
        out: dict[str, int] = {}
        for rev in sorted(obs.revisions, key=lambda r: (r.number != st.update_revision, -r.number)):
            keep = min(rev.replicas, remaining)
            out[rev.name] = keep
            remaining -= keep
        return out
    desired = st.desired if st.desired is not None else obs.desired
    start = desired - st.original_delta
    sign = 1 if st.original_delta >= 0 else -1
    new_target = max(0, start + sign * moved)
    out = {}
    # Old revisions shrink only as the update revision's instances become Available: an old
    # instance is removed after its replacement is up (behaviour §2.4), never before.
    update = _revision(obs, st.update_revision)
    up = min(new_target, update.available) if update else 0
    old_room = max(0, desired - up)
    old = sorted((r for r in obs.revisions if r.number != st.update_revision),
                 key=lambda r: -r.number)
    # The room goes to Available instances first, newest revision first, and only what is
    # left to instances that are not Available: an abandoned release's instances that never
    # came up (Failed, say) are given up, never kept at the cost of ones that serve.
    for rev in old:
        out[rev.name] = min(rev.replicas, rev.available, old_room)
        old_room -= out[rev.name]
    for rev in old:
        more = min(rev.replicas - out[rev.name], old_room)
        out[rev.name] += more
        old_room -= more
    if update is not None:
        out[update.name] = new_target
    return out


def _complete(obs: Observed, st: ReleaseState, targets: dict[str, int]) -> bool:
    for rev in obs.revisions:
        want = targets.get(rev.name, rev.replicas)
        if rev.number == st.update_revision and not obs.deleting:
            if rev.available < want or rev.instances > want:
                return False
        elif rev.instances > want:
            return False
    return True


def plan(obs: Observed, st: ReleaseState, now: dt.datetime) -> Decision:
    """What to do now; see the module docstring."""
    offline = st.desired == 0 and st.progress in (P.TERMINATING, P.TERMINATED, P.PAUSED)
    if obs.deleting and not offline:
        st = start(obs, now)  # a deletion interrupts whatever runs, at once (behaviour §2.6)
    elif st.progress in (None, P.COMPLETED, P.ABORTED) or st.update_revision is None:
        if _settled(obs):
            return _settled_decision(obs, st, now)
        st = start(obs, now)
    elif obs.skip_confirmation and st.progress is P.EXECUTING and _superseded(obs, st):
        # Peer mode follows the ready bases. When they change under a running scale, its target
        # may be out of reach for good (bases gone), so waiting for the group boundary, as a
        # user's spec change does, could wait forever: a new scale toward them starts now.
        st = start(obs, now)
    elif st.progress is P.EXECUTING and _superseded(obs, st) and \
            (why := _yields_at_once(obs, st)):
        # A group that cannot progress (or the release a rollback rolls back from) would hold a
        # new spec until its boundary, which may never come, and finishing it would activate
        # the version the user moves away from. The new release starts now; the abandoned
        # revision keeps only its Available instances (see _targets).
        st = start(obs, now)
        return run(obs, st, now, Decision(state=st, superseded=why))

    return run(obs, st, now, Decision(state=st))


def run(obs: Observed, st: ReleaseState, now: dt.datetime, decision: Decision) -> Decision:
    """The recorded release ``st``, one step on."""
    if st.progress is P.PAUSED:
        if _superseded(obs, st):
            return plan(obs, replace(st, progress=P.COMPLETED), now)
        if obs.pause and obs.confirm_batch_num < st.current_batch:
            decision.replicas = _targets(obs, st, st.current_batch)
            return decision  # waiting for the user
        # Confirmed (pause:false, or confirmBatchNum reached this group): next group.
        if obs.pause:
            decision.set_pause = False
        st = replace(st, current_batch=st.current_batch + 1,
                     progress=P.TERMINATING if obs.deleting else P.EXECUTING, last_transition=now)
        decision.state = st

    if st.next_reconcile is not None and now < st.next_reconcile:
        # Gray time: the previous group's counts hold until it is over.
        decision.replicas = _targets(obs, st, st.current_batch - 1)
        decision.requeue_after = (st.next_reconcile - now).total_seconds()
        return decision

    targets = _targets(obs, st, st.current_batch)
    decision.replicas = _limit_unavailable(obs, st, targets)
    if not _complete(obs, st, targets):
        started = st.last_transition or now
        left = obs.strategy.deadline_seconds - (now - started).total_seconds()
        decision.deadline_exceeded = left < 0
        if not decision.deadline_exceeded:
            # Look again when the deadline passes: a group that is stuck sends no events.
            decision.requeue_after = left + 1.0
        return decision
    return _after_group(obs, st, now, decision)


def _after_group(obs: Observed, st: ReleaseState, now: dt.datetime, decision: Decision) -> Decision:
    s = obs.strategy
    offline = obs.deleting
    if st.current_batch >= st.real_batch_count:
        done = P.TERMINATED if offline else P.COMPLETED
        decision.state = replace(st, progress=done, last_transition=now, next_reconcile=None)
        decision.reset_confirm = obs.confirm_batch_num != 0
        return decision
    if not offline and _superseded(obs, st):
        # A new spec takes over at the group boundary, which is now (behaviour §2.3 step 6).
        return plan(obs, replace(st, progress=P.COMPLETED), now)
    gray_end = now + dt.timedelta(seconds=s.gray_seconds) if s.gray_seconds else None
    beta_group = s.use_beta and st.current_batch == 1
    confirm_point = (s.need_confirm or beta_group) and not obs.skip_confirmation
    pre_confirmed = obs.confirm_batch_num >= st.current_batch
    if (confirm_point and not pre_confirmed) or (obs.pause and not pre_confirmed):
        decision.state = replace(st, progress=P.PAUSED, last_transition=now,
                                 next_reconcile=gray_end)
        if not obs.pause:
            decision.set_pause = True  # the controller's own confirmation point
        return decision
    if obs.pause:
        decision.set_pause = False  # confirmed ahead through confirmBatchNum
    nxt = replace(st, current_batch=st.current_batch + 1, last_transition=now,
                  next_reconcile=gray_end)
    decision.state = nxt
    if gray_end is not None:
        decision.requeue_after = float(s.gray_seconds)
        decision.replicas = _targets(obs, nxt, nxt.current_batch - 1)
        return decision
    decision.replicas = _limit_unavailable(obs, nxt, _targets(obs, nxt, nxt.current_batch))
    return decision


def _limit_unavailable(obs: Observed, st: ReleaseState, targets: dict[str, int]) -> dict[str, int]:
    """Waves inside a group (behaviour §2.3 step 7).

    With uninstall_then_install an instance is down while it is replaced, so the update revision
    grows by at most what is left of the unavailability budget; by one when nothing is in
    flight, so a release never stalls on maxUnavailable 0.
    """
    update = _revision(obs, st.update_revision)
    if (obs.strategy.policy is not UpgradePolicy.UNINSTALL_THEN_INSTALL or update is None
            or obs.deleting):
        return targets
    want = targets.get(update.name, update.replicas)
    if want <= update.replicas:
        return targets
    desired = st.desired if st.desired is not None else obs.desired
    in_flight = max(0, update.replicas - update.available)
    # An instance being replaced in place is down even while the old revision's Module on that
    # pod still reads Available: count the replacements in flight as down.
    down = max(0, desired - sum(r.available for r in obs.revisions)) + in_flight
    allowance = obs.strategy.max_unavailable - down
    if allowance <= 0:
        allowance = 0 if in_flight else 1
    return {**targets, update.name: min(want, update.replicas + allowance)}


def _yields_at_once(obs: Observed, st: ReleaseState) -> str | None:
    """Why the running release gives way to a new spec now instead of at its group boundary
    (None: it does not). Checked only when the spec has changed."""
    running = st.update_revision
    if running is not None and obs.update_revision != running and (
            obs.update_revision < running or obs.update_revision == st.stable_revision):
        return f"rollback to revision {obs.update_revision}"
    update = _revision(obs, st.update_revision)
    if update is None:
        return f"revision {st.update_revision} is gone"
    if update.failed:
        return f"{update.failed} instance(s) of revision {update.number} Failed"
    if update.short_of_bases:
        return f"revision {update.number} lacks eligible base pods"
    return None


def _superseded(obs: Observed, st: ReleaseState) -> bool:
    return obs.update_revision != st.update_revision or \
        (st.desired is not None and obs.desired != st.desired)


def _settled(obs: Observed) -> bool:
    update = _revision(obs, obs.update_revision)
    others_gone = all(r.replicas == 0 and r.instances == 0 for r in obs.revisions if r is not update)
    if update is None:
        return obs.desired == 0 and others_gone
    return (update.replicas == obs.desired and update.instances == obs.desired
            and update.available == obs.desired and others_gone)


def _settled_decision(obs: Observed, st: ReleaseState, now: dt.datetime) -> Decision:
    if st.progress is None or st.update_revision != obs.update_revision:
        st = ReleaseState(update_revision=obs.update_revision, current_batch=1, real_batch_count=1,
                          original_delta=0, progress=P.COMPLETED, desired=obs.desired,
                          last_transition=now)
    return Decision(state=st, reset_confirm=obs.confirm_batch_num != 0)

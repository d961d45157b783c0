"""The grouped release of a ModuleDeployment (behaviour §2.3): its data and its arithmetic, pure.

What the release *does* next is decided by the transition table of
:mod:`planning.release_table`, run by :func:`planning.release_machine.plan`; this module holds
what that needs: the observed revisions and the recorded release state, the group sizes, the
replica counts of a group, whether a group is complete, and the tests of a new spec. Everything
a release needs to resume is in the ModuleDeployment's status, so a restarted controller
continues exactly where the last one stopped.

Vocabulary: the *update revision* is the revision the release moves instances to (for a scale
or offline, the current one); *old* revisions are all others. A release of ``|delta|`` instances
runs in groups; group ``k`` is complete when the update revision holds its target count of
Available instances and the old revisions have shrunk to what is left for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..api.common import UpgradePolicy
from ..api.moduledeployment import ReleaseProgress as P
from .release_table import Action, Event, Phase


def group_sizes(delta: int, batch_count: int, use_beta: bool) -> list[int]:
    """Sizes of the groups of a release of ``|delta|`` instances (behaviour §2.3.3).

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
    version: str = ""         # the module version of its template (what its instances run)


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
    # The spec's metadata.generation when the release was given up (kept up with the
    # controller's own spec writes): a later generation is the user's change, a retry.
    aborted_generation: int | None = None
    # spec.pause, spec.confirmBatchNum and the wanted instances at that generation: a change of
    # only these steers or scales what runs and is no new spec.
    aborted_pause: bool | None = None
    aborted_confirm: int | None = None
    aborted_replicas: int | None = None


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
    retry: str | None = None           # the retry annotation (names the revision to release again)
    generation: int | None = None      # the spec's metadata.generation


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
    retried: str | None = None             # the given-up revision is released again: why
    retry_refused: str | None = None       # why a retry could not be done
    repaired: str | None = None            # the recorded release contradicted the objects: how
    # The rows of the transition table taken, in order (planning.release_table): what the
    # reconciler logs as its decisions.
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One row of the transition table taken: in ``phase``, ``event`` was seen, ``action``
    done, ``reached`` is the phase after it."""

    phase: Phase
    event: Event
    action: Action
    reached: Phase


def revision(obs: Observed, number: int | None) -> Revision | None:
    return next((r for r in obs.revisions if r.number == number), None)


def start(obs: Observed, now: dt.datetime) -> ReleaseState:
    """A new release toward ``obs.desired`` on ``obs.update_revision``."""
    update = revision(obs, obs.update_revision)
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


def recorded_sizes(obs: Observed, st: ReleaseState) -> list[int]:
    """The group sizes of the recorded release: as many groups as it started with
    (``realBatchCount``), whatever ``batchCount`` says now. A strategy edited mid-release must not
    resize its groups: with fewer groups than recorded, its last group would move only part of
    the instances and the release would read Completed short of them."""
    groups = max(st.real_batch_count, 1)
    beta = obs.strategy.use_beta and not obs.skip_confirmation
    sizes = group_sizes(st.original_delta, groups, beta)
    return sizes if len(sizes) == groups else group_sizes(st.original_delta, groups, False)


def targets(obs: Observed, st: ReleaseState, batch: int) -> dict[str, int]:
    """Replica counts when groups 1..``batch`` of the recorded release are applied."""
    sizes = recorded_sizes(obs, st)
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
    update = revision(obs, st.update_revision)
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


def complete(obs: Observed, st: ReleaseState, counts: dict[str, int]) -> bool:
    """The group whose replica counts are ``counts`` is done: the update revision holds its
    count of Available instances, no revision has more instances than its count."""
    for rev in obs.revisions:
        want = counts.get(rev.name, rev.replicas)
        if rev.number == st.update_revision and not obs.deleting:
            if rev.available < want or rev.instances > want:
                return False
        elif rev.instances > want:
            return False
    return True


def limit_unavailable(obs: Observed, st: ReleaseState, counts: dict[str, int]) -> dict[str, int]:
    """Waves inside a group (behaviour §2.3.7).

    With uninstall_then_install an instance is down while it is replaced, so the update revision
    grows by at most what is left of the unavailability budget; by one when nothing is in
    flight, so a release never stalls on maxUnavailable 0.
    """
    update = revision(obs, st.update_revision)
    if (obs.strategy.policy is not UpgradePolicy.UNINSTALL_THEN_INSTALL or update is None
            or obs.deleting):
        return counts
    want = counts.get(update.name, update.replicas)
    if want <= update.replicas:
        return counts
    desired = st.desired if st.desired is not None else obs.desired
    in_flight = max(0, update.replicas - update.available)
    # An instance being replaced in place is down even while the old revision's Module on that
    # pod still reads Available: count the replacements in flight as down.
    down = max(0, desired - sum(r.available for r in obs.revisions)) + in_flight
    allowance = obs.strategy.max_unavailable - down
    if allowance <= 0:
        allowance = 0 if in_flight else 1
    return {**counts, update.name: min(want, update.replicas + allowance)}


def yields_at_once(obs: Observed, st: ReleaseState) -> str | None:
    """Why the running release gives way to a new spec now instead of at its group boundary
    (None: it does not). Checked only when the spec has changed."""
    running = st.update_revision
    if running is not None and obs.update_revision != running and (
            obs.update_revision < running or obs.update_revision == st.stable_revision):
        return f"rollback to revision {obs.update_revision}"
    update = revision(obs, st.update_revision)
    if update is None:
        return f"revision {st.update_revision} is gone"
    if update.failed:
        return f"{update.failed} instance(s) of revision {update.number} Failed"
    if update.short_of_bases:
        return f"revision {update.number} lacks eligible base pods"
    return None


def superseded(obs: Observed, st: ReleaseState) -> bool:
    return obs.update_revision != st.update_revision or \
        (st.desired is not None and obs.desired != st.desired)


def settled(obs: Observed) -> bool:
    update = revision(obs, obs.update_revision)
    others_gone = all(r.replicas == 0 and r.instances == 0 for r in obs.revisions if r is not update)
    if update is None:
        return obs.desired == 0 and others_gone
    return (update.replicas == obs.desired and update.instances == obs.desired
            and update.available == obs.desired and others_gone)

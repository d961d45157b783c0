"""What to do next for one Module on its base, from what the cluster and Arklet say (pure).

The pieces of the Module's lifecycle machine (planning/module_machine.py): which Arklet call
brings the base to the spec (:func:`next_step`) or takes the module off (:func:`removal_step`),
the per-generation bound of installs, minReadySeconds, which of two Modules of one name on one
pod acts (:func:`supersedes`), the pod's routing labels. Free of I/O, so every corner of the
lifecycle is testable without a cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..api import constants as c
from ..api import objects
from ..api.common import SchedulingPolicy, UpgradePolicy, normalize_scheduling_policy
from ..api.module import ModulePhase

ACTIVATED = "ACTIVATED"
DEACTIVATED = "DEACTIVATED"
BROKEN = "BROKEN"


class Kind(Enum):
    INSTALL = "install"            # installBiz of the wanted version
    SWITCH = "switch"              # switchBiz to the wanted version (it was left DEACTIVATED)
    UNINSTALL = "uninstall"        # uninstallBiz of ``version`` (old, broken, or on removal)
    AVAILABLE = "available"        # the wanted version is ACTIVATED and nothing else is left
    WAIT_BASE = "wait-base"        # the pod is not ready (or has no IP) yet
    BASE_GONE = "base-gone"        # the pod is gone or going: the Module must go too
    REMOVED = "removed"            # deleting: nothing of this module is left on the base


@dataclass(frozen=True)
class Step:
    kind: Kind
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.kind.value}({self.version})" if self.version else self.kind.value


@dataclass(frozen=True)
class PodView:
    exists: bool
    ready: bool = False
    ip: str | None = None
    deleting: bool = False


def pod_step(pod: PodView) -> Step | None:
    """BASE_GONE or WAIT_BASE when the pod rules out talking to Arklet; None when it is usable."""
    if not pod.exists or pod.deleting:
        return Step(Kind.BASE_GONE)
    if not pod.ready or not pod.ip:
        return Step(Kind.WAIT_BASE)
    return None


def next_step(
    wanted_version: str,
    policy: UpgradePolicy,
    pod: PodView,
    bizzes: dict[str, str],
    claimed: frozenset[str] = frozenset(),
) -> Step:
    """Next step for a Module that should run ``wanted_version``.

    ``bizzes`` maps version -> state (upper case) for every biz on the base with the Module's name.
    ``claimed`` are versions other Modules on the same pod stand for (an older revision being
    replaced in place): they are left for those Modules' own removal, except that
    uninstall_then_install takes the old one off before installing, as the policy says.
    """
    blocked = pod_step(pod)
    if blocked is not None:
        return blocked

    wanted = bizzes.get(wanted_version)
    others = sorted(v for v in bizzes if v != wanted_version)
    unclaimed = [v for v in others if v not in claimed]

    if wanted == BROKEN:
        # A failed start leaves BROKEN; Arklet usually drops it, but if not, clear it and retry.
        return Step(Kind.UNINSTALL, wanted_version)
    if wanted is None:
        if others and policy is UpgradePolicy.UNINSTALL_THEN_INSTALL:
            return Step(Kind.UNINSTALL, others[0])
        return Step(Kind.INSTALL, wanted_version)
    if wanted != ACTIVATED:
        return Step(Kind.SWITCH, wanted_version)
    if unclaimed:
        # install_then_uninstall (and the tail of every policy): the new one is active, so the
        # old one can go.
        return Step(Kind.UNINSTALL, unclaimed[0])
    return Step(Kind.AVAILABLE)


#: Reasons of a Failed Module that no retry can cure: the controller stops calling Arklet for it
#: until its spec changes (a new metadata.generation).
FINAL_REASONS = frozenset({"VersionMismatch", "MasterBiz", "InstallNotKept"})

#: installBiz calls answered as done that one spec generation of a Module may take. The first
#: is the install; the others are reinstalls of a biz Arklet did not list ACTIVATED afterwards
#: (an answer that claims more than the listing shows) or that went missing later (the drift
#: check). Without a bound either loop runs for as long as the Module exists.
INSTALLS_PER_GENERATION = 5


def installs_so_far(status: dict[str, Any] | None, generation: int | None) -> int:
    """installBiz calls answered as done for ``generation``, as the Module's status records."""
    status = status or {}
    if generation is None or status.get("observedGeneration") != generation:
        return 0  # a new spec starts from nothing
    return int(status.get("installs") or 0)


def last_install(status: dict[str, Any] | None, generation: int | None) -> dt.datetime | None:
    """When Arklet last answered an install for ``generation`` as done (status.lastInstallTime);
    None if unknown or unreadable (a hand-edited status is never trusted into an exception)."""
    status = status or {}
    if generation is None or status.get("observedGeneration") != generation:
        return None
    value = status.get("lastInstallTime")
    try:
        return objects.parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def restarted_since(run_time: float | None, asked_at: dt.datetime,
                    installed_at: dt.datetime | None) -> bool:
    """The base's JVM started after the last install answered as done: the biz went missing
    because the base restarted, not because it drops what it installs, and the bound of
    installs counts again from zero (one bound per base incarnation).

    ``run_time`` is health's JVM uptime, measured by the base somewhere between ``asked_at``
    (when the question was sent) and the answer, so the JVM started no earlier than
    ``asked_at - run_time``: only a start that is surely later than the install counts.
    Unknown uptime or install time: not a restart (the bound stays)."""
    if run_time is None or installed_at is None:
        return False
    # asked_at - run_time > installed_at, without a timedelta a hostile uptime could overflow.
    return run_time < (asked_at - installed_at).total_seconds()


def may_install(installs: int) -> bool:
    """Whether another install fits in this generation's bound."""
    return installs < INSTALLS_PER_GENERATION


@dataclass(frozen=True)
class MinReady:
    """What minReadySeconds asks of a Module whose version is ACTIVATED: first write
    Completing (``completing``), and/or look again in ``wait`` seconds; neither: Available."""

    completing: bool = False
    wait: float | None = None


def min_ready(min_ready_seconds: int, phase: str | None, since: dt.datetime | None,
              now: dt.datetime) -> MinReady:
    """minReadySeconds counted from the Completing status's lastTransitionTime (``since``), so
    a controller restart neither restarts nor skips the wait. A Module already Available stays
    so (a spec change that keeps the version does not make it wait again)."""
    if min_ready_seconds <= 0:
        return MinReady()
    if phase not in (ModulePhase.COMPLETING, ModulePhase.AVAILABLE) or since is None:
        return MinReady(completing=True, wait=float(min_ready_seconds))
    if phase == ModulePhase.COMPLETING:
        elapsed = (now - since).total_seconds()
        if elapsed < min_ready_seconds:
            return MinReady(wait=min_ready_seconds - elapsed)
    return MinReady()


def scheduling_policy(label: str | None) -> SchedulingPolicy:
    """Placement order of a hand-made Module (one no ModuleReplicaSet places): its
    scheduling-strategy label, scatter when the label is missing or misspelt (a typo in a
    hand-written label must not leave the Module unplaced)."""
    try:
        return normalize_scheduling_policy(label)
    except ValueError:
        return SchedulingPolicy.SCATTER


def gave_up(status: dict[str, Any] | None, generation: int | None) -> bool:
    """True when the Module's status records a final failure for its current spec."""
    status = status or {}
    return (status.get("status") == ModulePhase.FAILED
            and status.get("reason") in FINAL_REASONS
            and generation is not None and status.get("observedGeneration") == generation)


def removal_step(pod: PodView, bizzes: dict[str, str] | None,
                 claimed: frozenset[str] = frozenset()) -> Step:
    """Next step while a Module is being deleted.

    ``bizzes`` is None when Arklet could not be asked; a pod that no longer exists has nothing
    left to uninstall, so that counts as removed. Versions ``claimed`` by other Modules on the pod
    (the new revision that replaced this one in place) stay.
    """
    if not pod.exists or not pod.ip:
        return Step(Kind.REMOVED)
    mine = sorted(v for v in (bizzes or {}) if v not in claimed)
    if mine:
        return Step(Kind.UNINSTALL, mine[0])
    return Step(Kind.REMOVED)


def supersedes(newer: tuple[bool, str, str], older: tuple[bool, str, str]) -> bool:
    """Order of two Modules of one name on one pod, by (belongs to the ModuleDeployment's update
    revision, creationTimestamp, name): the release's target wins — also on a rollback, where
    the target is an older revision — and otherwise the later creation."""
    return newer > older


def observed_current(module: dict[str, Any]) -> bool:
    """The Module's status was written for its current spec (metadata.generation)."""
    status = module.get("status") or {}
    return bool(status.get("observedGeneration") == module.get("metadata", {}).get("generation"))


def serving(module: dict[str, Any]) -> bool:
    """The Module runs what its spec says: Available, as observed for its current spec.

    A status written for an older generation (the spec changed since, e.g. a new version) says
    nothing about the new spec, so such a Module is not counted as Available for it: counts of
    ModuleReplicaSets and ModuleDeployments follow observedGeneration like Deployments do.
    """
    return objects.phase(module) == ModulePhase.AVAILABLE and observed_current(module)


def pod_labels(module_name: str, live_modules: list[dict[str, Any]],
               serving_now: str | None = None,
               routing: list[dict[str, Any]] | None = None) -> dict[str, str | None]:
    """The labels a base pod should carry for ``module_name``, given the live (not deleting)
    Modules bound to it: the Service label while any Module of that name there is Available
    (old and new revisions overlap during an in-place upgrade), and the instance count.
    ``serving_now`` names a Module to count as Available already: the one about to write its
    Available status, which must only be written once the pod routes to it.
    ``routing``: those of them that may carry the Service label (default: all); the others
    count as instances only (a Module that is no instance of the ModuleDeployment holding the
    name must not get its Service to route to this pod).
    ``None`` means "remove the label" (a merge-patch null)."""
    routed = any(m.get("spec", {}).get("module", {}).get("name") == module_name
                 and (objects.phase(m) == ModulePhase.AVAILABLE
                      or (serving_now is not None
                          and m.get("metadata", {}).get("name") == serving_now))
                 for m in (live_modules if routing is None else routing))
    return {c.module_label_key(module_name): c.LABEL_TRUE if routed else None,
            c.LABEL_MODULE_INSTANCE_COUNT: str(len(live_modules))}

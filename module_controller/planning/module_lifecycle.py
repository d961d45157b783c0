"""What to do next for one Module on its base, from what the cluster and Arklet say (pure).

The Module reconciler observes (the Module, its pod, Arklet's list of bizzes with the module's
name) and asks :func:`next_step`; it performs the step, observes again, and repeats until the
step is a terminal one. Keeping the decision here, free of I/O, is what makes every corner of the
lifecycle testable without a cluster: the reconciler is a loop around this function.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..api.common import UpgradePolicy

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
) -> Step:
    """Next step for a Module that should run ``wanted_version``.

    ``bizzes`` maps version -> state (upper case) for every biz on the base with the Module's name.
    """
    blocked = pod_step(pod)
    if blocked is not None:
        return blocked

    wanted = bizzes.get(wanted_version)
    others = sorted(v for v in bizzes if v != wanted_version)

    if wanted == BROKEN:
        # A failed start leaves BROKEN; Arklet usually drops it, but if not, clear it and retry.
        return Step(Kind.UNINSTALL, wanted_version)
    if wanted is None:
        if others and policy is UpgradePolicy.UNINSTALL_THEN_INSTALL:
            return Step(Kind.UNINSTALL, others[0])
        return Step(Kind.INSTALL, wanted_version)
    if wanted != ACTIVATED:
        return Step(Kind.SWITCH, wanted_version)
    if others:
        # install_then_uninstall (and the tail of every policy): the new one is active, so the
        # old one can go.
        return Step(Kind.UNINSTALL, others[0])
    return Step(Kind.AVAILABLE)


def removal_step(pod: PodView, bizzes: dict[str, str] | None) -> Step:
    """Next step while a Module is being deleted.

    ``bizzes`` is None when Arklet could not be asked; a pod that no longer exists has nothing
    left to uninstall, so that counts as removed.
    """
    if not pod.exists or not pod.ip:
        return Step(Kind.REMOVED)
    if bizzes:
        return Step(Kind.UNINSTALL, sorted(bizzes)[0])
    return Step(Kind.REMOVED)

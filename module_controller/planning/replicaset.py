"""Decisions of the ModuleReplicaSet controller (pure): how many to add or remove, and which.

Instances are described by :class:`Instance`; bases by :class:`placement.Base`.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from ..api.common import SchedulingPolicy


@dataclass(frozen=True)
class Instance:
    name: str
    pod: str | None           # base pod it is bound to
    available: bool
    deleting: bool = False
    version: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Counts:
    replicas: int             # instances that are not being deleted
    available: int
    ready: int                # installed and active (Available, even before minReadySeconds)
    updated: int              # running the template's version and url


def scale_down_order(instances: list[Instance], pod_load: dict[str, int],
                     policy: SchedulingPolicy, superseded: set[str] | frozenset[str] = frozenset(),
                     leaving: set[str] | frozenset[str] = frozenset()) -> list[Instance]:
    """Instances in the order they should be removed (behaviour §3, mirror of the policy).

    Instances whose base is leaving (pod gone, being deleted or not ready: ``leaving``) go first:
    they are lost anyway, and removing an instance from a healthy base instead would uninstall
    and reinstall the module there (a peer-mode scale-down of the base Deployment took the only
    surviving base's instance off that way). Then instances already replaced in place by a newer
    revision, then not-Available ones. Then scatter removes from the most loaded pod (undoing
    the spread last), stacking from the least loaded one (keeping the packed pods full). Ties:
    pod name, then instance name, so the choice is the same on every run.
    """
    def load(i: Instance) -> int:
        return pod_load.get(i.pod or "", 0)

    def first(i: Instance) -> tuple[bool, bool, bool]:
        return i.name not in leaving, i.name not in superseded, i.available

    if policy is SchedulingPolicy.STACKING:
        key = lambda i: (first(i), load(i), i.pod or "", i.name)  # noqa: E731
    else:
        key = lambda i: (first(i), -load(i), i.pod or "", i.name)  # noqa: E731
    return sorted((i for i in instances if not i.deleting), key=key)


def counts(instances: list[Instance], version: str, url: str, ready_names: set[str]) -> Counts:
    live = [i for i in instances if not i.deleting]
    return Counts(
        replicas=len(live),
        available=sum(1 for i in live if i.available),
        ready=sum(1 for i in live if i.name in ready_names or i.available),
        updated=sum(1 for i in live if i.version == version and i.url == url),
    )


def follows_template(module_spec: dict[str, Any], template_module: dict[str, Any],
                     upgrade_policy: str) -> bool:
    """A Module's spec (API JSON) is its ModuleReplicaSet's template: same module (name,
    version, url, ...) and upgrade policy. One that differs was edited by hand, or is about to
    be brought to a new template by its owner; either way nothing is installed from it until
    the owner has written the template into it (docs/security.md)."""
    return (module_spec.get("module") == template_module
            and module_spec.get("upgradePolicy") == upgrade_policy)


def delta(desired: int, instances: list[Instance]) -> int:
    """Positive: instances to add; negative: instances to remove."""
    return desired - sum(1 for i in instances if not i.deleting)

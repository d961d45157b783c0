"""What the cluster admin lets the controller do for whoever may write a ModuleDeployment (pure).

Whoever may create a ModuleDeployment can make the controller create a Service (NodePort: a
port on every node) and, under ``scaleup_then_scaledown``, delete base pods (docs/security.md,
item 4). Two switches of the controller bound that: ``--module-services`` and
``--pod-deletion``. A spec that asks for what they refuse is still served otherwise; the refusal
shows as the ModuleDeployment condition ``Restricted``, naming the field, and an Event.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from .conditions import set_condition

#: --module-services: the Service type made for serviceStrategy, or none at all.
SERVICE_TYPES = {"nodeport": "NodePort", "clusterip": "ClusterIP"}
MODULE_SERVICES = (*SERVICE_TYPES, "disabled")

CONDITION_RESTRICTED = "Restricted"
REASON_SERVICE_DISABLED = "ModuleServiceDisabled"
REASON_POD_DELETION_DISABLED = "PodDeletionDisabled"
REASON_SEVERAL = "OperatorRestrictions"


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


def refusals(*, wants_service: bool, replaces_bases: bool, module_services: str,
             pod_deletion: bool) -> list[Refusal]:
    """What of a ModuleDeployment's spec the controller's switches refuse."""
    out = []
    if wants_service and module_services == "disabled":
        out.append(Refusal(REASON_SERVICE_DISABLED,
                           "spec.operationStrategy.serviceStrategy.enableModuleService: module "
                           "Services are disabled by the operator (--module-services=disabled); "
                           "no Service is made"))
    if replaces_bases and not pod_deletion:
        out.append(Refusal(REASON_POD_DELETION_DISABLED,
                           "spec.operationStrategy.upgradePolicy: scaleup_then_scaledown deletes "
                           "base pods, which the operator disabled (--no-pod-deletion); old "
                           "instances are uninstalled and their bases kept"))
    return out


def restricted(conditions: list[dict[str, Any]] | None,
               found: list[Refusal]) -> list[dict[str, Any]]:
    """``conditions`` with ``Restricted`` set (True, every refusal in the message) or, when
    nothing is refused, without it (it is absent, not False, on a spec never restricted)."""
    if not found:
        return [x for x in conditions or [] if x.get("type") != CONDITION_RESTRICTED]
    reason = found[0].reason if len(found) == 1 else REASON_SEVERAL
    return set_condition(conditions, CONDITION_RESTRICTED, True, reason,
                         "; ".join(r.message for r in found))

"""The serverless.alipay.com/v1alpha1 API: pydantic models of the four kinds, their constants and
the CRD generator (``python -m module_controller.api.crdgen crds``).

Parse what the API server returns with ``Kind.from_api(obj)``; write back with ``obj.to_api()``.
Enumerations keep the user's spelling; use ``.policy`` / ``normalize_*`` for the canonical one.
"""

from typing import Any

from . import constants
from .base import Condition, CrdInfo, KubeModel, KubeObject, ObjectMeta, OwnerReference, find_condition
from .common import (
    LabelSelector, LabelSelectorRequirement, ModuleInfo, ModuleSpecTemplate, ModuleTemplateSpec,
    OperationStrategy, SchedulingPolicy, SchedulingStrategy, ServiceStrategy, TemplateMetadata,
    UpgradePolicy, normalize_scheduling_policy, normalize_upgrade_policy, scaled_value,
)
from .module import Module, ModulePhase, ModuleSpec, ModuleStatus
from .moduledeployment import (
    ModuleDeployment, ModuleDeploymentSpec, ModuleDeploymentStatus, ReleaseProgress, ReleaseStatus,
    TemplateRef,
)
from .modulereplicaset import ModuleReplicaSet, ModuleReplicaSetSpec, ModuleReplicaSetStatus
from .moduletemplate import ModuleTemplate, ModuleTemplateStatus

#: The four kinds, in the order the CRDs are generated and documented.
KINDS: tuple[type[KubeObject], ...] = (ModuleDeployment, ModuleReplicaSet, Module, ModuleTemplate)
KINDS_BY_NAME: dict[str, type[KubeObject]] = {kind.crd.names.kind: kind for kind in KINDS}


def parse_object(obj: dict[str, Any]) -> KubeObject:
    """Parse any of the four kinds by its ``kind`` field."""
    try:
        model = KINDS_BY_NAME[obj["kind"]]
    except KeyError:
        raise ValueError(f"not a {constants.API_VERSION} kind: {obj.get('kind')!r}") from None
    return model.from_api(obj)


__all__ = [
    "KINDS", "KINDS_BY_NAME", "Condition", "CrdInfo", "KubeModel", "KubeObject", "LabelSelector",
    "LabelSelectorRequirement", "Module", "ModuleDeployment", "ModuleDeploymentSpec",
    "ModuleDeploymentStatus", "ModuleInfo", "ModulePhase", "ModuleReplicaSet",
    "ModuleReplicaSetSpec", "ModuleReplicaSetStatus", "ModuleSpec", "ModuleSpecTemplate",
    "ModuleStatus", "ModuleTemplate", "ModuleTemplateSpec", "ModuleTemplateStatus", "ObjectMeta",
    "OperationStrategy", "OwnerReference", "ReleaseProgress", "ReleaseStatus", "SchedulingPolicy",
    "SchedulingStrategy", "ServiceStrategy", "TemplateMetadata", "TemplateRef", "UpgradePolicy",
    "constants", "find_condition", "normalize_scheduling_policy", "normalize_upgrade_policy",
    "parse_object", "scaled_value",
]

"""ModuleReplicaSet (short ``mdrs``): one revision of a ModuleDeployment, keeping ``replicas``
Modules placed on the base pods its selector matches, like a ReplicaSet (behaviour §3)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from . import constants as c
from .base import (AGE_COLUMN, CONDITIONS_LIST_EXTRA, Condition, CrdInfo, KubeModel, KubeObject,
                   PrinterColumn)
from .common import LabelSelector, ModuleTemplateSpec, OperationStrategy, SchedulingStrategy
from .validation import name_length_rule


class ModuleReplicaSetSpec(KubeModel):
    """Desired state of a ModuleReplicaSet."""

    selector: LabelSelector = Field(description=(
        "Label selector of the base pods the Modules may be placed on; copied from the base "
        "Deployment when the ModuleDeployment creates the ModuleReplicaSet."))
    replicas: int = Field(c.DEFAULT_REPLICAS, ge=0, le=c.MAX_REPLICAS,
                          description="Number of Modules to keep placed.")
    template: ModuleTemplateSpec = Field(description="The Modules to create.")
    operation_strategy: OperationStrategy = Field(
        default_factory=OperationStrategy, json_schema_extra={"default": {}},
        description="Copied from the ModuleDeployment; upgradePolicy applies to the Modules.")
    scheduling_strategy: SchedulingStrategy = Field(
        default_factory=SchedulingStrategy, json_schema_extra={"default": {}},
        description="How base pods are chosen for new Modules and which Modules go first on "
        "scale down.")
    min_ready_seconds: int = Field(0, ge=0, le=c.MAX_SECONDS, description=(
        "A Module counts as Available only after being installed for this many seconds."))


class ModuleReplicaSetStatus(KubeModel):
    """Observed state of a ModuleReplicaSet; counts are of Module objects."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation this status was computed from.")
    replicas: int | None = Field(None, description="Modules owned by this ModuleReplicaSet.")
    current_replicas: int | None = Field(None, description="Modules bound to a base pod.")
    ready_replicas: int | None = Field(None, description="Modules installed and active.")
    available_replicas: int | None = Field(
        None, description="Modules Available for at least minReadySeconds.")
    updated_replicas: int | None = Field(
        None, description="Modules whose spec matches the current template.")
    conditions: list[Condition] | None = Field(
        None, json_schema_extra=CONDITIONS_LIST_EXTRA,
        description="ReplicaFailure (e.g. reason InsufficientBases).")


class ModuleReplicaSet(KubeObject):
    """ModuleReplicaSet keeps a number of Modules of one module version placed on base pods,
    like a ReplicaSet does for pods. Usually owned by a ModuleDeployment."""

    crd = CrdInfo(
        names=c.MODULE_REPLICA_SET,
        printer_columns=(
            PrinterColumn("MODULE", "string", ".spec.template.spec.module.name", "Module name."),
            PrinterColumn("VERSION", "string", ".spec.template.spec.module.version",
                          "Module version."),
            PrinterColumn("DESIRED", "integer", ".spec.replicas", "Desired Modules."),
            PrinterColumn("CURRENT", "integer", ".status.replicas", "Existing Modules."),
            PrinterColumn("AVAILABLE", "integer", ".status.availableReplicas",
                          "Available Modules."),
            AGE_COLUMN,
        ),
        scale_subresource=True,
    )
    cel_rules = (name_length_rule(
        c.MODULE_REPLICA_SET.kind, c.MODULE_REPLICA_SET_NAME_MAX_LENGTH,
        f"it is written into the label '{c.LABEL_MODULE_REPLICASET}' of its Modules"),)

    kind: Literal["ModuleReplicaSet"] = Field("ModuleReplicaSet", description="ModuleReplicaSet.")
    spec: ModuleReplicaSetSpec = Field(description="Desired state of the ModuleReplicaSet.")
    status: ModuleReplicaSetStatus | None = Field(
        None, description="Observed state, written by the controller.")

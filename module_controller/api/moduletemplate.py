"""ModuleTemplate (short ``mdtpl``): a named, reusable module template, like a PodTemplate (behaviour §5).

Its shape follows PodTemplate: ``template`` at the top level, no ``spec``. The status subresource
is this project's addition (behaviour §5 wants the controller to record whether a template is in use,
and a status written through ``/status`` cannot be clobbered by the user's ``kubectl apply``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from . import constants as c
from .base import (AGE_COLUMN, CONDITIONS_LIST_EXTRA, Condition, CrdInfo, KubeModel, KubeObject,
                   PrinterColumn)
from .common import ModuleTemplateSpec


class ModuleTemplateStatus(KubeModel):
    """What the controller found out about the template."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation this status was computed from.")
    used_by: list[str] | None = Field(
        None, json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Names of the ModuleDeployments (same namespace) that reference this template.")
    conditions: list[Condition] | None = Field(
        None, json_schema_extra=CONDITIONS_LIST_EXTRA,
        description="Valid: whether the controller accepted the template.")


class ModuleTemplate(KubeObject):
    """ModuleTemplate is a named module template that ModuleDeployments can reference with
    spec.templateRef, like a PodTemplate."""

    crd = CrdInfo(
        names=c.MODULE_TEMPLATE,
        printer_columns=(
            PrinterColumn("MODULE", "string", ".template.spec.module.name", "Module name."),
            PrinterColumn("VERSION", "string", ".template.spec.module.version", "Module version."),
            AGE_COLUMN,
        ),
    )

    kind: Literal["ModuleTemplate"] = Field("ModuleTemplate", description="ModuleTemplate.")
    template: ModuleTemplateSpec = Field(description="The module template.")
    status: ModuleTemplateStatus | None = Field(
        None, description="Observed state, written by the controller.")

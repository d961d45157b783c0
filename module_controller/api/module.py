"""Module (short ``md``, ``mod``): one module instance placed on one base pod, like a Pod (behaviour §4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from . import constants as c
from .base import (AGE_COLUMN, CONDITIONS_LIST_EXTRA, Condition, CrdInfo, KubeModel, KubeObject,
                   PrinterColumn)
from .common import (LabelSelector, ModuleInfo, UpgradePolicy, UpgradePolicyValue,
                     normalize_upgrade_policy)


class ModulePhase(StrEnum):
    """``status.status`` of a Module."""

    PENDING = "Pending"          # no base pod chosen yet
    PREPARE = "Prepare"          # bound to a pod (base-instance-ip/name labels set)
    UPGRADING = "Upgrading"      # installing
    COMPLETING = "Completing"    # verifying that Arklet lists the biz ACTIVATED
    AVAILABLE = "Available"
    TERMINATING = "Terminating"  # being removed
    FAILED = "Failed"            # the install keeps failing; retried with backoff


class ModuleSpec(KubeModel):
    """Desired state of a Module."""

    selector: LabelSelector = Field(description=(
        "Label selector of the base pods this Module may be placed on."))
    module: ModuleInfo = Field(description="The module to install: name, version and package url.")
    upgrade_policy: UpgradePolicyValue = Field(
        UpgradePolicy.INSTALL_THEN_UNINSTALL.value, description=(
            "How a version change of this Module is applied in place: install_then_uninstall "
            "(default), uninstall_then_install or scaleup_then_scaledown (camelCase accepted)."))

    @property
    def policy(self) -> UpgradePolicy:
        """The upgrade policy in canonical spelling."""
        return normalize_upgrade_policy(self.upgrade_policy)


class ModuleStatus(KubeModel):
    """Observed state of a Module."""

    status: ModulePhase | None = Field(None, description=(
        "Phase: Pending, Prepare, Upgrading, Completing, Available, Terminating or Failed."))
    last_transition_time: datetime | None = Field(None, description="When the phase last changed.")
    reason: str | None = Field(None, description="CamelCase reason for the current phase.")
    message: str | None = Field(
        None, description="Details of the current phase, e.g. Arklet's error message.")
    conditions: list[Condition] | None = Field(
        None, json_schema_extra=CONDITIONS_LIST_EXTRA, description="Conditions of the Module.")
    observed_generation: int | None = Field(
        None, description="The metadata.generation this status was computed from.")
    installed_version: str | None = Field(None, description=(
        "The version of spec.module.name last observed ACTIVATED on the base pod; it differs "
        "from spec.module.version while a new version is being installed."))
    installs: int | None = Field(None, ge=0, description=(
        "installBiz calls Arklet answered as done for observedGeneration. A biz that Arklet "
        "does not keep listing ACTIVATED is installed again only a bounded number of times per "
        "generation and base incarnation; then the Module is Failed (reason InstallNotKept) "
        "until its spec changes."))
    last_install_time: datetime | None = Field(None, description=(
        "When Arklet last answered an install of this Module as done. A base whose JVM started "
        "after it lost the module to a restart: its reinstalls are counted from zero again."))


class Module(KubeObject):
    """Module is one instance of a module installed (or to be installed) on one base pod through
    its Arklet, like a Pod on a node."""

    crd = CrdInfo(
        names=c.MODULE,
        printer_columns=(
            PrinterColumn("MODULE", "string", ".spec.module.name", "Module name."),
            PrinterColumn("VERSION", "string", ".spec.module.version", "Module version."),
            PrinterColumn("BASE-IP", "string",
                          ".metadata.labels." + c.LABEL_BASE_INSTANCE_IP.replace(".", "\\."),
                          "IP of the base pod."),
            PrinterColumn("BASE-POD", "string",
                          ".metadata.labels." + c.LABEL_BASE_INSTANCE_NAME.replace(".", "\\."),
                          "Name of the base pod."),
            PrinterColumn("INSTALLED", "string", ".status.installedVersion",
                          "Version observed ACTIVATED on the base."),
            PrinterColumn("STATUS", "string", ".status.status", "Phase of the Module."),
            AGE_COLUMN,
        ),
    )

    kind: Literal["Module"] = Field("Module", description="Module.")
    spec: ModuleSpec = Field(description="Desired state of the Module.")
    status: ModuleStatus | None = Field(
        None, description="Observed state, written by the controller.")

    @property
    def base_pod_name(self) -> str | None:
        """The base pod this Module is bound to (label base-instance-name), if any."""
        return (self.metadata.labels or {}).get(c.LABEL_BASE_INSTANCE_NAME)

    @property
    def base_pod_ip(self) -> str | None:
        """The IP of the base pod this Module is bound to (label base-instance-ip), if any."""
        return (self.metadata.labels or {}).get(c.LABEL_BASE_INSTANCE_IP)

"""ModuleDeployment (short ``mddeploy``): a module, its replica count and release strategy on one
base Deployment, like a Deployment for pods (behaviour §2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from . import constants as c
from .base import (AGE_COLUMN, CONDITIONS_LIST_EXTRA, Condition, CrdInfo, KubeModel, KubeObject,
                   PrinterColumn)
from .common import ModuleInfo, ModuleTemplateSpec, ObjectName, OperationStrategy, SchedulingStrategy
from .validation import DNS_SUBDOMAIN_RULE, Rule, name_length_rule


class ReleaseProgress(StrEnum):
    """Where the current release stands (``status.releaseStatus.progress``)."""

    INIT = "Init"
    EXECUTING = "Executing"
    WAITING_FOR_CONFIRMATION = "WaitingForConfirmation"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"
    ABORTED = "Aborted"


class TemplateRef(KubeModel):
    """A reference to a ModuleTemplate in the same namespace."""

    name: ObjectName = Field(description="Name of the ModuleTemplate to use as the template.")


class ModuleDeploymentSpec(KubeModel):
    """Desired state of a ModuleDeployment."""

    cel_rules = (Rule(
        "has(self.template) != has(self.templateRef)",
        "exactly one of spec.template and spec.templateRef must be set",
        lambda s: (s.template is None) != (s.template_ref is None),
    ),)

    base_deployment_name: Annotated[
        str, Field(min_length=1, max_length=c.LABEL_VALUE_MAX_LENGTH), DNS_SUBDOMAIN_RULE,
    ] = Field(description=(
        "Name of the base Deployment (same namespace) whose pods run the module. A DNS-1123 "
        f"subdomain of at most {c.LABEL_VALUE_MAX_LENGTH} characters, because it is written into "
        f"the label '{c.LABEL_DEPLOYMENT_NAME}'."))
    template: ModuleTemplateSpec | None = Field(None, description=(
        "The module to run. Exactly one of template and templateRef must be set."))
    template_ref: TemplateRef | None = Field(None, description=(
        "Use a ModuleTemplate instead of an inline template; a change of the ModuleTemplate "
        "starts a release. Exactly one of template and templateRef must be set."))
    replicas: int = Field(c.DEFAULT_REPLICAS, ge=c.PEER_REPLICAS, le=c.MAX_REPLICAS, description=(
        "Number of Modules (module instances). -1 = peer mode: one instance on every ready base "
        "pod; the controller never replaces -1 with the resolved number."))
    pause: bool = Field(False, description=(
        "true halts the release after the current group. The controller sets it to true when a "
        "group needs confirmation; set it to false to continue."))
    confirm_batch_num: int = Field(0, ge=0, le=c.MAX_BATCH_COUNT, description=(
        "Idempotent confirmation: setting N confirms group N (like pause=false while group N "
        "waits); a stale value does nothing. Reset to 0 when the release completes."))
    operation_strategy: OperationStrategy = Field(
        default_factory=OperationStrategy, json_schema_extra={"default": {}},
        description="How releases, scaling and offline proceed: groups, confirmation, policy.")
    scheduling_strategy: SchedulingStrategy = Field(
        default_factory=SchedulingStrategy, json_schema_extra={"default": {}},
        description="How base pods are chosen for new instances.")
    min_ready_seconds: int = Field(0, ge=0, le=c.MAX_SECONDS, description=(
        "A Module counts as Available only after being installed for this many seconds."))
    progress_deadline_seconds: int = Field(c.DEFAULT_PROGRESS_DEADLINE_SECONDS, ge=1,
                                           le=c.MAX_SECONDS, description=(
        "A group not complete after this many seconds sets condition Progressing=False with "
        "reason ProgressDeadlineExceeded. If instances of the new revision are Failed by then, "
        "the release has failed: with operationStrategy.rollbackOnFailure it is rolled back, "
        "otherwise it stops there (its instances keep retrying)."))
    revision_history_limit: int = Field(c.DEFAULT_REVISION_HISTORY_LIMIT, ge=0,
                                        le=c.MAX_REVISION_HISTORY_LIMIT, description=(
        "How many old, empty ModuleReplicaSets are kept for history and rollback."))

    @property
    def is_peer(self) -> bool:
        """Peer mode: one instance on every ready base pod."""
        return self.replicas == c.PEER_REPLICAS

    @property
    def module(self) -> ModuleInfo | None:
        """The inline template's module (None with templateRef; resolve the template instead)."""
        return self.template.spec.module if self.template else None


class ReleaseStatus(KubeModel):
    """Progress of the current release (or scale, or offline)."""

    update_revision: int | None = Field(
        None, description="Revision number of the ModuleReplicaSet being rolled out.")
    current_batch: int | None = Field(None, description="The group being executed, from 1.")
    real_batch_count: int | None = Field(
        None, description="Number of groups of this release: min(batchCount, |delta|), at least 1.")
    original_delta_replicas: int | None = Field(
        None, description="Instances to add (positive) or remove (negative) when the release began.")
    progress: ReleaseProgress | None = Field(None, description=(
        "Init, Executing, WaitingForConfirmation, Paused, Completed, Terminating, Terminated "
        "or Aborted (the spec's revision was given up, by an abort or a rollback on failure, "
        "and the stable revision runs; until a retry, a new spec or an undo)."))
    batch_progress: str | None = Field(
        None, description="currentBatch/realBatchCount for display, e.g. 1/2 (the BATCH column).")
    last_transition_time: datetime | None = Field(None, description="When progress last changed.")
    next_reconcile_time: datetime | None = Field(
        None, description="When the next group may start (end of the gray time).")
    stable_revision: int | None = Field(None, description=(
        "The last revision whose release completed: where a rollback on failure or an abort "
        "returns to."))
    aborted_revision: int | None = Field(None, description=(
        "A revision whose release was given up (rolled back on failure, or aborted). While the "
        "spec still names it unchanged, stableRevision is released instead; any change of the "
        "spec's module clears it."))
    aborted_module: str | None = Field(None, description=(
        "name:version@url of the given-up revision when it was given up."))
    aborted_generation: int | None = Field(None, description=(
        "metadata.generation of the spec when its revision was given up (kept up with the "
        "controller's own spec writes). A later generation is the user's change: the spec is "
        "released again (a retry), even if it names the given-up revision, unless only "
        "spec.pause, spec.confirmBatchNum or the wanted instances changed."))
    aborted_pause: bool | None = Field(None, description=(
        "spec.pause at abortedGeneration (a change of it alone is no new spec)."))
    aborted_confirm_batch_num: int | None = Field(None, description=(
        "spec.confirmBatchNum at abortedGeneration (a change of it alone is no new spec)."))
    aborted_replicas: int | None = Field(None, description=(
        "Instances wanted at abortedGeneration (a scale alone is no new spec: the stable "
        "revision is scaled)."))

    def format_batch_progress(self) -> str | None:
        """What ``batch_progress`` should say for the current numbers."""
        if self.current_batch is None or self.real_batch_count is None:
            return None
        return f"{self.current_batch}/{self.real_batch_count}"


class ModuleNameClaim(KubeModel):
    """The module name a ModuleDeployment holds in its namespace: that name's Service and the
    pod label it selects are this ModuleDeployment's alone (behaviour §2.8)."""

    module: str | None = Field(None, description="The module name held.")
    since: str | None = Field(None, description=(
        "When the claim began: the creationTimestamp of its oldest revision of that name. The "
        "oldest claim keeps the name; a later one, by create or by rename, gets "
        "ReplicaFailure/ModuleNameConflict. The controller decides from the revisions "
        "themselves; this is the record for readers."))


class ModuleDeploymentStatus(KubeModel):
    """Observed state of a ModuleDeployment; counts are of Module objects."""

    observed_generation: int | None = Field(
        None, description="The metadata.generation this status was computed from.")
    replicas: int | None = Field(None, description="Modules of all revisions.")
    desired_replicas: int | None = Field(None, description=(
        "Instances wanted: spec.replicas, or in peer mode the number of ready base pods."))
    ready_replicas: int | None = Field(None, description="Modules installed and active.")
    available_replicas: int | None = Field(
        None, description="Modules Available for at least minReadySeconds.")
    unavailable_replicas: int | None = Field(
        None, description="Desired instances that are not Available.")
    updated_replicas: int | None = Field(None, description="Modules of the current revision.")
    updated_available_replicas: int | None = Field(
        None, description="Available Modules of the current revision.")
    version: str | None = Field(None, description=(
        "The module version(s) the Available instances run, newest revision first (two while a "
        "release moves instances): the VERSION column, never taken from the spec."))
    conditions: list[Condition] | None = Field(
        None, json_schema_extra=CONDITIONS_LIST_EXTRA,
        description="Available, Progressing, ReplicaFailure and RolledBack.")
    release_status: ReleaseStatus | None = Field(None, description="Progress of the current release.")
    module_name_claim: ModuleNameClaim | None = Field(
        None, description="The module name it holds in its namespace, and since when.")


class ModuleDeployment(KubeObject):
    """ModuleDeployment runs a module on the pods of a base Deployment and releases new versions
    in groups, like a Deployment does for pods."""

    crd = CrdInfo(
        names=c.MODULE_DEPLOYMENT,
        printer_columns=(
            PrinterColumn("MODULE", "string", ".spec.template.spec.module.name", "Module name."),
            PrinterColumn("VERSION", "string", ".status.version",
                          "Module version(s) the Available instances run."),
            PrinterColumn("REPLICAS", "integer", ".spec.replicas",
                          "Desired instances (-1 = peer mode)."),
            PrinterColumn("AVAILABLE", "integer", ".status.availableReplicas",
                          "Available instances."),
            PrinterColumn("PROGRESS", "string", ".status.releaseStatus.progress",
                          "Progress of the current release (Aborted: the spec's revision is "
                          "given up until you act)."),
            PrinterColumn("BATCH", "string", ".status.releaseStatus.batchProgress",
                          "Current group / number of groups."),
            AGE_COLUMN,
        ),
        # No scale subresource: the API server rejects every object whose specReplicasPath value
        # is negative ("should be a non-negative integer"), which would make peer mode
        # (replicas: -1, behaviour §2.5) impossible. See docs/api.md, "Scale".
        scale_subresource=False,
    )
    cel_rules = (name_length_rule(
        c.MODULE_DEPLOYMENT.kind, c.MODULE_DEPLOYMENT_NAME_MAX_LENGTH,
        f"its ModuleReplicaSet names '<name>{c.REPLICASET_NAME_INFIX}<revision>' must fit in a "
        "label value"),)

    kind: Literal["ModuleDeployment"] = Field("ModuleDeployment", description="ModuleDeployment.")
    spec: ModuleDeploymentSpec = Field(description="Desired state of the ModuleDeployment.")
    status: ModuleDeploymentStatus | None = Field(
        None, description="Observed state, written by the controller.")

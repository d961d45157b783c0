"""Kubernetes plumbing shared by every kind: the base model, object metadata, conditions, CRD info.

Models parse what the API returns (camelCase) and accept snake_case in code::

    md = ModuleDeployment.from_api(obj)          # dict from kopf / kubernetes_asyncio
    md.spec.base_deployment_name
    body = md.to_api()                           # camelCase, None fields left out

Unknown fields are ignored when parsing spec and status (the API server prunes them anyway), but
``metadata`` keeps everything, so an object can be read, changed and written back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from . import constants as c
from .validation import X_VALIDATIONS, Rule


def _schema_extra(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Add a model's CRD-only schema keys and its object-level CEL rules to its JSON schema."""
    schema.update(getattr(model, "crd_schema_extra", {}))
    rules: tuple[Rule, ...] = getattr(model, "cel_rules", ())
    if rules:
        schema.setdefault(X_VALIDATIONS, []).extend(rule.to_crd() for rule in rules)


class KubeModel(BaseModel):
    """Base of every API model: camelCase aliases, snake_case names, object-level rules."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        json_schema_extra=_schema_extra,
    )

    #: Rules over the whole object (CEL ``self`` = this object); checked in Python after parsing.
    cel_rules: ClassVar[tuple[Rule, ...]] = ()
    #: Extra keys for this model's schema in the CRD (e.g. preserve-unknown-fields).
    crd_schema_extra: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="after")
    def _check_cel_rules(self) -> Self:
        for rule in self.cel_rules:
            rule.validate(self)
        return self

    @classmethod
    def from_api(cls, obj: Any) -> Self:
        """Parse a dict (or a model) as returned by the API server."""
        return cls.model_validate(obj)

    def to_api(self) -> dict[str, Any]:
        """The camelCase dict to send to the API server (fields that are None left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OwnerReference(KubeModel):
    """A reference to an owning object (metav1.OwnerReference)."""

    api_version: str = Field(description="API version of the owner.")
    kind: str = Field(description="Kind of the owner.")
    name: str = Field(description="Name of the owner.")
    uid: str = Field(description="UID of the owner.")
    controller: bool | None = Field(None, description="True if the owner is the managing controller.")
    block_owner_deletion: bool | None = Field(
        None, description="True if the owner cannot be deleted from storage before this object.")


class ObjectMeta(KubeModel):
    """Standard object metadata; fields not modelled here are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(None, description="Object name, unique in its namespace.")
    generate_name: str | None = Field(None, description="Prefix for a server-generated name.")
    namespace: str | None = Field(None, description="Namespace of the object.")
    uid: str | None = Field(None, description="Unique ID set by the server.")
    resource_version: str | None = Field(None, description="Version for optimistic concurrency.")
    generation: int | None = Field(None, description="Sequence number of spec changes.")
    creation_timestamp: datetime | None = Field(None, description="When the object was created.")
    deletion_timestamp: datetime | None = Field(None, description="When deletion was requested.")
    labels: dict[str, str] | None = Field(None, description="Labels of the object.")
    annotations: dict[str, str] | None = Field(None, description="Annotations of the object.")
    finalizers: list[str] | None = Field(None, description="Finalizers that block deletion.")
    owner_references: list[OwnerReference] | None = Field(None, description="Owners of the object.")


class Condition(KubeModel):
    """One observation of the object's state (same shape as metav1.Condition)."""

    type: str = Field(description="Type of the condition, e.g. Available, Progressing, ReplicaFailure.")
    status: Literal["True", "False", "Unknown"] = Field(
        description="Status of the condition: True, False or Unknown.")
    reason: str | None = Field(
        None, description="Machine-readable CamelCase reason for the last transition.")
    message: str | None = Field(None, description="Human-readable details about the last transition.")
    last_transition_time: datetime | None = Field(
        None, description="When the status last changed from one value to another.")
    observed_generation: int | None = Field(
        None, description="metadata.generation the condition was computed from.")


#: Conditions are a map keyed by type, so server-side apply and merge patches treat them per type.
CONDITIONS_LIST_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


def find_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    """The condition of type ``type_``, if present."""
    return next((cond for cond in conditions or [] if cond.type == type_), None)


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (what ``kubectl get`` shows)."""

    name: str
    type: str
    json_path: str
    description: str

    def to_crd(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "jsonPath": self.json_path,
                "description": self.description}


AGE_COLUMN = PrinterColumn("AGE", "date", ".metadata.creationTimestamp",
                           "Time since the object was created.")


@dataclass(frozen=True)
class CrdInfo:
    """What the CRD generator needs besides the schema."""

    names: c.ResourceNames
    printer_columns: tuple[PrinterColumn, ...]
    status_subresource: bool = True
    scale_subresource: bool = False


class KubeObject(KubeModel):
    """A top-level API object: apiVersion, kind, metadata (+ spec/status in subclasses)."""

    crd: ClassVar[CrdInfo]

    api_version: Literal["serverless.alipay.com/v1alpha1"] = Field(
        "serverless.alipay.com/v1alpha1",
        description="APIVersion defines the versioned schema of this representation "
        "of an object: serverless.alipay.com/v1alpha1.")
    metadata: ObjectMeta = Field(
        default_factory=ObjectMeta, description="Standard object metadata.")

    @property
    def name(self) -> str | None:
        return self.metadata.name

    @property
    def namespace(self) -> str | None:
        return self.metadata.namespace

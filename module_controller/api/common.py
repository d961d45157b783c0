"""Pieces shared by several kinds: the module, its template, strategies, selectors and enums.

Enumerations are stored as the user wrote them (the seed manual uses both ``installThenUninstall``
and ``install_then_uninstall``, both ``Scatter`` and ``scatter``); code works with the canonical
:class:`UpgradePolicy` / :class:`SchedulingPolicy` via the ``normalize_*`` helpers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import ConfigDict, Field, field_validator

from . import constants as c
from .base import KubeModel
from .validation import (
    DNS_SUBDOMAIN_RULE, MAX_UNAVAILABLE_RULE, MD5_RULE, MODULE_NAME_RULE, MODULE_VERSION_RULE,
    TARGET_PORT_RULE, URL_RULE, X_PRESERVE_UNKNOWN, IntOrString, Rule, cel_string, matches,
)


class UpgradePolicy(StrEnum):
    """How an instance of the old revision is replaced (behaviour §2.4); canonical spelling."""

    INSTALL_THEN_UNINSTALL = "install_then_uninstall"
    UNINSTALL_THEN_INSTALL = "uninstall_then_install"
    SCALEUP_THEN_SCALEDOWN = "scaleup_then_scaledown"


class SchedulingPolicy(StrEnum):
    """Placement rule for new instances (behaviour §3); canonical spelling."""

    SCATTER = "scatter"
    STACKING = "stacking"


#: Every spelling the CRD accepts: snake_case and camelCase for upgrade policies ...
UpgradePolicyValue = Literal[
    "install_then_uninstall", "installThenUninstall",
    "uninstall_then_install", "uninstallThenInstall",
    "scaleup_then_scaledown", "scaleupThenScaledown",
]
#: ... lower case and capitalised for scheduling policies.
SchedulingPolicyValue = Literal["scatter", "Scatter", "stacking", "Stacking"]


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


UPGRADE_POLICY_SPELLINGS: dict[str, UpgradePolicy] = {
    spelling: policy for policy in UpgradePolicy for spelling in (policy.value, _camel(policy.value))
}
SCHEDULING_POLICY_SPELLINGS: dict[str, SchedulingPolicy] = {
    spelling: policy for policy in SchedulingPolicy
    for spelling in (policy.value, policy.value.capitalize())
}


E = TypeVar("E")


def _normalize(spellings: dict[str, E], value: str | None, default: E, field: str) -> E:
    """The canonical enum for a spelling the API accepts; None -> ``default``."""
    if value is None:
        return default
    try:
        return spellings[value]
    except KeyError:
        raise ValueError(f"unknown {field} {value!r}") from None


def normalize_upgrade_policy(value: str | None) -> UpgradePolicy:
    """``installThenUninstall`` -> ``install_then_uninstall``; None -> the default policy."""
    return _normalize(UPGRADE_POLICY_SPELLINGS, value, UpgradePolicy.INSTALL_THEN_UNINSTALL,
                      "upgradePolicy")


def normalize_scheduling_policy(value: str | None) -> SchedulingPolicy:
    """``Scatter`` -> ``scatter``; None -> the default policy."""
    return _normalize(SCHEDULING_POLICY_SPELLINGS, value, SchedulingPolicy.SCATTER,
                      "schedulingPolicy")


ModuleName = Annotated[str, Field(min_length=1, max_length=c.MODULE_NAME_MAX_LENGTH), MODULE_NAME_RULE]
ModuleVersion = Annotated[str, Field(min_length=1, max_length=c.LABEL_VALUE_MAX_LENGTH),
                          MODULE_VERSION_RULE]
ObjectName = Annotated[str, Field(min_length=1, max_length=c.DNS1123_SUBDOMAIN_MAX_LENGTH),
                       DNS_SUBDOMAIN_RULE]
Port = Annotated[int, Field(ge=c.PORT_MIN, le=c.PORT_MAX)]
TargetPort = Annotated[int | str, IntOrString(), TARGET_PORT_RULE]
MaxUnavailable = Annotated[int | str, IntOrString(), MAX_UNAVAILABLE_RULE]


class ModuleInfo(KubeModel):
    """The module package Arklet installs: bizName, bizVersion and where to fetch it."""

    name: ModuleName = Field(description=(
        "Module name (Arklet bizName). A DNS-1035 label of at most "
        f"{c.MODULE_NAME_MAX_LENGTH} characters, because it becomes part of the base pod label "
        f"'{c.MODULE_LABEL_PREFIX}<name>' and of the Service name '<name>-service'."))
    version: ModuleVersion = Field(description=(
        "Module version (Arklet bizVersion); a valid label value of at most "
        f"{c.LABEL_VALUE_MAX_LENGTH} characters, e.g. 1.0.2 or 2.0.0-SNAPSHOT."))
    url: Annotated[str, Field(min_length=1, max_length=c.URL_MAX_LENGTH), URL_RULE] = Field(
        description="Where Arklet downloads the module package (ark-biz jar): an "
        + ", ".join(f"{s}://" for s in c.URL_SCHEMES) + " URL. Changing only the url updates "
        "the Modules without reinstalling; the new url is used for every later install.")
    type: Annotated[str, Field(max_length=c.MODULE_TYPE_MAX_LENGTH)] | None = Field(
        None, description="Package type, informational (e.g. jar); not interpreted by the controller.")
    md5: Annotated[str, MD5_RULE] | None = Field(
        None, description="Expected MD5 checksum of the package, 32 hexadecimal digits.")


_KEYS_RULE = Rule(
    f"self.all(k, size(k) <= {c.QUALIFIED_NAME_MAX_LENGTH} && "
    f"k.matches({cel_string(c.QUALIFIED_NAME_PATTERN)}))",
    "every key must be a qualified name: an optional DNS subdomain prefix and '/', then at "
    "most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter "
    "or digit",
    lambda d: all(len(k) <= c.QUALIFIED_NAME_MAX_LENGTH and matches(c.QUALIFIED_NAME_PATTERN, k)
                  for k in d),
)


class TemplateMetadata(KubeModel):
    """Metadata for the Modules made from this template; labels and annotations are copied."""

    model_config = ConfigDict(extra="allow")
    # Like a pod template's metadata: other ObjectMeta fields are kept rather than silently pruned.
    crd_schema_extra = {X_PRESERVE_UNKNOWN: True}

    labels: Annotated[
        dict[str, Annotated[str, Field(max_length=c.LABEL_VALUE_MAX_LENGTH,
                                       pattern=c.LABEL_VALUE_PATTERN)]],
        Field(max_length=c.TEMPLATE_METADATA_MAX_ENTRIES), _KEYS_RULE,
    ] | None = Field(None, description=(
        "Labels added to each Module: keys are qualified names ([prefix/]name, name at most 63 "
        "characters), values valid label values of at most 63 characters."))
    annotations: Annotated[
        dict[str, str], Field(max_length=c.TEMPLATE_METADATA_MAX_ENTRIES), _KEYS_RULE,
    ] | None = Field(None, description=(
        "Annotations added to each Module; keys are qualified names like label keys."))


class ModuleSpecTemplate(KubeModel):
    """The spec part of a module template."""

    module: ModuleInfo = Field(description="The module to run: name, version and package url.")


class ModuleTemplateSpec(KubeModel):
    """Describes the Modules to create (like a PodTemplateSpec for pods)."""

    metadata: TemplateMetadata | None = Field(
        None, description="Labels and annotations given to the Modules made from this template.")
    spec: ModuleSpecTemplate = Field(description="Spec of the Modules made from this template.")


class ServiceStrategy(KubeModel):
    """The NodePort Service '<moduleName>-service' routing to the bases that run the module."""

    cel_rules = (Rule(
        "!(has(self.enableModuleService) && self.enableModuleService) || has(self.port)",
        "serviceStrategy.port is required when serviceStrategy.enableModuleService is true",
        lambda s: not s.enable_module_service or s.port is not None,
        field_path=".port",
    ),)

    enable_module_service: bool = Field(False, description=(
        "Create (true) or delete (false) the Service '<moduleName>-service' of type NodePort that "
        f"selects the base pods labelled '{c.MODULE_LABEL_PREFIX}<moduleName>: \"true\"'."))
    port: Port | None = Field(None, description=(
        "Port the Service exposes, 1-65535; required when enableModuleService is true."))
    target_port: TargetPort | None = Field(None, description=(
        "Port on the base pod the Service sends traffic to: a number 1-65535 or a named container "
        "port (IANA service name). Defaults to port (also when 0, which upstream's v1 "
        "controller stores for 'not set')."))

    @field_validator("target_port", mode="before")
    @classmethod
    def _zero_is_unset(cls, value: object) -> object:
        return None if value == 0 and not isinstance(value, bool) else value


class OperationStrategy(KubeModel):
    """How a release, scale or offline proceeds: groups, confirmation, policy (behaviour §2.3)."""

    batch_count: int = Field(c.DEFAULT_BATCH_COUNT, ge=1, le=c.MAX_BATCH_COUNT, description=(
        "Number of groups a release, scale or offline is split into (at most one instance per "
        "group is useful, so the real count is min(batchCount, instances to change))."))
    use_beta: bool = Field(False, description=(
        "The first group is exactly one instance (beta); the rest is split into batchCount-1 "
        "groups. The release pauses after the beta group for confirmation."))
    need_confirm: bool = Field(False, description=(
        "Pause after every group but the last; continue with spec.pause=false or "
        "spec.confirmBatchNum."))
    gray_time_between_batch_seconds: int = Field(0, ge=0, le=c.MAX_SECONDS, description=(
        "Seconds to wait after a group completes before the next group starts "
        f"(at most {c.MAX_SECONDS})."))
    upgrade_policy: UpgradePolicyValue = Field(
        UpgradePolicy.INSTALL_THEN_UNINSTALL.value, description=(
            "How an old instance is replaced: install_then_uninstall (default), "
            "uninstall_then_install or scaleup_then_scaledown; the camelCase spellings "
            "(installThenUninstall, ...) are accepted and stored as written."))
    max_unavailable: MaxUnavailable = Field(c.DEFAULT_MAX_UNAVAILABLE, description=(
        "At most this many desired instances may be not Available at once during a release: "
        f"an integer 0-{c.MAX_REPLICAS} or a percentage 0%-100% of the desired instances "
        "(rounded down)."))
    rollback_on_failure: bool = Field(False, description=(
        "When a release fails (spec.progressDeadlineSeconds pass without a completed group "
        "while instances of the new revision are Failed), release the last completed revision "
        "again, in groups with this strategy, and set condition RolledBack. false: the release "
        "stops where it is and condition Progressing=False reports the failure."))
    service_strategy: ServiceStrategy | None = Field(
        None, description="Optional NodePort Service for the module.")

    @property
    def policy(self) -> UpgradePolicy:
        """The upgrade policy in canonical spelling."""
        return normalize_upgrade_policy(self.upgrade_policy)

    def max_unavailable_count(self, desired: int) -> int:
        """maxUnavailable resolved against ``desired`` instances (percentages round down)."""
        return scaled_value(self.max_unavailable, desired, round_up=False)


class SchedulingStrategy(KubeModel):
    """Where new instances are placed (behaviour §3)."""

    scheduling_policy: SchedulingPolicyValue = Field(SchedulingPolicy.SCATTER.value, description=(
        "scatter (default): prefer the base pods with the fewest modules; stacking: prefer the "
        "pods with the most modules that are still below their max-module-count. Scatter and "
        "Stacking are accepted and stored as written."))

    @property
    def policy(self) -> SchedulingPolicy:
        """The scheduling policy in canonical spelling."""
        return normalize_scheduling_policy(self.scheduling_policy)


class LabelSelectorRequirement(KubeModel):
    """A selector requirement: key, operator and values."""

    key: str = Field(description="The label key the requirement applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist.")
    values: list[str] | None = Field(
        None, description="Values for In and NotIn; must be empty for Exists and DoesNotExist.")


class LabelSelector(KubeModel):
    """A label query over base pods (metav1.LabelSelector); it must not be empty."""

    # A positive requirement (a label, In or Exists) is needed: without one (empty, or only
    # NotIn / DoesNotExist on a key nobody sets) the selector matches every pod in the namespace.
    cel_rules = (Rule(
        "(has(self.matchLabels) && size(self.matchLabels) > 0) || "
        "(has(self.matchExpressions) && "
        "self.matchExpressions.exists(e, e.operator == 'In' || e.operator == 'Exists'))",
        "selector must have matchLabels or a matchExpressions entry with operator In or Exists: "
        "an empty selector, or one of only NotIn/DoesNotExist, matches every pod in the "
        "namespace",
        lambda s: bool(s.match_labels) or any(
            r.operator in ("In", "Exists") for r in s.match_expressions or []),
    ),)

    match_labels: dict[str, str] | None = Field(
        None, description="Labels the base pods must have (ANDed with matchExpressions).")
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        None, description="Label requirements the base pods must satisfy (ANDed).")

    def to_selector_string(self) -> str:
        """The selector in ``kubectl -l`` / ``labelSelector=`` syntax."""
        parts = [f"{k}={v}" for k, v in sorted((self.match_labels or {}).items())]
        for req in self.match_expressions or []:
            values = ",".join(req.values or [])
            parts.append({
                "In": f"{req.key} in ({values})", "NotIn": f"{req.key} notin ({values})",
                "Exists": req.key, "DoesNotExist": f"!{req.key}",
            }[req.operator])
        return ",".join(parts)


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """An int-or-percent value resolved against ``total`` (like Kubernetes' intstr scaling)."""
    if isinstance(value, int):
        return value
    scaled = int(value.rstrip("%")) * total
    return -(-scaled // 100) if round_up else scaled // 100


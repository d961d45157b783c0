"""Every name the API defines, in one place: group, kinds, labels, annotations, finalizers, limits.

The controllers, the CRD generator, the models' own validation and the tests all import these, so a
label key or a length limit cannot drift between the CRD and the code that relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GROUP: Final = "serverless.alipay.com"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "koupleless"  # `kubectl get koupleless` lists all four kinds

#: Prefix of the controller's labels, annotations and finalizers (behaviour §1 "P").
PREFIX: Final = f"{GROUP}/"
#: Prefix of the per-module label on base pods (behaviour §1 "M"); the module name follows it.
MODULE_LABEL_PREFIX: Final = f"module.{GROUP}/"


@dataclass(frozen=True)
class ResourceNames:
    """How one kind is spelled in the API (kind, plural, singular, short names)."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]


MODULE_DEPLOYMENT: Final = ResourceNames("ModuleDeployment", "moduledeployments", "moduledeployment",
                                         ("mddeploy",))
MODULE_REPLICA_SET: Final = ResourceNames("ModuleReplicaSet", "modulereplicasets", "modulereplicaset",
                                          ("mdrs",))
MODULE: Final = ResourceNames("Module", "modules", "module", ("md", "mod"))
MODULE_TEMPLATE: Final = ResourceNames("ModuleTemplate", "moduletemplates", "moduletemplate",
                                       ("mdtpl",))

# --- Labels (behaviour §1) ------------------------------------------------------------------------
LABEL_MODULE_DEPLOYMENT: Final = PREFIX + "module-deployment"
LABEL_MODULE_NAME: Final = PREFIX + "module-name"
LABEL_MODULE_REPLICASET_REVISION: Final = PREFIX + "module-replicaset-revision"
LABEL_DEPLOYMENT_NAME: Final = PREFIX + "deployment-name"  # the base Deployment
LABEL_MODULE_SCHEDULING_STRATEGY: Final = PREFIX + "module-scheduling-strategy"
LABEL_MODULE_REPLICASET: Final = PREFIX + "module-replicaset"
LABEL_MODULE_VERSION: Final = PREFIX + "module-version"
LABEL_BASE_INSTANCE_IP: Final = PREFIX + "base-instance-ip"
LABEL_BASE_INSTANCE_NAME: Final = PREFIX + "base-instance-name"
#: On base pods: number of Module objects bound to the pod (always recomputed).
LABEL_MODULE_INSTANCE_COUNT: Final = PREFIX + "module-instance-count"
#: On a base pod, else on its Deployment: how many modules the pod may host (absent = unlimited).
LABEL_MAX_MODULE_COUNT: Final = PREFIX + "max-module-count"
LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE: Final = PREFIX + "max-module-instance-count-on-base"
LABEL_MIN_MODULE_INSTANCE_COUNT_ON_BASE: Final = PREFIX + "min-module-instance-count-on-base"
LABEL_AVERAGE_MODULE_INSTANCE_COUNT_ON_BASE: Final = PREFIX + "average-module-instance-count-on-base"
#: On a base pod: take its modules off (uninstalling them), then delete the pod.
LABEL_DELETE_POD: Final = PREFIX + "delete-pod"
#: On a base pod: drop its Module objects without uninstalling, then delete the pod.
LABEL_DELETE_POD_DIRECTLY: Final = PREFIX + "delete-pod-directly"
LABEL_TRUE: Final = "true"

# --- Annotations -----------------------------------------------------------------------------
#: On a base pod: the Arklet port when it is not the controller's default.
ANNOTATION_ARKLET_PORT: Final = PREFIX + "arklet-port"
# On a ModuleDeployment: "abort the release of this revision" (a number, as `kubectl module
# abort` writes it). The controller acts on it when it names the running release's revision,
# and removes it either way, so it never applies to a later release of the same revision.
ANNOTATION_ABORT_REVISION: Final = PREFIX + "abort-revision"
# Ask to release a given-up revision again (`kubectl module retry` writes it): the controller
# acts on it when it names the revision in status.releaseStatus.abortedRevision, and removes it
# either way (a stale one is refused with an Event).
ANNOTATION_RETRY_REVISION: Final = PREFIX + "retry-revision"
DEFAULT_ARKLET_PORT: Final = 1238

# --- Finalizers (behaviour §1) --------------------------------------------------------------------
FINALIZER_MODULE_REPLICASET_EXISTED: Final = PREFIX + "module-replicaset-existed"
FINALIZER_MODULE_EXISTED: Final = PREFIX + "module-existed"
FINALIZER_ALLOCATE_POD: Final = PREFIX + "allocate-pod"

# --- Condition types and reasons (behaviour §2.2, §2.8, §3, §5) --------------------------------------
CONDITION_AVAILABLE: Final = "Available"
CONDITION_PROGRESSING: Final = "Progressing"
CONDITION_REPLICA_FAILURE: Final = "ReplicaFailure"
CONDITION_ROLLED_BACK: Final = "RolledBack"  # ModuleDeployment: a release was given up
CONDITION_VALID: Final = "Valid"  # ModuleTemplate: the controller checked the template
REASON_PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
REASON_MODULE_NAME_CONFLICT: Final = "ModuleNameConflict"
REASON_INSUFFICIENT_BASES: Final = "InsufficientBases"
REASON_TEMPLATE_NOT_FOUND: Final = "TemplateNotFound"
REASON_BASE_NOT_FOUND: Final = "BaseNotFound"
REASON_SERVICE_CONFLICT: Final = "ServiceConflict"  # <module>-service is someone else's

# --- Validation limits and patterns (shared by the CRD's CEL rules and the models) -------------
# The patterns avoid escapes where a character class does the job, so the same text is valid as a
# Python regex, as RE2 (CEL `matches`) and inside a CEL string literal.

#: Module name: a DNS-1035 label (starts with a letter, like a Service name) because it becomes
#: the name part of the label key ``module.serverless.alipay.com/<name>`` (<= 63) and the Service
#: name ``<name>-service`` (<= 63), which leaves 63 - len("-service") = 55 characters.
SERVICE_NAME_SUFFIX: Final = "-service"
MODULE_NAME_MAX_LENGTH: Final = 63 - len(SERVICE_NAME_SUFFIX)
MODULE_NAME_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

#: Module version: written into the label ``serverless.alipay.com/module-version``, so a label value.
LABEL_VALUE_MAX_LENGTH: Final = 63
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

#: Label and annotation keys of template metadata (copied onto every Module): an optional
#: DNS-1123 subdomain prefix and "/", then a name of at most 63 characters, as Kubernetes demands.
#: Checked by the API server, so a bad key fails at apply instead of at every Module create.
QUALIFIED_NAME_PATTERN: Final = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
QUALIFIED_NAME_MAX_LENGTH: Final = 253 + 1 + 63
#: Bounds the API server's cost of checking every key (CEL needs a bounded map).
TEMPLATE_METADATA_MAX_ENTRIES: Final = 64

#: Object names that are references (baseDeploymentName, templateRef.name): DNS-1123 subdomains.
DNS1123_SUBDOMAIN_MAX_LENGTH: Final = 253
DNS1123_SUBDOMAIN_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

#: A ModuleReplicaSet is named ``<moduledeployment>-replicas-<revision>`` and that name is a label
#: value on its Modules; reserving 6 digits for the revision leaves 47 characters for the
#: ModuleDeployment name.
REPLICASET_NAME_INFIX: Final = "-replicas-"
REVISION_DIGITS_RESERVED: Final = 6
MODULE_DEPLOYMENT_NAME_MAX_LENGTH: Final = (
    LABEL_VALUE_MAX_LENGTH - len(REPLICASET_NAME_INFIX) - REVISION_DIGITS_RESERVED)
MODULE_REPLICA_SET_NAME_MAX_LENGTH: Final = LABEL_VALUE_MAX_LENGTH

#: Module package URL: the schemes Arklet can fetch. The controller may narrow this at run time.
URL_SCHEMES: Final = ("http", "https", "file")
URL_MAX_LENGTH: Final = 4096
# No whitespace and no control character after the scheme (the docs promise "no whitespace";
# a NBSP or a vertical tab in a url is invisible in kubectl output and breaks the download).
# Spelled out rather than \s because Python's \s and RE2's disagree on Unicode spaces. C0
# controls, space, DEL, C1 controls and NBSP as \x escapes (both engines read them); the other
# Unicode spaces (str.isspace) and the BOM as the characters themselves, since RE2 spells
# \u2000 as \x{2000} and Python does not.
# Unicode format characters (category Cf, Unicode 15), which include every bidirectional
# control: a url showing "jar.exe" through U+202E, or a zero-width character in a host name,
# reads as another url than the one the base downloads. Spelled out, not taken from the running
# Python's unicodedata, so that the CRD does not change with the Python version.
URL_FORMAT_CHARS: Final = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
                           "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufff9-\ufffb"
                           "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
                           "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
URL_FORBIDDEN: Final = (r"\x00-\x20\x7f-\xa0"
                        "\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
                        + URL_FORMAT_CHARS)
URL_PATTERN: Final = r"^(" + "|".join(URL_SCHEMES) + r")://[^" + URL_FORBIDDEN + "]+$"

MD5_PATTERN: Final = r"^[0-9a-fA-F]{32}$"
MODULE_TYPE_MAX_LENGTH: Final = 63

#: A Service targetPort name: an IANA service name (RFC 6335), as Kubernetes validates it.
PORT_NAME_MAX_LENGTH: Final = 15
PORT_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
PORT_MIN: Final = 1
PORT_MAX: Final = 65535

#: maxUnavailable as a percentage: 0% to 100%.
PERCENT_PATTERN: Final = r"^(100|[1-9]?[0-9])%$"

# Spec defaults (behaviour §2.1).
DEFAULT_REPLICAS: Final = 1
DEFAULT_BATCH_COUNT: Final = 1
DEFAULT_MAX_UNAVAILABLE: Final = "25%"
DEFAULT_PROGRESS_DEADLINE_SECONDS: Final = 600
DEFAULT_REVISION_HISTORY_LIMIT: Final = 10
PEER_REPLICAS: Final = -1  # ModuleDeployment.spec.replicas for peer mode

# Upper bounds of the numeric spec fields, enforced by the API server (OpenAPI maximum, CEL for
# int-or-string): a value the schema admits can neither overflow the controller's time
# arithmetic nor make it build a list of that length.
#: Seconds (gray time, minReadySeconds, progressDeadlineSeconds): int32, the range of
#: Kubernetes' own *Seconds fields; now + 2^31 s is the year 2094, far from datetime's limit.
MAX_SECONDS: Final = 2**31 - 1
#: Module instances of one ModuleDeployment or ModuleReplicaSet (10x the largest tested scale).
MAX_REPLICAS: Final = 100_000
#: Groups of a release (more groups than instances is never useful: min(batchCount, delta)).
MAX_BATCH_COUNT: Final = MAX_REPLICAS
#: Old ModuleReplicaSets kept for history.
MAX_REVISION_HISTORY_LIMIT: Final = 1_000


def module_label_key(module_name: str) -> str:
    """Label on a base pod while ``module_name`` is Available there; the module Service selects it."""
    return MODULE_LABEL_PREFIX + module_name


def module_service_name(module_name: str) -> str:
    """Name of the NodePort Service of a module (behaviour §2.7)."""
    return module_name + SERVICE_NAME_SUFFIX


def replicaset_name(module_deployment: str, revision: int) -> str:
    """Name of revision ``revision`` (1, 2, ...) of a ModuleDeployment (behaviour §1)."""
    return f"{module_deployment}{REPLICASET_NAME_INFIX}{revision}"


def module_generate_name(replicaset: str, module_name: str) -> str:
    """``metadata.generateName`` of a Module created by a ModuleReplicaSet (behaviour §1)."""
    return f"{replicaset}-{module_name}-"

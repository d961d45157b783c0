"""Decisions of the ModuleDeployment controller besides the release (pure).

Its revisions are ModuleReplicaSets, numbered by a label: the one of the template's module
name+version is made or brought up to date (:func:`revision_spec`, :func:`new_revision`), old
ones that hold nothing are pruned down to ``revisionHistoryLimit`` (:func:`to_prune`). A module
name on one base Deployment belongs to one ModuleDeployment (behaviour §2.8): the older one
(:func:`name_conflict`). Its own metadata (:func:`metadata_patch`) and its module Service
(:func:`service_body`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..api import ModuleDeployment
from ..api import constants as c
from ..api.objects import owner_reference
from ..api.common import ModuleTemplateSpec
from ..api.redact import redact_text
from .limits import SERVICE_TYPES
from .release import Strategy

Obj = dict[str, Any]

#: The finalizers a ModuleDeployment carries while it has revisions and instances.
FINALIZERS = (c.FINALIZER_MODULE_REPLICASET_EXISTED, c.FINALIZER_MODULE_EXISTED)


def revision_number(labels: Mapping[str, str], key: str) -> int:
    """The number in label ``key`` (0 for a missing or malformed one)."""
    try:
        return int(labels.get(key) or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class HeldRevision:
    """What pruning needs to know of one revision."""

    name: str
    number: int
    replicas: int
    deleting: bool
    has_instances: bool


def to_prune(revisions: Iterable[HeldRevision], current: str | None, limit: int) -> list[str]:
    """The revisions to delete: the oldest of those that hold nothing (no replicas asked, no
    instance left, not the current one), beyond the ``limit`` most recent of them."""
    idle = sorted((r for r in revisions if r.name != current and not r.deleting
                   and r.replicas == 0 and not r.has_instances), key=lambda r: r.number)
    return [r.name for r in idle[: max(0, len(idle) - limit)]]


@dataclass(frozen=True)
class Claim:
    """A ModuleDeployment's claim on a module name: the name's Service and pod label belong to
    one ModuleDeployment per namespace, whatever base Deployment each names."""

    deployment: str            # the ModuleDeployment's name
    created: str               # since when it claims the name (RFC 3339 sorts as text), below
    base: str                  # spec.baseDeploymentName
    module: str                # the module name of its template
    #: It holds the name: it has a revision of it, and ``created`` is that revision's
    #: creationTimestamp (set by the API server, so nobody can date a claim back, and kept
    #: across restarts). Without one, ``created`` is the ModuleDeployment's own and the claim
    #: ranks after every held one: renaming an old ModuleDeployment to a name in use takes
    #: nothing.
    held: bool = False


def name_conflict(mine: Claim, others: Iterable[Claim]) -> str | None:
    """Why ``mine`` may not have its module name (None: it may). The oldest claim wins (held
    first, then since when, then name); one that is going offline still holds the name until
    gone."""
    def rank(claim: Claim) -> tuple[bool, str, str]:
        return not claim.held, claim.created, claim.deployment

    for other in others:
        if other.deployment == mine.deployment:
            continue
        if other.module == mine.module and rank(other) < rank(mine):
            return (f"module {mine.module} already belongs to ModuleDeployment "
                    f"{other.deployment} (base {other.base}, claimed {other.created}): a module "
                    "name's Service and pod label belong to one ModuleDeployment per namespace")
    return None


def strategy(model: ModuleDeployment, desired: int) -> Strategy:
    """The release strategy of the spec, for ``desired`` instances."""
    ops = model.spec.operation_strategy
    return Strategy(
        batch_count=ops.batch_count, use_beta=ops.use_beta, need_confirm=ops.need_confirm,
        gray_seconds=ops.gray_time_between_batch_seconds,
        max_unavailable=ops.max_unavailable_count(max(desired, 0)), policy=ops.policy,
        deadline_seconds=model.spec.progress_deadline_seconds,
        rollback_on_failure=ops.rollback_on_failure)


def module_of(revision: Obj | None) -> str:
    """``name:version@url`` of a revision's module (what a give-up remembers), its url
    redacted."""
    module = (revision or {}).get("spec", {}).get("template", {}).get("spec", {}) \
        .get("module") or {}
    # Redacted here, as the status will store it (abortedModule), so that the two compare.
    return redact_text(f"{module.get('name')}:{module.get('version')}@{module.get('url')}")


def version_of(revision: Obj) -> str:
    """The module version of a revision's template."""
    module = revision.get("spec", {}).get("template", {}).get("spec", {}).get("module") or {}
    return str(module.get("version") or "")


def _owned_by(owner: Obj) -> list[Obj]:
    """The controller owner reference to the ModuleDeployment ``owner`` (a listed object may
    lack apiVersion and kind: they are this API's)."""
    return [owner_reference({**owner, "apiVersion": c.API_VERSION,
                             "kind": c.MODULE_DEPLOYMENT.kind})]


def _base_owner_reference(ref: Obj, base: str | None) -> bool:
    """The owner reference to the base Deployment ``base`` (spec.baseDeploymentName): earlier
    versions added one (not as controller), upstream's v1 controller one as controller
    (planning/adoption.py). Other Deployments a user made owners stay."""
    return (ref.get("apiVersion") == "apps/v1" and ref.get("kind") == "Deployment"
            and base is not None and ref.get("name") == base)


def metadata_patch(meta: Obj, base: str | None) -> Obj | None:
    """The patch of a ModuleDeployment's metadata (None: none needed): its finalizers, and no
    owner reference to its base Deployment ``base``. Earlier versions made the base Deployment
    an owner, so deleting the Deployment deleted the user's ModuleDeployment; it outlives its
    base now (BaseNotFound)."""
    finalizers = list(meta.get("finalizers") or [])
    missing = [f for f in FINALIZERS if f not in finalizers]
    patch: Obj = {}
    if missing:
        patch["finalizers"] = finalizers + missing
    refs = meta.get("ownerReferences") or []
    kept = [r for r in refs if not _base_owner_reference(r, base)]
    if kept != refs:
        patch["ownerReferences"] = kept
    if not patch:
        return None
    patch["resourceVersion"] = meta["resourceVersion"]  # a concurrent edit is never overwritten
    return patch


def finalizers_left(meta: Obj) -> list[str] | None:
    """The finalizers once this controller lets go (None: none of its own is there)."""
    now = meta.get("finalizers") or []
    left = [f for f in now if f not in FINALIZERS]
    return None if left == now else left


def revision_spec(model: ModuleDeployment, template: ModuleTemplateSpec, selector: Obj) -> Obj:
    """The spec of the revision for ``template``, all but ``replicas`` (the release's)."""
    spec = model.spec
    return {
        "selector": selector,
        "template": template.model_dump(by_alias=True, exclude_none=True),
        "operationStrategy": spec.operation_strategy.model_dump(by_alias=True, exclude_none=True),
        "schedulingStrategy": spec.scheduling_strategy.model_dump(by_alias=True,
                                                                  exclude_none=True),
        "minReadySeconds": spec.min_ready_seconds,
    }


def revision_update(revision: Obj, wanted: Obj, base: str) -> Obj | None:
    """The patch that brings an existing revision of the same module name+version (also a
    rollback to it) to ``wanted``, keeping its replica count; None: it is current. The base
    Deployment it places on follows spec.baseDeploymentName."""
    current = {k: revision["spec"].get(k) for k in wanted}
    named = (revision["metadata"].get("labels") or {}).get(c.LABEL_DEPLOYMENT_NAME)
    if current == wanted and named == base:
        return None
    return {"metadata": {"labels": {c.LABEL_DEPLOYMENT_NAME: base}},
            "spec": _merge_patch(current, wanted)}


def _merge_patch(current: Any, wanted: Any) -> Any:
    """The JSON merge patch from ``current`` to ``wanted``: keys ``wanted`` lacks are removed
    (null), so a field another writer left (upstream's ``targetPort: 0``) does not make every
    later comparison differ."""
    if not isinstance(current, dict) or not isinstance(wanted, dict):
        return wanted
    patch = {k: _merge_patch(current.get(k), v) for k, v in wanted.items()}
    patch.update({k: None for k in current if k not in wanted})
    return patch


def same_module(revision: Obj, name: str, version: str) -> bool:
    module = revision["spec"]["template"]["spec"]["module"]
    return (module["name"], module["version"]) == (name, version)


def new_revision(owner: Obj, model: ModuleDeployment, template: ModuleTemplateSpec,
                 wanted: Obj, number: int) -> Obj:
    """The ModuleReplicaSet of revision ``number``, with no replicas yet."""
    name = owner["metadata"]["name"]
    labels = {
        c.LABEL_MODULE_DEPLOYMENT: name,
        c.LABEL_MODULE_NAME: template.spec.module.name,
        c.LABEL_MODULE_REPLICASET_REVISION: str(number),
        c.LABEL_DEPLOYMENT_NAME: model.spec.base_deployment_name,
        c.LABEL_MODULE_SCHEDULING_STRATEGY: model.spec.scheduling_strategy.policy.value,
    }
    return {
        "apiVersion": c.API_VERSION, "kind": c.MODULE_REPLICA_SET.kind,
        "metadata": {"name": c.replicaset_name(name, number),
                     "namespace": owner["metadata"]["namespace"], "labels": labels,
                     "ownerReferences": _owned_by(owner)},
        "spec": {**wanted, "replicas": 0},
    }


def service_body(owner: Obj, model: ModuleDeployment, template: ModuleTemplateSpec,
                 service_type: str) -> Obj | None:
    """The module Service the ModuleDeployment asks for (None: none), of ``service_type``
    (a key of limits.SERVICE_TYPES)."""
    strategy = model.spec.operation_strategy.service_strategy
    if strategy is None or not strategy.enable_module_service:
        return None
    name = template.spec.module.name
    target = strategy.target_port if strategy.target_port is not None else strategy.port
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": c.module_service_name(name),
                     "namespace": owner["metadata"]["namespace"],
                     "labels": {c.LABEL_MODULE_DEPLOYMENT: owner["metadata"]["name"],
                                c.LABEL_MODULE_NAME: name},
                     "ownerReferences": _owned_by(owner)},
        "spec": {"type": SERVICE_TYPES[service_type],
                 "selector": {c.module_label_key(name): c.LABEL_TRUE},
                 "ports": [{"name": "http", "protocol": "TCP", "port": strategy.port,
                            "targetPort": target}]},
    }


def name_holder(claims: Iterable[Claim], module_name: str) -> str | None:
    """The ModuleDeployment that holds ``module_name`` among the namespace's ``claims`` (None:
    none claims it): the first claim of that name no other claim wins against."""
    rivals = [claim for claim in claims if claim.module == module_name]
    for claim in rivals:
        if name_conflict(claim, rivals) is None:
            return claim.deployment
    return None


def may_route(holder: str | None, release: str | None) -> bool:
    """A Module may carry the pod label of its module name's Service: it is an instance of the
    release (``release``: the ModuleDeployment it is an instance of, None: made by hand) that
    holds the name (``holder``), or nobody holds the name and it is no release's instance."""
    return release is None if holder is None else release == holder


def replacement_rank(labels: Mapping[str, str], update_revision: object | None,
                     created: str, name: str) -> tuple[bool, str, str]:
    """How two Modules of one name on one pod are ranked (the higher wins, see
    ``planning.module_lifecycle.supersedes``): the one of its release's update revision first
    (also on a rollback, where that revision is an older one), then the newer, then by name.
    ``update_revision``: its release's ``releaseStatus.updateRevision`` (None: no release)."""
    target = update_revision is not None and \
        labels.get(c.LABEL_MODULE_REPLICASET_REVISION) == str(update_revision)
    return target, created, name

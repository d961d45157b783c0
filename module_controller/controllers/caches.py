"""The watch caches and the typed read views over them that every reconciler and every watch
shares: which pods are bases, which Modules a release counts, who holds a module name.

The stores are filled by one path only, :class:`~.routes.Routes` (watch events, resyncs, and the
answers to our own writes through :class:`~.writer.Writer`); everything here only reads them.
The rules themselves are pure functions of ``planning`` (``base_pod_rules``, ``ownership``,
``moduledeployment_rules``); these views gather their inputs from the stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Mapping

from ..api import ModulePhase, constants as c, objects
from ..planning.adoption import module_adoption, status_unread
from ..planning.base_pod_rules import is_base_deployment, wants_removal
from ..planning.module_lifecycle import serving
from ..planning.ownership import controller_ref, owned_by
from ..planning.moduledeployment_rules import (Claim, may_route, name_holder,
                                               replacement_rank)
from ..runtime.store import Obj, Store, label_value, slim
from .preempt import DeletionSignals


def controller_name(api_version: str, kind: str) -> Callable[[Obj], str | None]:
    """An index by the name of the object's controller of ``api_version``/``kind``: a
    candidate only; :meth:`Caches.deployment_of` checks the uids."""
    def name(obj: Obj) -> str | None:
        ref = controller_ref(obj, api_version, kind)
        return ref.get("name") if ref else None
    return name


def deleting(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def labels_of(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


#: Store index and tally names (see the stores of :class:`Caches`).
OWNER_DEPLOYMENT = "owner-deployment"
OWNER_REPLICASET = "owner-replicaset"
OWNER_REVISION = "owner-revision"
APPS = "apps/v1"
BASE_DEPLOYMENT = "base-deployment"
BY_HAND = "by-hand"
REVISION_STATES = "revision-states"
POD_LOAD = "pod-load"
SERVING_PODS = "serving-pods"
UNREAD = "unread"  # Modules with another controller's status, per ModuleDeployment (adoption)

#: What a release counts of a revision's instances (:func:`instance_state`).
DELETING, SERVING, FAILED, OTHER = "deleting", "serving", "failed", "other"


def instance_state(module: Obj) -> str:
    """How a release counts the Module: being deleted, serving (Available for its current
    spec), Failed, or none of these."""
    if deleting(module):
        return DELETING
    if serving(module):
        return SERVING
    return FAILED if objects.phase(module) == ModulePhase.FAILED else OTHER


def serving_pod(module: Obj) -> str | None:
    """The pod a Module serves on (None: it does not serve). A ModuleDeployment's Available
    count is the number of distinct such pods: during an in-place upgrade the old and the new
    revision's Modules overlap on one pod for a moment, which is one instance, not two."""
    return labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME) \
        if instance_state(module) == SERVING else None


def _base_deployment_name(md: Obj) -> str | None:
    return (md.get("spec") or {}).get("baseDeploymentName")


def _by_hand(mrs: Obj) -> str | None:
    """Every ModuleReplicaSet without the deployment-name label, under one value ("")."""
    return None if c.LABEL_DEPLOYMENT_NAME in labels_of(mrs) else ""


def owner_revision_uid(module: Obj) -> str | None:
    """The uid of the ModuleReplicaSet that controls the Module (its controller owner
    reference, apiVersion and kind checked). Labels anyone with the right to create Modules can
    write; a release counts only the Modules its revisions own."""
    ref = controller_ref(module, c.API_VERSION, c.MODULE_REPLICA_SET.kind)
    return ref.get("uid") if ref else None


def module_store() -> Store:
    """The Module cache. Tallies: a release counts its revisions' instances and its serving
    pods, and the base Deployment its pods' Modules, on every wake; counted as Modules change,
    not by a walk over thousands. A revision's are grouped by the uid of the ModuleReplicaSet
    that owns them, never by label (docs/security.md)."""
    return Store("Module", index_labels=(
        c.LABEL_BASE_INSTANCE_NAME, c.LABEL_MODULE_REPLICASET, c.LABEL_MODULE_DEPLOYMENT),
        indexes={OWNER_REVISION: owner_revision_uid},
        tallies={REVISION_STATES: (owner_revision_uid, instance_state),
                 POD_LOAD: (label_value(c.LABEL_BASE_INSTANCE_NAME), deleting),
                 SERVING_PODS: (owner_revision_uid, serving_pod),
                 UNREAD: (label_value(c.LABEL_MODULE_DEPLOYMENT), status_unread)})


@dataclass
class Caches:
    """The cache of every watched kind, and the read views over them."""

    modules: Store = field(default_factory=module_store)
    # Revisions by ModuleDeployment, and by the base Deployment they place on (BY_HAND: made
    # without that label; their selectors decide).
    replicasets: Store = field(default_factory=lambda: Store(
        "ModuleReplicaSet", index_labels=(c.LABEL_MODULE_DEPLOYMENT, c.LABEL_DEPLOYMENT_NAME),
        indexes={BY_HAND: _by_hand}))
    # Readers use a pod's metadata and these status fields (pod_ready, pod_ip, not_ready_since):
    # the spec and container statuses are most of a pod's size (docs/performance.md). Indexed
    # by the ReplicaSet that owns them: a base's pods without a scan of every pod.
    pods: Store = field(default_factory=lambda: Store("Pod", trim=slim(
        drop=("spec",), status=("phase", "podIP", "conditions")),
        indexes={OWNER_REPLICASET: controller_name(APPS, "ReplicaSet")}))
    # The apps/v1 ReplicaSets between a base Deployment and its pods, metadata only: a pod is a
    # base only through this chain of uids (base_deployment_of).
    pod_replicasets: Store = field(default_factory=lambda: Store(
        "ReplicaSet", trim=slim(drop=("spec", "status")),
        indexes={OWNER_DEPLOYMENT: controller_name(APPS, "Deployment")}))
    deployments: Store = field(default_factory=lambda: Store("Deployment"))
    module_deployments: Store = field(default_factory=lambda: Store(
        "ModuleDeployment", indexes={BASE_DEPLOYMENT: _base_deployment_name}))
    templates: Store = field(default_factory=lambda: Store("ModuleTemplate"))
    #: What the watch saw being deleted, for the Arklet calls in flight (see preempt.py).
    deletions: DeletionSignals = field(default_factory=DeletionSignals)

    def store(self, kind: str) -> Store:
        """The cache of watched ``kind`` (its ``kind`` name, e.g. ``Pod``)."""
        for store in (self.modules, self.replicasets, self.pods, self.deployments,
                      self.module_deployments, self.templates, self.pod_replicasets):
            if store.kind == kind:
                return store
        raise KeyError(f"no cache of {kind}")

    # ----------------------------------------------------------------- bases

    def live_module_count(self, namespace: str, pod_name: str) -> int:
        """``len(modules_on_pod(...))`` from a tally, without building the list."""
        return self.modules.tally(POD_LOAD, namespace, pod_name)[False]

    def serving_pod_count(self, namespace: str, module_deployment: str) -> int:
        """How many pods serve the ModuleDeployment's module (:func:`serving_pod`), from the
        tallies of its own revisions, without a walk over its Modules."""
        pods: set[str] = set()
        for revision in self.revisions_of(namespace, module_deployment):
            pods.update(p for p in self.modules.tally(
                SERVING_PODS, namespace, revision["metadata"]["uid"]) if isinstance(p, str))
        return len(pods)

    # ----------------------------------------------------------------- ownership

    def revisions_of(self, namespace: str, module_deployment: str) -> list[Obj]:
        """The ModuleReplicaSets the ModuleDeployment owns: labelled with its name (an index)
        *and* controlled by its uid. A ModuleReplicaSet that only carries the label is not one."""
        owner = self.module_deployments.get(namespace, module_deployment)
        return [r for r in self.replicasets.by_label(namespace, c.LABEL_MODULE_DEPLOYMENT,
                                                     module_deployment)
                if owned_by(r, c.API_VERSION, c.MODULE_DEPLOYMENT.kind, owner)]

    def instances_of(self, revision: Obj) -> list[Obj]:
        """The Modules the ModuleReplicaSet owns (controller reference uid), whatever labels
        other Modules carry."""
        meta = revision["metadata"]
        return self.modules.by_index(OWNER_REVISION, meta["namespace"], meta.get("uid") or "")

    def revision_states(self, revision: Obj) -> Mapping[Hashable, int]:
        """Its instances by :func:`instance_state` (a tally, no walk)."""
        meta = revision["metadata"]
        return self.modules.tally(REVISION_STATES, meta["namespace"], meta.get("uid") or "")

    def release_of(self, module: Obj) -> Obj | None:
        """The ModuleDeployment whose release the Module is an instance of: its controller is
        a ModuleReplicaSet (uid) that the ModuleDeployment controls (uid). None for a Module
        made by hand, whatever release labels it carries."""
        meta = module["metadata"]
        namespace = meta.get("namespace") or ""
        revision = self.replicasets.get(namespace, (controller_ref(
            module, c.API_VERSION, c.MODULE_REPLICA_SET.kind) or {}).get("name") or "")
        if revision is None or not owned_by(module, c.API_VERSION, c.MODULE_REPLICA_SET.kind,
                                            revision):
            return None
        md = self.module_deployments.get(namespace, (controller_ref(
            revision, c.API_VERSION, c.MODULE_DEPLOYMENT.kind) or {}).get("name") or "")
        return md if owned_by(revision, c.API_VERSION, c.MODULE_DEPLOYMENT.kind, md) else None

    # ----------------------------------------------------------------- module name claims

    def module_name_of(self, md: Obj) -> str | None:
        """The module name of a ModuleDeployment's template, inline or by templateRef."""
        spec = md.get("spec") or {}
        template = spec.get("template")
        if template is None:
            ref = self.templates.get(md["metadata"].get("namespace") or "",
                                     (spec.get("templateRef") or {}).get("name") or "")
            template = (ref or {}).get("template")
        name = (((template or {}).get("spec") or {}).get("module") or {}).get("name")
        return name if isinstance(name, str) else None

    def claim_of(self, md: Obj, module_name: str) -> Claim:
        """Its claim on ``module_name``: held since its oldest revision of that name was
        created (planning.moduledeployment_rules.Claim)."""
        meta = md["metadata"]
        since = [r["metadata"].get("creationTimestamp") or ""
                 for r in self.revisions_of(meta.get("namespace") or "", meta["name"])
                 if ((((r.get("spec") or {}).get("template") or {}).get("spec") or {})
                     .get("module") or {}).get("name") == module_name]
        return Claim(deployment=meta["name"],
                     created=min(since) if since else meta.get("creationTimestamp") or "",
                     base=(md.get("spec") or {}).get("baseDeploymentName") or "",
                     module=module_name, held=bool(since))

    def module_name_claims(self, namespace: str) -> list[Claim]:
        return [self.claim_of(md, name) for md in self.module_deployments.list(namespace)
                if (name := self.module_name_of(md)) is not None]

    def name_holder(self, namespace: str, module_name: str) -> str | None:
        """The ModuleDeployment that holds ``module_name`` in the namespace (None: none
        claims it)."""
        return name_holder(self.module_name_claims(namespace), module_name)

    def may_route(self, module: Obj, module_name: str) -> bool:
        """The Module may carry the pod label that ``module_name``'s Service selects: it is an
        instance of the ModuleDeployment holding the name, or nobody holds the name."""
        release = self.release_of(module)
        return may_route(self.name_holder(module["metadata"].get("namespace") or "", module_name),
                         release["metadata"]["name"] if release is not None else None)

    def instance_of_release(self, module: Obj, module_deployment: str) -> bool:
        md = self.release_of(module)
        return md is not None and md["metadata"]["name"] == module_deployment

    def posing_as_instance(self, module: Obj) -> bool:
        """Carries a release's labels (module-replicaset) but is owned by no such revision:
        made by hand, or by someone who may create Modules, to be counted in another release."""
        name = labels_of(module).get(c.LABEL_MODULE_REPLICASET)
        if not name:
            return False
        revision = self.replicasets.get(module["metadata"].get("namespace") or "", name)
        return revision is not None and not owned_by(
            module, c.API_VERSION, c.MODULE_REPLICA_SET.kind, revision) and \
            module_adoption(module, revision) is None  # upstream's, about to be adopted

    def modules_on_pod(self, namespace: str, pod_name: str, *, include_deleting: bool = False
                       ) -> list[Obj]:
        return [m for m in self.modules.by_label(namespace, c.LABEL_BASE_INSTANCE_NAME, pod_name)
                if include_deleting or not deleting(m)]

    def deployment_of(self, pod: Obj) -> Obj | None:
        """The Deployment a pod belongs to: the pod's controller is an apps/v1 ReplicaSet (by
        uid) whose controller is that apps/v1 Deployment (by uid). Names, labels and
        pod-template-hash decide nothing: whoever may create pods can write them all."""
        namespace = pod["metadata"]["namespace"]
        ref = controller_ref(pod, APPS, "ReplicaSet")
        replicaset = self.pod_replicasets.get(namespace, ref["name"]) if ref else None
        if replicaset is None or not owned_by(pod, APPS, "ReplicaSet", replicaset):
            return None
        ref = controller_ref(replicaset, APPS, "Deployment")
        deployment = self.deployments.get(namespace, ref["name"]) if ref else None
        return deployment if owned_by(replicaset, APPS, "Deployment", deployment) else None

    def base_deployment_of(self, pod: Obj) -> Obj | None:
        """The base Deployment owning the pod (:meth:`deployment_of`), or None if the pod is not
        a base pod (the rule: :func:`planning.base_pod_rules.is_base_deployment`)."""
        deployment = self.deployment_of(pod)
        if deployment is None:
            return None
        namespace, name = pod["metadata"]["namespace"], deployment["metadata"]["name"]
        named = bool(self.module_deployments.count(BASE_DEPLOYMENT, namespace, name)
                     or self.replicasets.count(c.LABEL_DEPLOYMENT_NAME, namespace, name))
        template = (((deployment.get("spec") or {}).get("template") or {}).get("metadata")
                    or {}).get("labels") or {}
        unnamed = ((mrs.get("spec") or {}).get("selector")
                   for mrs in self.replicasets.by_index(BY_HAND, namespace, ""))
        return deployment if is_base_deployment(named, template, unnamed) else None

    def pods_of(self, namespace: str, deployment: str) -> list[Obj]:
        """The pods the Deployment named owns through its ReplicaSets, uids checked (indexes,
        no scan)."""
        owner = self.deployments.get(namespace, deployment)
        if owner is None:
            return []
        return [pod for rs in self.pod_replicasets.by_index(OWNER_DEPLOYMENT, namespace, deployment)
                if owned_by(rs, APPS, "Deployment", owner)
                for pod in self.pods.by_index(OWNER_REPLICASET, namespace, rs["metadata"]["name"])
                if owned_by(pod, APPS, "ReplicaSet", rs)]

    def ownership_pending(self, pod: Obj) -> bool:
        """The pod's controller is a ReplicaSet this process has not cached (yet): its watch
        event may come after the pod's. Nothing is taken off such a pod until it is known."""
        ref = controller_ref(pod, APPS, "ReplicaSet")
        return ref is not None and \
            self.pod_replicasets.get(pod["metadata"]["namespace"], ref["name"]) is None

    def deployment_name_of(self, pod: Obj) -> str | None:
        deployment = self.deployment_of(pod)
        return deployment["metadata"]["name"] if deployment is not None else None

    def retiring(self, pod: Obj) -> bool:
        """A base pod whose delete-pod label the controller acts on (see base_deployment_of)."""
        return wants_removal(pod) and self.base_deployment_of(pod) is not None

    def replacement_rank(self, module: Obj) -> tuple[bool, str, str]:
        """See :func:`planning.moduledeployment_rules.replacement_rank`."""
        md = self.release_of(module)
        update = ((md.get("status") or {}).get("releaseStatus") or {}).get("updateRevision") \
            if md is not None else None
        return replacement_rank(labels_of(module), update,
                                module["metadata"].get("creationTimestamp") or "",
                                module["metadata"]["name"])

"""Everything the reconcilers share: settings, API and Arklet I/O, event recorder, watch caches.

Also the read-side helpers that turn cached pods and Modules into planner inputs, so every
reconciler sees bases the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from dataclasses import dataclass, field
from typing import Callable, Hashable, Mapping

from ..api import ModulePhase, constants as c, objects
from ..arklet import ArkletClient, arklet_port
from ..kube.events import WARNING, EventRecorder, Summary
from ..kube.io import KubeIO
from ..planning import placement
from ..planning.adoption import module_adoption, status_unread
from ..planning.moduledeployment_rules import Claim, name_conflict
from ..planning.event_series import release_series
from ..planning.module_lifecycle import serving
from ..settings import Settings
from ..runtime.memo import Memo
from .listings import Listings
from .preempt import DeletionSignals
from .routes import DELETED, Change, Routes
from .wake import MODULES as MODULE_QUEUE, Wake
from ..runtime.store import Store, key_of, label_value, slim

log = logging.getLogger(__name__)


def pod_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    return any(cond.get("type") == "Ready" and cond.get("status") == "True"
               for cond in status.get("conditions") or [])


def not_ready_since(pod: dict) -> dt.datetime | None:
    """When the pod's Ready condition last changed, if it says NotReady (None: no such time)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            try:
                return objects.parse_time(cond.get("lastTransitionTime"))
            except ValueError:
                return None
    return None


def controller_ref(obj: dict, api_version: str, kind: str) -> dict | None:
    """The object's controller owner reference if it is of ``api_version``/``kind`` (None:
    it has no controller, or another kind controls it)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") is True:
            if ref.get("apiVersion") == api_version and ref.get("kind") == kind:
                return ref
            return None
    return None


def controller_name(api_version: str, kind: str) -> Callable[[dict], str | None]:
    """An index by the name of the object's controller of ``api_version``/``kind``: a
    candidate only; :meth:`Context.deployment_of` checks the uids."""
    def name(obj: dict) -> str | None:
        ref = controller_ref(obj, api_version, kind)
        return ref.get("name") if ref else None
    return name


def owned_by(obj: dict, ref_api: str, kind: str, owner: dict | None) -> bool:
    """``obj``'s controller owner reference points at ``owner`` itself: kind, name *and* uid.
    A reference anyone can write with a made-up uid names an object; only the uid says which."""
    ref = controller_ref(obj, ref_api, kind)
    return ref is not None and owner is not None and \
        ref.get("name") == owner["metadata"].get("name") and \
        bool(ref.get("uid")) and ref.get("uid") == owner["metadata"].get("uid")


def pod_ip(pod: dict) -> str | None:
    return (pod.get("status") or {}).get("podIP")


def deleting(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def labels_of(obj: dict) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def wants_removal(pod: dict) -> bool:
    """The pod carries delete-pod=true or delete-pod-directly=true (behaviour §6)."""
    labels = labels_of(pod)
    return c.LABEL_TRUE in (labels.get(c.LABEL_DELETE_POD), labels.get(c.LABEL_DELETE_POD_DIRECTLY))


def skip_uninstall(pod: dict | None) -> bool:
    """Modules on a pod labelled delete-pod-directly=true are dropped without asking Arklet."""
    return pod is not None and labels_of(pod).get(c.LABEL_DELETE_POD_DIRECTLY) == c.LABEL_TRUE


def news_in_answer(old: dict | None, new: dict) -> bool:
    """The answer to our own write shows a change this process did not make: a deletion that
    began, or a new spec (generation) since the copy we had.

    Such news arrives first with our answer, which is cached; its own watch event is then older
    than the cache and wakes nobody. Without this, an object deleted in the same instant as one
    of our status writes waited for a restart (its finalizer never removed).
    """
    if old is None:
        return False
    old_meta, new_meta = old.get("metadata", {}), new.get("metadata", {})
    return ((not old_meta.get("deletionTimestamp") and bool(new_meta.get("deletionTimestamp")))
            or old_meta.get("generation") != new_meta.get("generation"))


#: Store index and tally names (see the stores of :class:`Context`).
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


def instance_state(module: dict) -> str:
    """How a release counts the Module: being deleted, serving (Available for its current
    spec), Failed, or none of these."""
    if deleting(module):
        return DELETING
    if serving(module):
        return SERVING
    return FAILED if objects.phase(module) == ModulePhase.FAILED else OTHER


def serving_pod(module: dict) -> str | None:
    """The pod a Module serves on (None: it does not serve). A ModuleDeployment's Available
    count is the number of distinct such pods: during an in-place upgrade the old and the new
    revision's Modules overlap on one pod for a moment, which is one instance, not two."""
    return labels_of(module).get(c.LABEL_BASE_INSTANCE_NAME) \
        if instance_state(module) == SERVING else None


def _base_deployment_name(md: dict) -> str | None:
    return (md.get("spec") or {}).get("baseDeploymentName")


def _by_hand(mrs: dict) -> str | None:
    """Every ModuleReplicaSet without the deployment-name label, under one value ("")."""
    return None if c.LABEL_DEPLOYMENT_NAME in labels_of(mrs) else ""


def owner_revision_uid(module: dict) -> str | None:
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
class Context:
    settings: Settings
    kube: KubeIO
    arklet: ArkletClient
    events: EventRecorder
    modules: Store = field(default_factory=lambda: module_store())
    # Revisions by ModuleDeployment, and by the base Deployment they place on (BY_HAND: made
    # without that label; their selectors decide).
    replicasets: Store = field(default_factory=lambda: Store(
        "ModuleReplicaSet", index_labels=(c.LABEL_MODULE_DEPLOYMENT, c.LABEL_DEPLOYMENT_NAME),
        indexes={BY_HAND: _by_hand}))
    # Readers use a pod's metadata and these status fields (pod_ready, pod_ip, not_ready_since):
    # the spec and container statuses are most of a pod's size (issue 17, memory). Indexed by
    # the Deployment that owns them: a base's pods without a scan of every pod.
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
    _reported_capacity: Memo = field(default_factory=Memo)
    #: Queues keys for the reconcilers (the operator registers their work queues in it).
    wake: Wake = field(default_factory=Wake)
    #: What a change of each watched kind wakes (see routes.py); by default nothing (tests).
    routes: Routes | None = None
    #: Abandons a Module's Arklet call in flight when its deletion is seen (see preempt.py).
    deletions: DeletionSignals = field(default_factory=DeletionSignals)
    #: Listings the Module reconciles took, for the drift check; None while it does not run.
    listings: Listings | None = None
    _placement_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _pod_locks: weakref.WeakValueDictionary = field(default_factory=weakref.WeakValueDictionary)

    def pod_lock(self, namespace: str, pod_name: str) -> asyncio.Lock:
        """Held while a pod's module labels are computed and written (see ModuleReconciler).
        Kept only while somebody holds or waits for it."""
        lock = self._pod_locks.get((namespace, pod_name))
        if lock is None:
            lock = self._pod_locks[(namespace, pod_name)] = asyncio.Lock()
        return lock

    def __post_init__(self) -> None:
        if self.routes is None:
            self.routes = Routes(self.wake)
        if isinstance(self.events, EventRecorder):  # tests may leave Events out
            self.events.summarise = self.release_event_summary

    def release_event_summary(self, obj: dict, type_: str, reason: str, message: str
                              ) -> Summary | None:
        """A release's Modules tell their Normal transitions once per revision and group on
        their ModuleDeployment (planning.event_series); everything else stays on its object."""
        if obj.get("kind") != c.MODULE.kind:
            return None
        labels = labels_of(obj)
        md = self.release_of(obj)  # not by label: a Module made by hand tells on itself
        if md is None:
            return None
        series = release_series(type_, labels, objects.status_of(md).get("releaseStatus") or {})
        if series is None:
            return None
        target = {"apiVersion": md.get("apiVersion") or c.API_VERSION,
                  "kind": md.get("kind") or c.MODULE_DEPLOYMENT.kind, "metadata": md["metadata"]}
        return Summary(target, series)

    def store(self, kind: str) -> Store:
        """The cache of watched ``kind`` (its ``kind`` name, e.g. ``Pod``)."""
        for store in (self.modules, self.replicasets, self.pods, self.deployments,
                      self.module_deployments, self.templates, self.pod_replicasets):
            if store.kind == kind:
                return store
        raise KeyError(f"no cache of {kind}")

    def remember(self, kind: str, obj: dict, *, writer: str | None) -> None:
        """Write-through for an object of watched ``kind`` this process just wrote: cache the
        API server's answer and wake, at once, whatever the watch event of that write would
        wake (owners, the base, the users of a Deployment).

        The watch event comes later and is then recognised as an echo of a version already
        cached, and ignored: no round trip through the watch before the next step, and no
        second reconcile of the owners for one change. ``writer``: the queue of the reconciler
        that wrote it, which needs no second look, unless the answer carries news it did not
        make (:func:`news_in_answer`); None: the object's own reconciler must look too.
        """
        old, stored = self.store(kind).upsert(obj)
        if stored:
            self._routes.changed(self, kind, Change(old, obj),
                                 skip=None if news_in_answer(old, obj) else writer)

    def remember_module(self, obj: dict, *, wake_self: bool) -> None:
        """:meth:`remember` for a Module; ``wake_self``: another reconciler than the Module's
        changed it, so the Module's own reconciler must look too."""
        self.remember(c.MODULE.kind, obj, writer=None if wake_self else MODULE_QUEUE)

    def gone(self, kind: str, obj: dict) -> None:
        """``obj`` (of watched ``kind``) was seen deleted for good by this process (a finalizer
        removal answered so, a live read found nothing): forget it and wake its watchers now,
        as its DELETED event would; that event, if it ever comes, is then ignored. A watch that
        re-lists never reports such a deletion at all (runtime/resync.py)."""
        self._routes.event(self, kind, DELETED, obj)

    @property
    def _routes(self) -> Routes:
        assert self.routes is not None  # set in __post_init__
        return self.routes

    def remember_own(self, store: Store, obj: dict, wake: Callable[[tuple[str, str]], None]
                     ) -> None:
        """Cache the answer to a write of this process to ``obj``'s own kind; see
        :func:`news_in_answer` for when its reconciler is woken."""
        old, stored = store.upsert(obj)
        if stored and news_in_answer(old, obj):
            wake(key_of(obj))

    def placement_lock(self, namespace: str) -> asyncio.Lock:
        """Held from "choose bases" until the chosen Modules are written and cached.

        Reconcilers of different ModuleReplicaSets (and unbound Modules) run concurrently; without
        this, two of them could both see the same free slot on a base and overfill it.
        """
        lock = self._placement_locks.get(namespace)
        if lock is None:
            lock = self._placement_locks[namespace] = asyncio.Lock()
        return lock

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
                SERVING_PODS, namespace, revision["metadata"]["uid"]) if p is not None)
        return len(pods)

    # ----------------------------------------------------------------- ownership

    def revisions_of(self, namespace: str, module_deployment: str) -> list[dict]:
        """The ModuleReplicaSets the ModuleDeployment owns: labelled with its name (an index)
        *and* controlled by its uid. A ModuleReplicaSet that only carries the label is not one."""
        owner = self.module_deployments.get(namespace, module_deployment)
        return [r for r in self.replicasets.by_label(namespace, c.LABEL_MODULE_DEPLOYMENT,
                                                     module_deployment)
                if owned_by(r, c.API_VERSION, c.MODULE_DEPLOYMENT.kind, owner)]

    def instances_of(self, revision: dict) -> list[dict]:
        """The Modules the ModuleReplicaSet owns (controller reference uid), whatever labels
        other Modules carry."""
        meta = revision["metadata"]
        return self.modules.by_index(OWNER_REVISION, meta["namespace"], meta.get("uid") or "")

    def revision_states(self, revision: dict) -> Mapping[Hashable, int]:
        """Its instances by :func:`instance_state` (a tally, no walk)."""
        meta = revision["metadata"]
        return self.modules.tally(REVISION_STATES, meta["namespace"], meta.get("uid") or "")

    def release_of(self, module: dict) -> dict | None:
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

    def module_name_of(self, md: dict) -> str | None:
        """The module name of a ModuleDeployment's template, inline or by templateRef."""
        spec = md.get("spec") or {}
        template = spec.get("template")
        if template is None:
            ref = self.templates.get(md["metadata"].get("namespace") or "",
                                     (spec.get("templateRef") or {}).get("name") or "")
            template = (ref or {}).get("template")
        name = (((template or {}).get("spec") or {}).get("module") or {}).get("name")
        return name if isinstance(name, str) else None

    def claim_of(self, md: dict, module_name: str) -> Claim:
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
        claims = [cl for cl in self.module_name_claims(namespace) if cl.module == module_name]
        for claim in claims:
            if name_conflict(claim, claims) is None:
                return claim.deployment
        return None

    def may_route(self, module: dict, module_name: str) -> bool:
        """The Module may carry the pod label that ``module_name``'s Service selects: it is an
        instance of the ModuleDeployment holding the name, or nobody holds the name."""
        holder = self.name_holder(module["metadata"].get("namespace") or "", module_name)
        return self.release_of(module) is None if holder is None else \
            self.instance_of_release(module, holder)

    def instance_of_release(self, module: dict, module_deployment: str) -> bool:
        md = self.release_of(module)
        return md is not None and md["metadata"]["name"] == module_deployment

    def posing_as_instance(self, module: dict) -> bool:
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
                       ) -> list[dict]:
        return [m for m in self.modules.by_label(namespace, c.LABEL_BASE_INSTANCE_NAME, pod_name)
                if include_deleting or not deleting(m)]

    def deployment_of(self, pod: dict) -> dict | None:
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

    def base_deployment_of(self, pod: dict) -> dict | None:
        """The base Deployment owning the pod, or None if the pod is not a base pod.

        A base pod is owned, through its ReplicaSet, by a Deployment that a ModuleDeployment names
        (``spec.baseDeploymentName``) or a ModuleReplicaSet names (its deployment-name label, or,
        for one made by hand without that label, a non-empty selector that matches the
        Deployment's pod template). The delete-pod labels act on base pods only: the right to
        label a pod must not become the right to have the controller delete any pod.
        """
        deployment = self.deployment_of(pod)
        if deployment is None:
            return None
        namespace, name = pod["metadata"]["namespace"], deployment["metadata"]["name"]
        if self.module_deployments.count(BASE_DEPLOYMENT, namespace, name) or \
                self.replicasets.count(c.LABEL_DEPLOYMENT_NAME, namespace, name):
            return deployment
        template = (((deployment.get("spec") or {}).get("template") or {}).get("metadata")
                    or {}).get("labels") or {}
        for mrs in self.replicasets.by_index(BY_HAND, namespace, ""):
            selector = (mrs.get("spec") or {}).get("selector")
            if selector and placement.selector_matches(selector, template):
                return deployment
        return None

    def pods_of(self, namespace: str, deployment: str) -> list[dict]:
        """The pods the Deployment named owns through its ReplicaSets, uids checked (indexes,
        no scan)."""
        owner = self.deployments.get(namespace, deployment)
        if owner is None:
            return []
        return [pod for rs in self.pod_replicasets.by_index(OWNER_DEPLOYMENT, namespace, deployment)
                if owned_by(rs, APPS, "Deployment", owner)
                for pod in self.pods.by_index(OWNER_REPLICASET, namespace, rs["metadata"]["name"])
                if owned_by(pod, APPS, "ReplicaSet", rs)]

    def ownership_pending(self, pod: dict) -> bool:
        """The pod's controller is a ReplicaSet this process has not cached (yet): its watch
        event may come after the pod's. Nothing is taken off such a pod until it is known."""
        ref = controller_ref(pod, APPS, "ReplicaSet")
        return ref is not None and \
            self.pod_replicasets.get(pod["metadata"]["namespace"], ref["name"]) is None

    def deployment_name_of(self, pod: dict) -> str | None:
        deployment = self.deployment_of(pod)
        return deployment["metadata"]["name"] if deployment is not None else None

    def retiring(self, pod: dict) -> bool:
        """A base pod whose delete-pod label the controller acts on (see base_deployment_of)."""
        return wants_removal(pod) and self.base_deployment_of(pod) is not None

    def max_modules(self, pod: dict) -> int | None:
        deployment = self.deployment_of(pod)
        on_pod = labels_of(pod).get(c.LABEL_MAX_MODULE_COUNT)
        value, problem = placement.parse_max_module_count(
            on_pod, labels_of(deployment).get(c.LABEL_MAX_MODULE_COUNT) if deployment else None)
        if problem:
            # Reported on the object that carries the label (the pod's wins when it has one).
            if on_pod is None and deployment is not None:
                culprit = {**deployment, "apiVersion": deployment.get("apiVersion") or "apps/v1",
                           "kind": deployment.get("kind") or "Deployment"}
            else:
                culprit = pod
            marker = (culprit["metadata"]["namespace"], culprit["kind"] if "kind" in culprit
                      else "Pod", culprit["metadata"]["name"], problem)
            if self._reported_capacity.record(marker):  # once, not on every reconcile
                self.events.record(culprit, WARNING, "InvalidMaxModuleCount", problem)
        return value

    def base(self, pod: dict, replacing: tuple[str, str] | None = None) -> placement.Base:
        """``replacing`` = (ModuleDeployment, ModuleReplicaSet) placing new instances: names whose
        instances here are all of other revisions of that ModuleDeployment are replaceable."""
        meta = pod["metadata"]
        bound = self.modules_on_pod(meta["namespace"], meta["name"])
        owner = self.deployment_of(pod)
        replaceable: set[str] = set()
        if replacing is not None:
            by_name: dict[str, list[dict]] = {}
            for m in bound:
                by_name.setdefault(m["spec"]["module"]["name"], []).append(m)
            deployment, replicaset = replacing
            for name, ms in by_name.items():
                if all((self.release_of(m) or {}).get("metadata", {}).get("name") == deployment
                       and labels_of(m).get(c.LABEL_MODULE_REPLICASET) != replicaset for m in ms):
                    replaceable.add(name)
        return placement.Base(
            name=meta["name"],
            ip=pod_ip(pod),
            ready=pod_ready(pod),
            # A pod on its way out takes no new modules.
            deleting=deleting(pod) or wants_removal(pod),
            labels=labels_of(pod),
            module_count=len(bound),
            modules=frozenset(m["spec"]["module"]["name"] for m in bound),
            max_modules=self.max_modules(pod),
            replaceable=frozenset(replaceable),
            deployment=owner["metadata"]["name"] if owner else None,
        )

    def bases(self, namespace: str, replacing: tuple[str, str] | None = None,
              deployment: str | None = None) -> list[placement.Base]:
        """The pods of ``namespace`` as planner bases; only those of base Deployment
        ``deployment`` when one is named (placement takes no other: an index, not a scan)."""
        pods = self.pods.list(namespace) if deployment is None else \
            self.pods_of(namespace, deployment)
        return [self.base(p, replacing) for p in pods]

    def replacement_rank(self, module: dict) -> tuple[bool, str, str]:
        """See :func:`planning.module_lifecycle.supersedes`."""
        labels = labels_of(module)
        target = False
        md = self.release_of(module)
        if md is not None:
            update = ((md.get("status") or {}).get("releaseStatus") or {}).get("updateRevision")
            target = update is not None and labels.get(c.LABEL_MODULE_REPLICASET_REVISION) == str(update)
        return target, module["metadata"].get("creationTimestamp") or "", module["metadata"]["name"]

    def port_of(self, pod: dict) -> int:
        return arklet_port(pod["metadata"].get("annotations"), self.settings.arklet.port)

"""The controller's declarations: which kinds are watched, which reconcilers there are, and what
each reconciler watches (kubebuilder's ``SetupWithManager``, as data).

The operator (:mod:`.operator`) iterates these generically: it registers one kopf watch per
:data:`SOURCES` entry, primes and resyncs their caches, makes one work queue per
:data:`RECONCILERS` entry, and routes every change through the :class:`.routes.Watch` entries.
Adding a reconciler, or a kind one of them reads, is an entry here and a function in
:mod:`.watches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Protocol

from ..api import constants as c
from ..settings import Settings
from ..runtime.queue import Result
from ..runtime.store import Key, Obj, key_of
from . import watches as w
from . import wake
from .base_labels import BaseDeploymentCountsReconciler, BasePodReconciler
from ..planning.base_pod_rules import wants_removal
from .caches import Caches
from .context import Context
from .module import ModuleReconciler
from .moduledeployment import ModuleDeploymentReconciler
from .modulereplicaset import ReplicaSetReconciler
from .moduletemplate import TemplateUsageReconciler
from .routes import Change, Source, Watch

MODULE = c.MODULE.kind
REPLICASET = c.MODULE_REPLICA_SET.kind
MODULE_DEPLOYMENT = c.MODULE_DEPLOYMENT.kind
TEMPLATE = c.MODULE_TEMPLATE.kind
POD = "Pod"
DEPLOYMENT = "Deployment"
POD_REPLICASET = "ReplicaSet"  # apps/v1: links a base pod to its Deployment by uid


def _custom(kind: str, plural: str,
            observe: Callable[[Caches, Change], None] | None = None) -> Source:
    """One of our own kinds (group serverless.alipay.com)."""
    return Source(kind, c.GROUP, c.VERSION, plural,
                  lambda kube: lambda ns: kube.list(plural, ns), observe=observe)


SOURCES: tuple[Source, ...] = (
    _custom(MODULE, c.MODULE.plural, observe=w.preempt_deleted_module),
    _custom(REPLICASET, c.MODULE_REPLICA_SET.plural),
    _custom(MODULE_DEPLOYMENT, c.MODULE_DEPLOYMENT.plural),
    _custom(TEMPLATE, c.MODULE_TEMPLATE.plural),
    Source(POD, "", "v1", "pods", lambda kube: kube.list_pods, significant=w.pod_significant),
    Source(DEPLOYMENT, "apps", "v1", "deployments", lambda kube: kube.list_deployments),
    Source(POD_REPLICASET, "apps", "v1", "replicasets", lambda kube: kube.list_replicasets,
           significant=w.pod_replicaset_significant),
)


class Reconciler(Protocol):
    def reconcile(self, key: Key) -> Awaitable[Result | None]: ...


@dataclass(frozen=True)
class Reconciles:
    """One reconciler: its work queue, how it is made, its workers, what it watches, and which
    keys it looks at once the caches are primed (level-triggered: all of its kind, after every
    start)."""

    queue: str
    make: Callable[[Context], Reconciler]
    workers: Callable[[Settings], int]
    watches: tuple[Watch, ...]
    initial: Callable[[Caches], Iterable[Key]]


def _keys(objects: Iterable[Obj]) -> list[Key]:
    return [key_of(o) for o in objects]


def _module_reconciler(ctx: Context) -> ModuleReconciler:
    # Its status messages count the attempts: the queue knows the failures in a row.
    return ModuleReconciler(ctx, failures=lambda key: ctx.wake.failures(wake.MODULES, key))


#: A BaseDeployment look waits this long, so a burst of placements costs one label update.
LABEL_FOLD = 1.0

RECONCILERS: tuple[Reconciles, ...] = (
    Reconciles(
        wake.MODULE_DEPLOYMENTS, ModuleDeploymentReconciler, lambda s: 4,
        (Watch(MODULE_DEPLOYMENT, w.module_deployment_itself),
         Watch(REPLICASET, w.replicaset_owner_deployment),
         Watch(MODULE, w.module_owner_deployment),
         Watch(POD, w.pod_module_deployments),
         Watch(DEPLOYMENT, w.deployment_users),
         Watch(POD_REPLICASET, w.pod_replicaset_module_deployments),
         Watch(TEMPLATE, w.template_users)),
        lambda caches: _keys(caches.module_deployments.list())),
    Reconciles(
        wake.TEMPLATES, TemplateUsageReconciler, lambda s: 1,
        (Watch(TEMPLATE, w.template_itself),
         Watch(MODULE_DEPLOYMENT, w.module_deployment_templates)),
        lambda caches: _keys(caches.templates.list())),
    Reconciles(
        wake.MODULES, _module_reconciler, lambda s: s.module_workers,
        (Watch(MODULE, w.itself_when_meta_changed),
         Watch(MODULE, w.module_pod_siblings),
         Watch(POD, w.pod_modules),
         Watch(DEPLOYMENT, w.capacity_unbound_modules)),
        lambda caches: _keys(caches.modules.list())),
    Reconciles(
        wake.REPLICASETS, ReplicaSetReconciler, lambda s: 4,
        (Watch(REPLICASET, w.itself_when_meta_changed),
         Watch(MODULE, w.module_owner_replicaset),
         Watch(MODULE, w.module_freed_room),
         Watch(POD, w.pod_replicasets),
         Watch(POD_REPLICASET, w.pod_replicaset_replicasets),
         Watch(DEPLOYMENT, w.capacity_replicasets)),
        lambda caches: _keys(caches.replicasets.list())),
    Reconciles(
        wake.BASE_PODS, BasePodReconciler, lambda s: 2,
        (Watch(POD, w.pod_retirement),
         Watch(POD_REPLICASET, w.pod_replicaset_retirements),
         Watch(MODULE, w.module_base_pod)),
        lambda caches: _keys(caches.pods.list(where=wants_removal))),
    Reconciles(
        wake.BASE_DEPLOYMENTS, BaseDeploymentCountsReconciler, lambda s: 2,
        (Watch(DEPLOYMENT, w.deployment_itself, LABEL_FOLD),
         Watch(POD, w.pod_deployment, LABEL_FOLD),
         Watch(POD_REPLICASET, w.pod_replicaset_deployment, LABEL_FOLD),
         Watch(MODULE, w.module_base_deployment, LABEL_FOLD)),
        lambda caches: _keys(caches.deployments.list())),
)


def all_watches() -> list[tuple[str, Watch]]:
    """(queue, watch) for every watch of every reconciler."""
    return [(r.queue, watch) for r in RECONCILERS for watch in r.watches]

"""What a change wakes (controllers/watches.py through routes.py and wiring.py), on the real
caches and routing tables with recording queues: a pod wakes only what it can affect.

The dev-cluster proof of the same, counting reconciles, is test_operator_wakes.py.
"""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller.controllers import wake as q
from module_controller.controllers.caches import Caches
from module_controller.controllers.writer import Writer
from module_controller.controllers.routes import Routes
from module_controller.controllers.wake import Wake
from module_controller.controllers.wiring import RECONCILERS, SOURCES, all_watches

NS = "ns"


class Recorder:
    """Stands in for a work queue: records what it is asked to look at."""

    def __init__(self) -> None:
        self.keys: list[tuple[tuple[str, str], float]] = []

    def add(self, key: tuple[str, str], delay: float = 0.0) -> None:
        self.keys.append((key, delay))

    def failures(self, key: tuple[str, str]) -> int:
        return 0


class Wired:
    """The caches and the routing table as the operator wires them; what a writer's answer
    does is :meth:`Routes.answer`, what a watch event does :meth:`Routes.event`."""

    def __init__(self, wake: Wake) -> None:
        self.caches = Caches()
        self.routes = Routes(self.caches, wake, SOURCES, all_watches())
        self.writer = Writer(None, self.routes)  # type: ignore[arg-type]  # no API: gone() only


def world() -> tuple[Wired, dict[str, Recorder]]:
    wake = Wake()
    queues = {spec.queue: Recorder() for spec in RECONCILERS}
    for name, recorder in queues.items():
        wake.register(name, recorder)  # type: ignore[arg-type]
    return Wired(wake), queues


def woken(queues: dict[str, Recorder]) -> dict[str, set[str]]:
    """Names woken per queue (and forget them)."""
    out = {name: {key[1] for key, _ in r.keys} for name, r in queues.items() if r.keys}
    for r in queues.values():
        r.keys.clear()
    return out


def deployment(name: str, app: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "uid": name, "resourceVersion": "1"},
            "spec": {"selector": {"matchLabels": {"app": app}}}}


def pod(name: str, owner: str | None, app: str, *, ready: bool = True, rv: int = 1,
        extra: dict[str, str] | None = None) -> dict:
    meta: dict = {"name": name, "namespace": NS, "uid": name, "resourceVersion": str(rv),
                  "labels": {"app": app, **(extra or {})}}
    if owner is not None:
        meta["labels"]["pod-template-hash"] = "h1"
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": f"{owner}-h1", "uid": f"{owner}-h1",
                                    "controller": True}]
    status = {"phase": "Running", "podIP": f"10.0.0.{len(name)}",
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": meta, "status": status}


def pod_replicaset(deployment: str) -> dict:
    """The apps/v1 ReplicaSet that links the Deployment's pods to it (uids)."""
    return {"metadata": {"name": f"{deployment}-h1", "namespace": NS, "uid": f"{deployment}-h1",
                         "resourceVersion": "1",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": deployment, "uid": deployment,
                                              "controller": True}]}}


def module_deployment(name: str, base: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "uid": name, "resourceVersion": "1"},
            "spec": {"baseDeploymentName": base}}


def replicaset(name: str, md: str | None, base: str | None, app: str) -> dict:
    labels = {}
    if md:
        labels[c.LABEL_MODULE_DEPLOYMENT] = md
    if base:
        labels[c.LABEL_DEPLOYMENT_NAME] = base
    return {"metadata": {"name": name, "namespace": NS, "uid": name, "resourceVersion": "1",
                         "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": app}}}}


def module(name: str, *, on: str | None = None, mrs: str | None = None, md: str | None = None,
           app: str = "a", rv: int = 1, generation: int = 1, phase: str | None = None) -> dict:
    labels = {}
    if on:
        labels[c.LABEL_BASE_INSTANCE_NAME] = on
    if mrs:
        labels[c.LABEL_MODULE_REPLICASET] = mrs
    if md:
        labels[c.LABEL_MODULE_DEPLOYMENT] = md
    obj = {"metadata": {"name": name, "namespace": NS, "uid": name, "resourceVersion": str(rv),
                        "generation": generation, "labels": labels},
           "spec": {"selector": {"matchLabels": {"app": app}}}}
    if phase:
        obj["status"] = {"status": phase}
    return obj


def two_releases() -> tuple[Wired, dict[str, Recorder]]:
    """ModuleDeployments a and b on base Deployments base-a and base-b, one instance each, an
    unbound hand-made Module per app and a hand-made revision without a Deployment name."""
    ctx, queues = world()
    for obj in (deployment("base-a", "a"), deployment("base-b", "b")):
        ctx.caches.deployments.upsert(obj)
        ctx.caches.pod_replicasets.upsert(pod_replicaset(obj["metadata"]["name"]))
    for obj in (pod("a-1", "base-a", "a"), pod("b-1", "base-b", "b")):
        ctx.caches.pods.upsert(obj)
    for obj in (module_deployment("a", "base-a"), module_deployment("b", "base-b")):
        ctx.caches.module_deployments.upsert(obj)
    for obj in (replicaset("a-1", "a", "base-a", "a"), replicaset("b-1", "b", "base-b", "b"),
                replicaset("hand-a", None, None, "a"), replicaset("hand-b", None, None, "b")):
        ctx.caches.replicasets.upsert(obj)
    for obj in (module("ma", on="a-1", mrs="a-1", md="a"), module("mb", on="b-1", mrs="b-1", md="b"),
                module("loose-a", app="a"), module("loose-b", app="b")):
        ctx.caches.modules.upsert(obj)
    ctx.caches.templates.upsert({"metadata": {"name": "t", "namespace": NS, "uid": "t",
                                       "resourceVersion": "1"}})
    return ctx, queues


def test_a_pod_turning_not_ready_wakes_only_what_it_can_affect() -> None:
    ctx, queues = two_releases()
    ctx.routes.event("Pod", "MODIFIED", pod("a-1", "base-a", "a", ready=False, rv=2))
    assert woken(queues) == {
        q.MODULES: {"ma"},  # bound there; the unbound ones cannot use a NotReady pod
        q.REPLICASETS: {"a-1", "hand-a"},  # owns ma and names base-a; selector matches
        q.MODULE_DEPLOYMENTS: {"a"},  # owns ma; peer mode counts base-a's pods
        q.BASE_DEPLOYMENTS: {"base-a"},
    }


def test_a_new_ready_base_wakes_the_unbound_modules_it_may_take() -> None:
    ctx, queues = two_releases()
    ctx.routes.event("Pod", None, pod("a-2", "base-a", "a"))
    assert woken(queues) == {
        q.MODULES: {"loose-a"},
        q.REPLICASETS: {"a-1", "hand-a"},
        q.MODULE_DEPLOYMENTS: {"a"},
        q.BASE_DEPLOYMENTS: {"base-a"},
    }
    # Delays: the count labels of a Deployment fold a burst into one update.
    ctx.routes.event("Pod", None, pod("a-3", "base-a", "a"))
    assert (("ns", "base-a"), 1.0) in queues[q.BASE_DEPLOYMENTS].keys


def test_a_replicaset_arriving_after_its_pods_wakes_what_those_bases_wake() -> None:
    """A pod is a base only through its ReplicaSet's uid: a pod cached before its ReplicaSet is
    no base yet, and the ReplicaSet's arrival wakes what the new base would have woken."""
    ctx, queues = two_releases()
    late = pod_replicaset("base-a")
    late["metadata"].update(name="base-a-h2", uid="base-a-h2")
    newcomer = pod("a-2", "base-a", "a", extra={c.LABEL_DELETE_POD: "true"})
    newcomer["metadata"]["ownerReferences"][0].update(name="base-a-h2", uid="base-a-h2")
    ctx.caches.pods.upsert(newcomer)
    assert ctx.caches.deployment_of(newcomer) is None
    ctx.routes.event("ReplicaSet", None, late)
    assert ctx.caches.deployment_of(newcomer) is ctx.caches.deployments.get(NS, "base-a")
    assert woken(queues) == {
        q.REPLICASETS: {"a-1", "hand-a"},
        q.MODULE_DEPLOYMENTS: {"a"},
        q.BASE_PODS: {"a-2"},
        q.BASE_DEPLOYMENTS: {"base-a"},
    }
    # Its status counts change all the time: that wakes nobody.
    counted = {**late, "metadata": {**late["metadata"], "resourceVersion": "2"},
               "status": {"replicas": 2}}
    ctx.routes.event("ReplicaSet", "MODIFIED", counted)
    assert woken(queues) == {}


def test_a_relabelled_pod_wakes_the_selectors_it_left_and_the_ones_it_joined() -> None:
    ctx, queues = two_releases()
    ctx.routes.event("Pod", "MODIFIED", pod("a-1", "base-a", "b", rv=2))
    assert woken(queues)[q.REPLICASETS] == {"a-1", "hand-a", "hand-b"}


def test_a_deleted_base_pod_wakes_its_modules_their_owners_and_its_deployment() -> None:
    ctx, queues = two_releases()
    ctx.routes.event("Pod", "DELETED", pod("b-1", "base-b", "b", rv=2))
    assert ctx.caches.pods.get(NS, "b-1") is None
    assert woken(queues) == {
        q.MODULES: {"mb"},
        q.REPLICASETS: {"b-1", "hand-b"},
        q.MODULE_DEPLOYMENTS: {"b"},
        q.BASE_DEPLOYMENTS: {"base-b"},
    }


def test_a_deletion_seen_by_a_reconciler_is_routed_once() -> None:
    ctx, queues = two_releases()
    last = ctx.caches.pods.get(NS, "b-1")
    assert last is not None
    ctx.writer.gone("Pod", last)  # the Module reconciler's live read found no pod
    assert woken(queues)[q.MODULES] == {"mb"}
    ctx.routes.event("Pod", "DELETED", last)  # the watch says so later
    assert woken(queues) == {}


def test_our_own_pod_labels_wake_nobody() -> None:
    ctx, queues = two_releases()
    ctx.routes.event("Pod", "MODIFIED", pod(
        "a-1", "base-a", "a", rv=2, extra={f"{c.MODULE_LABEL_PREFIX}x": "true"}))
    assert woken(queues) == {}


def test_a_modules_own_status_write_wakes_its_owners_not_itself() -> None:
    ctx, queues = two_releases()
    ctx.routes.answer("Module", module("ma", on="a-1", mrs="a-1", md="a", rv=2,
                                       phase="Available"), skip=q.MODULES)
    assert woken(queues) == {q.REPLICASETS: {"a-1"}, q.MODULE_DEPLOYMENTS: {"a"}}
    # Another reconciler changed its spec: the Module's own reconciler looks too.
    ctx.routes.answer("Module", module("ma", on="a-1", mrs="a-1", md="a", rv=3, generation=2),
                      skip=None)
    assert woken(queues)[q.MODULES] == {"ma"}


def test_a_base_deployment_appearing_wakes_the_module_deployments_naming_it() -> None:
    ctx, queues = world()
    ctx.caches.module_deployments.upsert(module_deployment("a", "base-a"))
    ctx.caches.module_deployments.upsert(module_deployment("b", "base-b"))
    ctx.routes.event("Deployment", "ADDED", deployment("base-a", "a"))
    assert woken(queues) == {q.MODULE_DEPLOYMENTS: {"a"}, q.BASE_DEPLOYMENTS: {"base-a"}}


@pytest.mark.parametrize("kind", [s.kind for s in SOURCES])
def test_an_older_copy_or_an_echo_wakes_nobody(kind: str) -> None:
    ctx, queues = two_releases()
    store = ctx.caches.store(kind)
    current = next(iter(store.list()))
    ctx.routes.event(kind, "MODIFIED", current)
    assert woken(queues) == {}


def test_waking_a_queue_nobody_registered_is_a_wiring_bug() -> None:
    wake = Wake()
    with pytest.raises(KeyError):
        wake.module(("ns", "m"))
    wake.register(q.MODULES, Recorder())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        wake.register(q.MODULES, Recorder())  # type: ignore[arg-type]
    assert wake.failures(q.BASE_PODS, ("ns", "p")) == 0  # no queue: no failures to count


def test_our_own_count_labels_on_a_base_wake_the_module_deployments_on_it() -> None:
    """The answer to our write takes the watch event's path at once (its echo is then ignored):
    a release that advanced to a group whose instances were already there looks again."""
    ctx, queues = two_releases()
    labelled = deployment("base-a", "a")
    labelled["metadata"].update(resourceVersion="2", labels={
        c.LABEL_MAX_MODULE_INSTANCE_COUNT_ON_BASE: "1"})
    ctx.routes.answer("Deployment", labelled, skip=q.BASE_DEPLOYMENTS)
    assert woken(queues) == {q.MODULE_DEPLOYMENTS: {"a"}}
    ctx.routes.event("Deployment", "MODIFIED", labelled)  # the echo
    assert woken(queues) == {}


def test_a_capacity_change_wakes_only_what_waits_for_room_on_that_deployments_pods() -> None:
    """max-module-count on base-a: the revisions placing on base-a's pods (by name, or a hand-made
    one by selector) and the unbound Modules that may go there; nothing of base-b."""
    ctx, queues = two_releases()
    named_elsewhere = module("loose-a-on-b", app="a")
    named_elsewhere["metadata"]["labels"][c.LABEL_DEPLOYMENT_NAME] = "base-b"
    ctx.caches.modules.upsert(named_elsewhere)
    relabelled = deployment("base-a", "a")
    relabelled["metadata"].update(resourceVersion="2", labels={c.LABEL_MAX_MODULE_COUNT: "3"})
    ctx.routes.event("Deployment", "MODIFIED", relabelled)
    assert woken(queues) == {
        q.MODULES: {"loose-a"},  # not ma (bound), loose-b (selector), loose-a-on-b (named)
        q.REPLICASETS: {"a-1", "hand-a"},
        q.MODULE_DEPLOYMENTS: {"a"},  # names base-a (deployment_users: any change)
    }
    # A Deployment with no pod has no room to change: nobody waits on it.
    ctx.caches.deployments.upsert(deployment("empty", "a"))
    ctx.caches.pod_replicasets.upsert(pod_replicaset("empty"))
    emptied = deployment("empty", "a")
    emptied["metadata"].update(resourceVersion="2", labels={c.LABEL_MAX_MODULE_COUNT: "3"})
    ctx.routes.event("Deployment", "MODIFIED", emptied)
    assert q.MODULES not in woken(queues)


def test_a_module_leaving_a_pod_wakes_the_revisions_waiting_for_room_there() -> None:
    """Room freed on base-a (a Module deleted, or its deletion begun): besides its own revision,
    every revision that may place on base-a and waits for room looks again (short of replicas,
    or reporting ReplicaFailure); one that has all its replicas, or places on base-b, does not."""
    ctx, queues = two_releases()
    short = replicaset("short-a", "c", "base-a", "a")
    short["spec"]["replicas"] = 1
    failing = replicaset("hand-failing", None, None, "a")
    failing["status"] = {"conditions": [{"type": "ReplicaFailure", "status": "True",
                                         "reason": "InsufficientBases"}]}
    other = replicaset("short-b", "d", "base-b", "b")
    other["spec"]["replicas"] = 1
    full = replicaset("full-a", "e", "base-a", "a")
    full["spec"]["replicas"] = 1
    for obj in (short, failing, other, full):
        ctx.caches.replicasets.upsert(obj)
    full_instance = module("me", on="a-1", mrs="full-a", md="e")
    # Counted as full-a's instance by its controller reference (uid), not by its labels.
    full_instance["metadata"]["ownerReferences"] = [
        {"apiVersion": "serverless.alipay.com/v1alpha1", "kind": "ModuleReplicaSet",
         "name": "full-a", "uid": "full-a", "controller": True}]
    ctx.caches.modules.upsert(full_instance)

    going = module("ma", on="a-1", mrs="a-1", md="a", rv=3, phase="Available")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    ctx.routes.event("Module", "MODIFIED", going)
    assert woken(queues)[q.REPLICASETS] == {"a-1", "short-a", "hand-failing"}
    ctx.routes.event("Module", "DELETED", going)
    assert woken(queues)[q.REPLICASETS] == {"a-1", "short-a", "hand-failing"}


def test_a_status_change_of_a_module_wakes_only_its_own_revision() -> None:
    ctx, queues = two_releases()
    short = replicaset("short-a", "c", "base-a", "a")
    short["spec"]["replicas"] = 1
    ctx.caches.replicasets.upsert(short)
    ctx.routes.event("Module", "MODIFIED",
                     module("ma", on="a-1", mrs="a-1", md="a", rv=2, phase="Available"))
    assert woken(queues)[q.REPLICASETS] == {"a-1"}


def test_a_module_changing_on_a_pod_wakes_the_other_versions_of_its_module_there() -> None:
    """Another revision's Module placed on the same pod (by its ModuleReplicaSet) will
    deactivate the version of the one there when it installs (and taken off, leave it to switch
    back): that one looks at once, and as superseded looks again until it is settled."""
    ctx, queues = two_releases()
    old = module("ma", on="a-1", mrs="a-1", md="a", rv=2, phase="Available")
    old["spec"]["module"] = {"name": "provider", "version": "1.0.0"}
    ctx.caches.modules.upsert(old)
    new = module("ma2", on="a-1", mrs="a-2", md="a", rv=2, phase="Available")
    new["spec"]["module"] = {"name": "provider", "version": "2.0.0"}
    ctx.routes.answer("Module", new, skip=None)
    assert woken(queues)[q.MODULES] == {"ma", "ma2"}
    ctx.routes.answer("Module", {**new, "metadata": {
        **new["metadata"], "resourceVersion": "3", "deletionTimestamp": "2026-01-01T00:00:00Z"}},
        skip=None)
    assert "ma" in woken(queues)[q.MODULES]

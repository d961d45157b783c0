"""Which pods are base pods, i.e. which the delete-pod labels act on; pure,
on the controller's caches alone."""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller.controllers.context import Context

from helpers.wired import offline_context

NS = "ns"


def deployment(name: str, app: str) -> dict:
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": NS, "uid": name},
            "spec": {"selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}}}}}


def pod_replicaset(deployment: dict, template_hash: str = "abc12") -> dict:
    """The apps/v1 ReplicaSet between a Deployment and its pods (the uid chain)."""
    name = f"{deployment['metadata']['name']}-{template_hash}"
    return {"kind": "ReplicaSet", "metadata": {
        "name": name, "namespace": NS, "uid": f"{name}-uid",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "controller": True,
                             "name": deployment["metadata"]["name"],
                             "uid": deployment["metadata"]["uid"]}]}}


def pod(name: str, labels: dict[str, str], owner: str | None = None,
        template_hash: str = "abc12", rs_uid: str | None = None) -> dict:
    meta: dict = {"name": name, "namespace": NS, "uid": name,
                  "labels": {**labels, c.LABEL_DELETE_POD: "true"}}
    if owner is not None:
        meta["labels"]["pod-template-hash"] = template_hash
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": f"{owner}-{template_hash}",
                                    "uid": rs_uid or f"{owner}-{template_hash}-uid",
                                    "controller": True}]
    return {"kind": "Pod", "metadata": meta}


def replicaset(name: str, selector: dict | None, deployment_name: str | None = None) -> dict:
    labels = {c.LABEL_DEPLOYMENT_NAME: deployment_name} if deployment_name else {}
    return {"kind": "ModuleReplicaSet",
            "metadata": {"name": name, "namespace": NS, "uid": name, "labels": labels},
            "spec": {"selector": selector} if selector is not None else {}}


def module_deployment(name: str, base: str) -> dict:
    return {"kind": "ModuleDeployment", "metadata": {"name": name, "namespace": NS, "uid": name},
            "spec": {"baseDeploymentName": base}}


def context(*objects: dict) -> Context:
    ctx = offline_context()
    stores = {kind: ctx.caches.store(kind) for kind in (
        "Deployment", "Pod", "ModuleReplicaSet", "ModuleDeployment", "ReplicaSet")}
    for obj in objects:
        stores[obj["kind"]].upsert(obj)
        if obj["kind"] == "Deployment":
            ctx.caches.pod_replicasets.upsert(pod_replicaset(obj))
    return ctx


BASE = deployment("base", "dynamic-stock")
OTHER = deployment("other", "other")


@pytest.mark.parametrize("namer", [
    module_deployment("md", "base"),
    replicaset("rs", {"matchLabels": {"app": "x"}}, deployment_name="base"),
    replicaset("rs", {"matchLabels": {"app": "dynamic-stock"}}),  # made by hand, no label
], ids=["moduledeployment", "replicaset-label", "replicaset-selector"])
def test_pod_of_a_named_base_deployment_is_a_base_pod(namer: dict) -> None:
    base_pod = pod("b-1", {"app": "dynamic-stock"}, owner="base")
    ctx = context(BASE, OTHER, namer, base_pod)
    assert ctx.caches.base_deployment_of(base_pod) is ctx.caches.deployments.get(NS, "base")
    assert ctx.caches.retiring(base_pod)


@pytest.mark.parametrize("victim", [
    pod("bare", {"app": "dynamic-stock"}),  # carries the base labels, owned by nothing
    pod("o-1", {"app": "other"}, owner="other"),  # a Deployment nobody names
    pod("fake", {"app": "dynamic-stock"}, owner="base", template_hash=""),  # no template hash
    pod("gone", {"app": "dynamic-stock"}, owner="missing"),  # a Deployment not in the cache
    # Created by whoever may create pods: the real ReplicaSet's name, a made-up uid.
    pod("impostor", {"app": "dynamic-stock"}, owner="base", rs_uid="made-up"),
], ids=["bare", "other-deployment", "no-template-hash", "unknown-deployment", "forged-owner"])
def test_other_pods_are_not_base_pods(victim: dict) -> None:
    ctx = context(BASE, OTHER, module_deployment("md", "base"),
                  replicaset("rs", {"matchLabels": {"app": "dynamic-stock"}}), victim)
    assert ctx.caches.base_deployment_of(victim) is None
    assert not ctx.caches.retiring(victim)


def test_labelled_replicaset_names_only_its_deployment_and_empty_selector_names_none() -> None:
    other_pod = pod("o-1", {"app": "other"}, owner="other")
    # The label wins over the selector; an empty selector names nothing.
    ctx = context(BASE, OTHER, replicaset("a", {"matchLabels": {"app": "other"}}, "base"),
                  replicaset("b", {}), replicaset("c", None), other_pod)
    assert ctx.caches.base_deployment_of(other_pod) is None


def test_a_base_is_described_with_the_deployment_that_owns_it() -> None:
    mine, other, bare = (pod("b-1", {"app": "dynamic-stock"}, owner="base"),
                         pod("o-1", {"app": "dynamic-stock"}, owner="other"),
                         pod("bare", {"app": "dynamic-stock"}))
    ctx = context(BASE, OTHER, mine, other, bare)
    bases = ctx.placement
    assert [bases.base(p).deployment for p in (mine, other, bare)] == ["base", "other", None]
    # Ownership is a chain of uids through cached objects: a ReplicaSet the cache does not know
    # (yet) makes no base, and neither does a forged uid.
    unknown = pod("u-1", {"app": "dynamic-stock"}, owner="not-cached")
    forged = pod("f-1", {"app": "dynamic-stock"}, owner="base", rs_uid="made-up")
    assert bases.base(unknown).deployment is None and bases.base(forged).deployment is None
    assert not ctx.caches.ownership_pending(forged) and ctx.caches.ownership_pending(unknown)


def test_not_ready_since_reads_the_ready_condition() -> None:
    import datetime as dt

    from module_controller.planning.base_pod_rules import not_ready_since
    p = pod("b-1", {}, owner="base")
    p["status"] = {"conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T12:00:00Z"}]}
    assert not_ready_since(p) == dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    p["status"]["conditions"][0]["status"] = "True"
    assert not_ready_since(p) is None

"""Switching a live cluster from upstream's Go v1 controller to this one and back, on a dev
cluster of this folder's own (the CRDs are cluster-scoped), starting from the objects upstream's
controller left (data/): the takeover writes nothing to Arklet and keeps every Module, the
status converges to ours, and the next release goes on from there."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client

from module_controller.api import KINDS
from module_controller.api import constants as c
from module_controller.api.crdgen import build_crd
from module_controller_dev.devcluster import testing as kt
from module_controller.migrate.cluster import ESTABLISHED_TIMEOUT, Cluster
from module_controller.migrate.cli import _upstream_crds
from module_controller.migrate.pruning import pruned_fields

from helpers.arklet_log import bizzes_on, installs, log_marks, request_log
from helpers.bodies import url_of
from helpers.cluster import patch_md, wait_md
from helpers.controller import running_controller
from helpers.controller_args import FAST, MODULE_STEP, TAKEOVER
from migration_data import COMPLETED, PAUSED, UPSTREAM_CRDS
from upstream_world import migrate, upstream_world

pytestmark = pytest.mark.cluster  # and one xdist group: conftest.py

MD = "moduledeployment-sample-provider"
WRITES = ("installBiz", "uninstallBiz", "switchBiz")


@pytest.fixture
async def upstream_crds(own_cluster, own_api):
    """The cluster as upstream's controller runs on it: its CRDs (a test before may have
    switched them)."""
    await Cluster(own_api).apply_crds(_upstream_crds(UPSTREAM_CRDS))


async def arklet_writes(arklets, marks: dict[str, int]) -> list[dict]:
    out = []
    for ip, mark in marks.items():
        out += [r for r in await request_log(arklets, ip, since=mark) if r["command"] in WRITES]
    return out


async def modules(api, namespace: str) -> list[dict]:
    return await kt.list_modules(api, namespace)


def ours(generation_of_md: dict, progress: str, batch: int, revision: int, available: int):
    def check(md: dict | None) -> bool:
        status = (md or {}).get("status") or {}
        rs = status.get("releaseStatus") or {}
        return (rs.get("updateRevision") == revision and rs.get("progress") == progress
                and rs.get("currentBatch") == batch
                and status.get("observedGeneration") == md["metadata"]["generation"]
                and status.get("availableReplicas") == available
                and all("lastTransitionTime" in cond for cond in status.get("conditions") or []))
    return check


def adopted(mods: list[dict]) -> bool:
    return bool(mods) and all(
        any(r["kind"] == "ModuleReplicaSet" and r.get("controller")
            for r in m["metadata"].get("ownerReferences") or [])
        and (m.get("status") or {}).get("installedVersion") == m["spec"]["module"]["version"]
        for m in mods)


async def served_schema(api, name: str) -> dict:
    resp = await client.ApiextensionsV1Api(api).read_custom_resource_definition(
        name, _preload_content=False)
    return json.loads(await resp.read())["spec"]["versions"][0]["schema"]


def upstream_schema(name: str) -> dict:
    crd = next(x for x in _upstream_crds(UPSTREAM_CRDS) if x["metadata"]["name"] == name)
    return crd["spec"]["versions"][0]["schema"]


async def take_over(cluster, api, arklets, namespace: str, recording: str,
                    extra_conditions: tuple[dict, ...] = ()):
    """Upstream's objects in ``namespace``, then this project's CRDs applied: (world, the
    Arklet log marks taken after the bases got their modules, the Module uids)."""
    world = await upstream_world(api, namespace, recording, extra_conditions=extra_conditions)
    marks = await log_marks(arklets, world.ips)
    uids = {m["metadata"]["name"]: m["metadata"]["uid"] for m in world.modules}
    code, out = await migrate(cluster.kubeconfig, "crds")
    assert code == 0, out
    assert "stored objects read and are valid under this project's CRDs" in out, out
    assert "pruned by the switch: ModuleReplicaSet " in out and \
        "spec.template.spec.selector = {}" in out, out  # said before the switch, with values
    for model in KINDS:  # exactly this project's schema, nothing of upstream's left in it
        wanted = build_crd(model)
        schema = wanted["spec"]["versions"][0]["schema"]
        assert await served_schema(api, wanted["metadata"]["name"]) == schema
        # The API server drops what the list named from the stored objects as it serves them,
        # though none was written since the switch.
        for obj in await Cluster(api).list(model.crd.names.plural):
            assert pruned_fields(schema["openAPIV3Schema"], obj) == [], obj
    return world, marks, uids


async def test_takeover_of_a_completed_release_then_an_upgrade(
        own_cluster, own_api, own_arklets, own_namespace, upstream_crds, tmp_path):
    api, ns = own_api, own_namespace
    # A release of several groups leaves one Progressing condition per group; this
    # project's conditions are a map keyed by type.
    again = {"type": "Progressing", "status": "True", "message": "deployment release: "
             "curbatch 2, batchCount 2", "last_transition_time": "2026-12-07T19:48:37Z"}
    world, marks, uids = await take_over(own_cluster, api, own_arklets, ns, COMPLETED,
                                         extra_conditions=(again,))
    with running_controller(own_cluster, ns, tmp_path / "controller.log", FAST):
        md = await wait_md(api, ns, MD, ours(world.md, "Completed", 1, 1, 2),
                           "release Completed in this project's status", timeout=TAKEOVER)
        await kt.wait_for(lambda: modules(api, ns), adopted, timeout=TAKEOVER,
                          what="Modules adopted and read Available from the bases")
        assert await arklet_writes(own_arklets, marks) == []
        assert {m["metadata"]["name"]: m["metadata"]["uid"]
                for m in await modules(api, ns)} == uids
        assert sorted(x["type"] for x in md["status"]["conditions"]) == [
            "Available", "Progressing"]
        events = await kt.wait_for(
            lambda: kt.events_for(api, ns, MD),
            lambda evs: any(e.reason == "AdoptedFromUpstream" for e in evs), timeout=TAKEOVER,
            what="the Event telling the adoption")
        # (Events are best effort: this can only miss a restart, never invent one.)
        assert not [e for e in events if e.reason == "ReleaseExecuting"]
        assert not [r for r in md["metadata"].get("ownerReferences") or []
                    if r["kind"] == "Deployment"]
        assert set(md["metadata"]["finalizers"]) == {c.FINALIZER_MODULE_REPLICASET_EXISTED,
                                                     c.FINALIZER_MODULE_EXISTED}
        # The next release goes on from there.
        await patch_md(api, ns, MD, {"spec": {"template": {"spec": {"module": {
            "version": "2.0.0", "url": url_of("2.0.0")}}}}})
        await wait_md(api, ns, MD, ours(md, "Completed", 1, 2, 2), "upgrade to 2.0.0 Completed",
                      timeout=TAKEOVER + 2 * MODULE_STEP)
    running = [await bizzes_on(own_arklets, ip) for ip in world.ips]
    assert sorted(running) == [[], ["provider:2.0.0"], ["provider:2.0.0"]]


async def test_takeover_of_a_paused_release_stays_paused_then_completes(
        own_cluster, own_api, own_arklets, own_namespace, upstream_crds, tmp_path):
    api, ns = own_api, own_namespace
    world, marks, uids = await take_over(own_cluster, api, own_arklets, ns, PAUSED)
    with running_controller(own_cluster, ns, tmp_path / "controller.log", FAST):
        md = await wait_md(api, ns, MD, ours(world.md, "Paused", 1, 1, 1),
                           "release Paused at group 1 in this project's status",
                           timeout=TAKEOVER)
        await kt.wait_for(lambda: modules(api, ns), adopted, timeout=TAKEOVER,
                          what="the Module adopted and read Available from its base")
        assert md["spec"]["pause"] is True
        assert await arklet_writes(own_arklets, marks) == []
        mrs = await kt.get_custom(api, "modulereplicasets", ns, world.mrs["metadata"]["name"])
        assert mrs["spec"]["replicas"] == 1
        # The user confirms: group 2 goes on.
        await patch_md(api, ns, MD, {"spec": {"pause": False}})
        await wait_md(api, ns, MD, ours(md, "Completed", 2, 1, 2), "release Completed",
                      timeout=TAKEOVER + MODULE_STEP)
    after = await modules(api, ns)
    assert set(uids.items()) <= {(m["metadata"]["name"], m["metadata"]["uid"]) for m in after}
    log = [r for ip, mark in marks.items()
           for r in await request_log(own_arklets, ip, since=mark)]
    assert len(installs(log, "1.0.2")) == 1  # the second group's instance only


async def test_the_way_back_leaves_objects_upstream_accepts_and_the_way_forth_again(
        own_cluster, own_api, own_arklets, own_namespace, upstream_crds, tmp_path):
    api, ns = own_api, own_namespace
    world, marks, uids = await take_over(own_cluster, api, own_arklets, ns, COMPLETED)
    with running_controller(own_cluster, ns, tmp_path / "controller.log", FAST):
        await wait_md(api, ns, MD, ours(world.md, "Completed", 1, 1, 2), "taken over",
                      timeout=TAKEOVER)
        await kt.wait_for(lambda: modules(api, ns), adopted, timeout=TAKEOVER,
                          what="Modules adopted")
    code, out = await migrate(own_cluster.kubeconfig, "to-upstream",
                              "--upstream-crds", str(UPSTREAM_CRDS))
    assert code == 0, out  # it also checked each object against upstream's schema (dry run)
    assert await served_schema(api, "moduledeployments.serverless.alipay.com") == \
        upstream_schema("moduledeployments.serverless.alipay.com")  # upstream's CRD again
    md = await kt.get_deployment(api, ns, MD)
    refs = md["metadata"]["ownerReferences"]
    assert [(r["kind"], r["controller"]) for r in refs] == [("Deployment", True)]
    assert md["metadata"]["labels"]
    rs = md["status"]["releaseStatus"]
    assert "updateRevision" not in rs
    assert (rs["progress"], rs["currentBatch"], rs["realBatchCount"], rs["batchProgress"]) == (
        "Completed", 2, 1, "Completed")
    assert all("last_transition_time" in cond and "lastTransitionTime" not in cond
               for cond in md["status"]["conditions"])
    for module in await modules(api, ns):
        assert [(r["kind"], r["blockOwnerDeletion"])
                for r in module["metadata"]["ownerReferences"]] == [("Pod", True)]
        assert set(module["status"]) == {"status", "last_transition_time"}
        assert module["status"]["status"] == "Available"
    mrs = await kt.get_custom(api, "modulereplicasets", ns, world.mrs["metadata"]["name"])
    assert not isinstance(mrs["spec"]["operationStrategy"].get("maxUnavailable"), str)
    # And forth again: nothing runs differently on the bases.
    code, out = await migrate(own_cluster.kubeconfig, "crds")
    assert code == 0, out
    with running_controller(own_cluster, ns, tmp_path / "controller-2.log", FAST):
        await wait_md(api, ns, MD, ours(world.md, "Completed", 1, 1, 2), "taken over again",
                      timeout=TAKEOVER)
        await kt.wait_for(lambda: modules(api, ns), adopted, timeout=TAKEOVER,
                          what="Modules adopted again")
        assert await arklet_writes(own_arklets, marks) == []
        assert {m["metadata"]["name"]: m["metadata"]["uid"]
                for m in await modules(api, ns)} == uids


async def test_the_way_back_reports_a_refused_write_and_a_second_run_finishes_it(
        own_cluster, own_api, own_namespace, upstream_crds):
    """Once upstream's CRDs are back, one object the API server refuses to write (here a
    ValidatingAdmissionPolicy of the test's) does not stop the others: it is named, the command
    says to run it again, and a second run finishes the way back. (Before the test that leaves
    an object no switch accepts: the commands act on every namespace.)"""
    api, ns = own_api, own_namespace
    world = await upstream_world(api, ns, COMPLETED, base_count=2)
    code, out = await migrate(own_cluster.kubeconfig, "crds")
    assert code == 0, out
    victim, other = sorted(m["metadata"]["name"] for m in world.modules)
    admission = client.AdmissionregistrationV1Api(api)
    name = f"hold-{ns}"
    await admission.create_validating_admission_policy({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [{
            "apiGroups": [c.GROUP], "apiVersions": ["*"], "operations": ["UPDATE"],
            "resources": ["modules", "modules/status"]}]},
            "validations": [{"expression": f"object.metadata.name != '{victim}'",
                             "message": "held by the test"}]}})
    await admission.create_validating_admission_policy_binding({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}}})
    custom = client.CustomObjectsApi(api)
    recorded = world.modules[0]["status"]["last_transition_time"]

    async def since(module: str) -> str | None:
        return (await kt.get_custom(api, "modules", ns, module))["status"].get(
            "last_transition_time")

    async def refused() -> bool:
        try:
            await custom.patch_namespaced_custom_object(
                c.GROUP, c.VERSION, ns, "modules", victim, {"metadata": {"labels": {}}},
                dry_run="All", _content_type="application/merge-patch+json")
        except client.exceptions.ApiException as exc:
            return "held by the test" in str(exc.body)
        return False

    # The API server loads a policy as it loads a changed CRD: the migrate CLI's bound for that.
    try:
        await kt.wait_for(refused, bool, timeout=ESTABLISHED_TIMEOUT, what="the policy in force")
        code, out = await migrate(own_cluster.kubeconfig, "to-upstream",
                                  "--upstream-crds", str(UPSTREAM_CRDS))
        assert code == 1, out
        assert f"not rewritten: Module {ns}/{victim}" in out and "again" in out, out
        # Listed under this project's schema, the Modules had no last_transition_time (pruned):
        # each write gives one, dated now. The refused one still has upstream's own, kept in
        # etcd all along and served again under upstream's schema.
        assert await since(other) != recorded
        assert await since(victim) == recorded
    finally:
        await admission.delete_validating_admission_policy_binding(name)
        await admission.delete_validating_admission_policy(name)
    await kt.wait_for(refused, lambda held: not held, timeout=ESTABLISHED_TIMEOUT,
                      what="the policy gone")
    code, out = await migrate(own_cluster.kubeconfig, "to-upstream",
                              "--upstream-crds", str(UPSTREAM_CRDS))
    assert code == 0, out  # every object written, and valid under upstream's schema
    assert "not rewritten" not in out and await since(victim) == recorded


async def test_an_object_upstream_accepted_but_ours_cannot_read_is_named_field_and_value(
        own_cluster, own_api, own_namespace, upstream_crds, tmp_path):
    """Upstream's schema has no bounds on targetPort: such an object stops the switch (named),
    and switched anyway it reports InvalidSpec with the field and the value, not pydantic's
    '1 validation error'."""
    api, ns = own_api, own_namespace
    world = await upstream_world(api, ns, COMPLETED, base_count=2)
    strategy = {"spec": {"operationStrategy": {"serviceStrategy": {"targetPort": 70000}}}}
    await patch_md(api, ns, MD, strategy)
    mrs = world.mrs["metadata"]["name"]
    await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        c.GROUP, c.VERSION, ns, "modulereplicasets", mrs, strategy,
        _content_type="application/merge-patch+json")
    field = "spec.operationStrategy.serviceStrategy.targetPort: 70000"
    code, out = await migrate(own_cluster.kubeconfig, "crds")
    assert code == 1 and f"ModuleDeployment {ns}/{MD}: {field}" in out, out
    assert "nothing changed" in out
    code, out = await migrate(own_cluster.kubeconfig, "crds", "--force")
    assert code == 0 and "replaced the CRDs" in out and field in out, out

    def invalid(md: dict | None) -> bool:
        cond = next((x for x in ((md or {}).get("status") or {}).get("conditions") or []
                     if x["type"] == c.CONDITION_REPLICA_FAILURE), {})
        return cond.get("reason") == "InvalidSpec" and field in (cond.get("message") or "")

    with running_controller(own_cluster, ns, tmp_path / "controller.log", FAST):
        await wait_md(api, ns, MD, invalid, "ReplicaFailure InvalidSpec naming the field",
                      timeout=TAKEOVER)
        events = await kt.wait_for(
            lambda: kt.events_for(api, ns, MD),
            lambda evs: any(e.reason == "InvalidSpec" and field in e.message for e in evs),
            timeout=TAKEOVER, what="an InvalidSpec Event naming the field")
        assert not any("validation error" in (e.message or "") for e in events)
        await kt.wait_for(lambda: kt.get_custom(api, "modulereplicasets", ns, mrs), invalid,
                          timeout=TAKEOVER, what="the ModuleReplicaSet's ReplicaFailure")
    assert len(world.modules) == 2

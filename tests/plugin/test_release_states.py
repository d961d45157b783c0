"""Release states that never lie, driven as a user would (``kubectl apply`` and ``kubectl
module``) against the dev cluster and the real controller: an aborted version applied again is
released, an abort reads Aborted until the user acts (retry, undo to it, a new spec), Events are
those of this ModuleDeployment only, offline names the revision the bases run, ``--until-done``
stops at once on a refused spec, and a status written by hand is repaired, not trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.cluster import bases, live_modules, patch_md
from helpers.controller import running_controller
from helpers.controller_args import FAST
from test_plugin_cluster import (NAME, SAMPLE, kubectl_apply, status_json, until_done,
                                 upgraded_sample, wait_status, waiting)

pytestmark = pytest.mark.cluster


def sample(**ops) -> dict:
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["operationStrategy"].update(ops)
    return body


async def running(api, namespace: str) -> list[tuple[str, str, str]]:
    """(installed version, phase, revision) of every live Module, sorted."""
    return sorted((m["status"].get("installedVersion"), m["status"].get("status"),
                   m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET_REVISION])
                  for m in await live_modules(api, namespace))


def honest(data: dict) -> bool:
    """Never Completed for a version that is not what runs (the status's own claim)."""
    if data["progress"] == "Completed" and data["specObserved"]:
        assert data["runningVersion"] == data["version"], data
    return True


async def released_at_1(api, namespace, user) -> None:
    await bases(api, namespace, 3)
    kubectl_apply(user, SAMPLE.read_text())
    await wait_status(user, waiting, "1.0.2: group 2 waits")
    user.ok("promote", NAME)
    until_done(user)


async def aborted_at_2(api, namespace, user) -> dict:
    """1.0.2 completed; 2.0.0 aborted after its first group; back on 1.0.2, Aborted."""
    await released_at_1(api, namespace, user)
    kubectl_apply(user, upgraded_sample())
    await wait_status(user, lambda d: waiting(d) and d["updateRevision"] == 2,
                      "the 2.0.0 release waits after group 1")
    out = user.ok("abort", NAME)
    assert f"wrote {c.ANNOTATION_ABORT_REVISION}=2" in out, out
    data = await wait_status(user, lambda d: honest(d) and d["progress"] == "Aborted",
                             "back on revision 1, Aborted")
    assert await running(api, namespace) == [("1.0.2", "Available", "1")] * 2
    return data


async def test_abort_reads_aborted_until_the_user_acts(api, namespace, controller, user):
    """B2: after an abort the columns and the status say Aborted, not the spec's version
    Completed; ``undo --to-revision`` of the given-up revision is a retry."""
    data = await aborted_at_2(api, namespace, user)
    assert data["version"] == "2.0.0" and data["runningVersion"] == "1.0.2"
    assert "revision 2 (2.0.0) aborted; revision 1 (1.0.2) runs" in data["givenUp"]
    row = user.shell(f"kubectl get mddeploy {NAME} --no-headers").out.split()
    assert row[:6] == [NAME, "provider", "1.0.2", "2", "2", "Aborted"], row
    table = user.ok("status", NAME)
    assert "ABORTED:" in table and f"kubectl module retry {NAME}" in table, table
    ran = user.plugin("status", NAME, "--watch", "--until-done", "--timeout", "60")
    assert ran.code == 1 and "will not complete until you act" in ran.err, ran

    out = user.ok("undo", NAME, "--to-revision", "2")
    assert "(asks the controller to release it again)" in out, out
    await wait_status(user, lambda d: honest(d) and waiting(d) and d["updateRevision"] == 2,
                      "2.0.0 released again, waits after group 1")
    user.ok("promote", NAME)
    until_done(user)
    assert await running(api, namespace) == [("2.0.0", "Available", "2")] * 2
    md = await kt.get_deployment(api, namespace, NAME)
    assert c.ANNOTATION_RETRY_REVISION not in (md["metadata"].get("annotations") or {})
    rolled = next(x for x in md["status"]["conditions"] if x["type"] == "RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "Retried"), rolled


async def test_retry_releases_the_aborted_revision_and_a_stale_one_is_refused(
        api, namespace, controller, user):
    await aborted_at_2(api, namespace, user)
    out = user.ok("retry", NAME)
    assert "asks the controller to release revision 2" in out and "then: " in out, out
    await wait_status(user, lambda d: honest(d) and waiting(d) and d["updateRevision"] == 2,
                      "2.0.0 released again, waits after group 1")
    assert user.ok("retry", NAME).strip().endswith("nothing to retry")
    await patch_md(api, namespace, NAME, {"metadata": {"annotations": {
        c.ANNOTATION_RETRY_REVISION: "7"}}})

    async def refused():
        return [e.message for e in await kt.events_for(api, namespace, NAME)
                if e.reason == "RetryRefused"]
    assert "no release is given up" in (await kt.wait_for(refused, bool, timeout=60,
                                                          what="RetryRefused"))[0]


async def test_aborted_version_applied_again_after_an_undo_is_released(
        api, namespace, dev_cluster, user, tmp_path: Path):
    """B1: abort 2.0.0, undo to revision 1, apply 2.0.0 again, the controller seeing neither
    write apart (it is down meanwhile): 2.0.0 is released, never Completed on revision 1."""
    with running_controller(dev_cluster, namespace, tmp_path / "controller-1.log", FAST):
        await aborted_at_2(api, namespace, user)
    assert "wrote the template of revision 1" in user.ok("undo", NAME, "--to-revision", "1",
                                                  "--wait", "0")
    kubectl_apply(user, upgraded_sample())
    with running_controller(dev_cluster, namespace, tmp_path / "controller-2.log", FAST):
        data = await wait_status(
            user, lambda d: honest(d) and waiting(d) and d["updateRevision"] == 2,
            "2.0.0 released again after the undo, waits after group 1")
        assert data["givenUp"] is None
        user.ok("promote", NAME)
        until_done(user)
        assert await running(api, namespace) == [("2.0.0", "Available", "2")] * 2
        data = await status_json(user)
        assert (data["progress"], data["runningVersion"]) == ("Completed", "2.0.0")


async def test_events_are_those_of_this_moduledeployment_not_an_earlier_one(
        api, namespace, controller, user):
    """B3: a ModuleDeployment deleted and made again under the same name: status shows the
    Events of the new one only."""
    await bases(api, namespace, 3)
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False)))
    until_done(user)
    user.shell(f"kubectl delete mddeploy {NAME} --wait=true --timeout=120s")
    assert await kt.wait_for(lambda: kt.get_deployment(api, namespace, NAME), lambda m: m is None,
                             timeout=120, what="the first ModuleDeployment gone") is None
    body = yaml.safe_load(upgraded_sample())
    body["spec"]["operationStrategy"]["needConfirm"] = False
    kubectl_apply(user, yaml.safe_dump(body))
    until_done(user)
    data = json.loads(user.ok("status", NAME, "--events", "100", "-o", "json"))
    created = [e["message"] for e in data["events"] if e["reason"] == "RevisionCreated"]
    assert created == ["revision 1: provider:2.0.0"], data["events"]


async def test_offline_after_an_undo_names_the_revision_the_bases_run(
        api, namespace, controller, user):
    """B4: deleted after an undo to revision 1, the offline release names revision 1."""
    await bases(api, namespace, 3)
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False)))
    until_done(user)
    body = yaml.safe_load(upgraded_sample())
    body["spec"]["operationStrategy"]["needConfirm"] = False
    kubectl_apply(user, yaml.safe_dump(body))
    await wait_status(user, lambda d: d["progress"] == "Completed" and d["updateRevision"] == 2
                      and d["specObserved"], "2.0.0 completed")
    user.ok("undo", NAME, "--to-revision", "1")
    await wait_status(user, lambda d: d["progress"] == "Completed" and d["updateRevision"] == 1
                      and d["specObserved"], "back on 1.0.2, completed")
    # Offline waits at its confirmation point, so its status can be read there.
    await patch_md(api, namespace, NAME, {"spec": {"operationStrategy": {"needConfirm": True}}})
    await wait_status(user, lambda d: d["specObserved"], "needConfirm observed")
    await client.CustomObjectsApi(api).delete_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, c.MODULE_DEPLOYMENT.plural, NAME)
    data = await wait_status(user, lambda d: d["progress"] in ("Paused", "Terminating")
                             and d["desired"] == 0, "offline under way")
    assert data["updateRevision"] == 1, data
    assert await running(api, namespace) in ([("1.0.2", "Available", "1")],
                                             [("1.0.2", "Available", "1")] * 2)


async def test_until_done_stops_at_once_on_a_refused_spec(api, namespace, controller, user):
    await bases(api, namespace, 2)
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False)))
    until_done(user)
    other = sample(needConfirm=False)
    other["metadata"]["name"] = "second"
    kubectl_apply(user, yaml.safe_dump(other))
    ran = user.plugin("status", "second", "--watch", "--until-done", "--timeout", "60")
    assert ran.code == 1, ran
    assert "will not complete until you act" in ran.err and "ModuleNameConflict" in ran.err, ran


async def test_a_hand_written_status_is_repaired_and_the_next_spec_released(
        api, namespace, controller, user):
    """A status patched by hand to an impossible state (Terminated, not deleted): the next spec
    is still observed and released, an Event says the status was repaired, deletion completes."""
    await bases(api, namespace, 3)
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False)))
    until_done(user)
    await client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        c.GROUP, c.VERSION, namespace, c.MODULE_DEPLOYMENT.plural, NAME,
        {"status": {"releaseStatus": {"progress": "Terminated", "currentBatch": 1,
                                      "realBatchCount": 1, "originalDeltaReplicas": -2}}},
        _content_type="application/merge-patch+json")
    body = yaml.safe_load(upgraded_sample())
    body["spec"]["operationStrategy"]["needConfirm"] = False
    kubectl_apply(user, yaml.safe_dump(body))
    data = await wait_status(user, lambda d: honest(d) and d["progress"] == "Completed"
                             and d["specObserved"] and d["updateRevision"] == 2,
                             "2.0.0 released after the repair")
    assert data["runningVersion"] == "2.0.0"
    assert await running(api, namespace) == [("2.0.0", "Available", "2")] * 2

    async def repaired():
        return [e.message for e in await kt.events_for(api, namespace, NAME)
                if e.reason == "StatusRepaired"]
    assert "Terminated" in (await kt.wait_for(repaired, bool, timeout=60,
                                              what="StatusRepaired"))[0]
    await client.CustomObjectsApi(api).delete_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, c.MODULE_DEPLOYMENT.plural, NAME)
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, NAME), lambda m: m is None,
                      timeout=120, what="the ModuleDeployment deleted")

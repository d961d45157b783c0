"""``kubectl module`` against the dev cluster and the real controller: the seed flow driven only by
the plugin (and ``kubectl apply``), the JSON output against the table, kubectl finding the plugin
on PATH, errors and exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import Kubectl

from helpers.cluster import bases

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "samples" / "seed003_moduledeployment.yaml"
NAME = "moduledeployment-sample"
URL_2 = "http://repo.example/provider-2.0.0-ark-biz.jar"


def upgraded_sample() -> str:
    """The seed sample at 2.0.0: version and url change together (the jar names the version)."""
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["template"]["spec"]["module"].update(version="2.0.0", url=URL_2)
    return yaml.safe_dump(body)


async def status_json(user) -> dict:
    ran = await asyncio.to_thread(user.plugin, "status", NAME, "-o", "json")
    assert ran.code == 0, ran.err
    return json.loads(ran.out)


async def wait_status(user, check, what: str, timeout: float = 90.0) -> dict:
    return await kt.wait_for(lambda: status_json(user), check, timeout=timeout, interval=0.3,
                             what=f"kubectl module status {NAME}: {what}")


def waiting(data: dict) -> bool:
    return data["waitingGroup"] is not None


def until_done(user) -> str:
    return user.ok("status", NAME, "--watch", "--until-done", "--interval", "0.3",
                   "--timeout", "120", timeout=180)


def kubectl_apply(user, text: str) -> None:
    """``kubectl apply -f -`` as the user (the kubeconfig's context names the namespace)."""
    Kubectl(user.kubeconfig).run("apply", "-f", "-", input=text)


async def test_seed_flow_driven_by_the_plugin(api, namespace, controller, user):
    await bases(api, namespace, 3)
    kubectl_apply(user, SAMPLE.read_text())

    # Group 1 done, group 2 waits; the table says what to do.
    data = await wait_status(user, waiting, "group 2 waits for confirmation")
    assert data["waitingGroup"] == 2 and data["progress"] == "Paused"
    assert [(g["number"], g["size"], g["state"]) for g in data["groups"]] == [
        (1, 1, "done"), (2, 1, "waiting-for-confirmation")]
    table = user.ok("status", NAME)
    assert f"group 2 of 2 waits for confirmation: kubectl module promote {NAME}" in table
    # The wide table carries the JSON's facts: every instance with its pod, IP, versions, phase.
    table = user.ok("status", NAME, "-o", "wide")
    data = await status_json(user)
    if data["waitingGroup"] == 2:  # (nothing moves while it waits)
        for inst in data["instances"]:
            assert any(line.split()[:5] + line.split()[6:8] == [
                inst["name"], str(inst["revision"]), inst["version"], inst["phase"],
                inst["baseIp"], inst["installedVersion"], inst["basePod"]]
                       for line in table.splitlines()), (inst, table)
        for group in data["groups"]:
            assert any(line.split()[:3] == [str(group["number"]), str(group["size"]), group["state"]]
                       for line in table.splitlines()), (group, table)
        for rev in data["revisions"]:
            assert any(line.split()[:3] == [str(rev["revision"]), ",".join(rev["roles"]),
                                            rev["version"]] for line in table.splitlines())
    assert len(data["instances"]) == 1 and data["instances"][0]["installedVersion"] == "1.0.2"
    assert {e["reason"] for e in data["events"]} >= {"RevisionCreated"}

    # promote confirms exactly group 1's pause; a second promote changes nothing.
    out = user.ok("promote", NAME)
    assert out.startswith(f"moduledeployment {NAME}: wrote spec.confirmBatchNum=1 (confirms the "
                          "pause after group 1 of 2: group 2 may start)\nthen: "), out
    again = user.ok("promote", NAME, "-o", "json")
    assert json.loads(again)["changed"] is False
    done = until_done(user)
    assert "release completed: nothing to do" in done
    data = await status_json(user)
    assert data["progress"] == "Completed" and data["available"] == 2
    assert user.ok("promote", NAME).strip().endswith("nothing to promote")

    # Upgrade to 2.0.0 with kubectl apply; the plugin confirms its pause too.
    kubectl_apply(user, upgraded_sample())
    data = await wait_status(user, lambda d: waiting(d) and d["updateRevision"] == 2,
                             "the 2.0.0 release waits after group 1")
    roles = {r["revision"]: r["roles"] for r in data["revisions"]}
    assert roles == {2: ["update"], 1: ["stable"]}
    user.ok("promote", NAME)
    until_done(user)
    modules = await kt.list_modules(api, namespace)
    assert sorted((m["status"].get("installedVersion"), m["status"].get("status"))
                  for m in modules) == [("2.0.0", "Available")] * 2

    # history: two revisions, the current one completed.
    history = json.loads(user.ok("history", NAME, "-o", "json"))["revisions"]
    assert [(r["revision"], r["version"], r["url"], r["current"], r["completed"])
            for r in history] == [(1, "1.0.2", yaml.safe_load(SAMPLE.read_text())["spec"][
                "template"]["spec"]["module"]["url"], False, None),
                                  (2, "2.0.0", URL_2, True, True)]
    table = user.ok("history", NAME)
    assert [line.split()[:3] for line in table.splitlines()[1:]] == [
        ["1", "provider", "1.0.2"], ["2", "provider", "2.0.0"]]

    # undo goes back to revision 1 (1.0.2), released in groups with confirmation again.
    out = user.ok("undo", NAME)
    assert f"{NAME}: wrote the template of revision 1 (provider:1.0.2) into the spec" in out
    assert "rolled back" not in out
    await wait_status(user, lambda d: waiting(d) and d["updateRevision"] == 1,
                      "the rollback waits after group 1")
    user.ok("promote", NAME)
    until_done(user)
    modules = await kt.list_modules(api, namespace)
    assert sorted((m["status"].get("installedVersion"), m["status"].get("status"),
                   m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET_REVISION])
                  for m in modules) == [("1.0.2", "Available", "1")] * 2
    assert user.ok("undo", NAME, "--to-revision", "1").strip().endswith("nothing to undo")

    # The per-base view, by IP and by pod name.
    module = modules[0]
    ip = module["metadata"]["labels"][c.LABEL_BASE_INSTANCE_IP]
    pod = module["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME]
    for base in (ip, pod):
        rows = json.loads(user.ok("get", "modules", "--base", base, "-o", "json"))["items"]
        assert [(r["name"], r["installedVersion"], r["phase"], r["basePod"], r["baseIp"])
                for r in rows] == [(module["metadata"]["name"], "1.0.2", "Available", pod, ip)]


async def test_pause_resume_and_kubectl_finds_the_plugin(api, namespace, controller, user):
    await bases(api, namespace, 3)
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["operationStrategy"]["needConfirm"] = False
    body["spec"]["pause"] = True  # paused before it starts: group 1 runs, then it stops
    kubectl_apply(user, yaml.safe_dump(body))
    data = await wait_status(user, waiting, "paused after group 1")
    assert data["pause"] is True
    # kubectl itself finds kubectl-module on PATH.
    ran = user.shell(f"kubectl module status {NAME}")
    assert ran.code == 0, ran.err
    assert f"kubectl module promote {NAME}" in ran.out
    assert "kubectl-module" in user.shell("kubectl plugin list").out
    assert "already resumed" not in user.ok("resume", NAME)
    until_done(user)
    assert user.ok("resume", NAME).strip().endswith("spec.pause is false already; nothing to write")
    assert "wrote spec.pause=true" in user.ok("pause", NAME).splitlines()[0]
    md = await kt.get_deployment(api, namespace, NAME)
    assert md["spec"]["pause"] is True


async def test_errors_name_the_object_and_exit_1(namespace, user):
    ran = user.plugin("status", "nope")
    assert ran.code == 1
    assert ran.err.strip() == f'error: moduledeployment "nope" not found in namespace "{namespace}"'
    for args in (("promote", "nope"), ("undo", "nope"), ("history", "nope", "-n", namespace)):
        ran = user.plugin(*args)
        assert (ran.code, ran.err.count("\n")) == (1, 1), ran
        assert '"nope" not found' in ran.err
    ran = user.plugin("status", "nope", "--context", "nowhere")
    assert ran.code == 1 and 'context "nowhere" not found' in ran.err
    assert user.plugin("status").code == 2
    assert user.plugin("frobnicate", "x").code == 2


async def test_abort_mid_release_returns_to_the_completed_revision(api, namespace, controller,
                                                                   user):
    await bases(api, namespace, 3)
    kubectl_apply(user, SAMPLE.read_text())
    await wait_status(user, waiting, "1.0.2: group 2 waits")
    user.ok("promote", NAME)
    until_done(user)
    assert user.ok("abort", NAME).strip().endswith("nothing to abort")

    kubectl_apply(user, upgraded_sample())
    await wait_status(user, lambda d: waiting(d) and d["updateRevision"] == 2,
                      "the 2.0.0 release waits after group 1")
    out = user.ok("abort", NAME)
    assert "wrote serverless.alipay.com/abort-revision=2" in out and "revision 1" in out, out
    await wait_status(user, lambda d: d["progress"] == "Aborted"
                      and d["updateRevision"] == 1 and d["available"] == 2,
                      "back on revision 1, Aborted (the spec's 2.0.0 does not run)")
    modules = await kt.list_modules(api, namespace)
    assert sorted((m["status"].get("installedVersion"), m["status"].get("status"),
                   m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET_REVISION])
                  for m in modules) == [("1.0.2", "Available", "1")] * 2
    md = await kt.get_deployment(api, namespace, NAME)
    assert md["spec"]["pause"] is False, "the abort does not stay behind the pause it lifted"
    assert c.ANNOTATION_ABORT_REVISION not in (md["metadata"].get("annotations") or {})
    rolled = next(x for x in md["status"]["conditions"] if x["type"] == "RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("True", "Aborted"), rolled
    assert md["spec"]["template"]["spec"]["module"]["version"] == "2.0.0", "spec left as written"

    history = json.loads(user.ok("history", NAME, "-o", "json"))["revisions"]
    assert [(r["revision"], r["completed"], r["state"]) for r in history] == [
        (1, True, "completed"), (2, False, "aborted")]
    assert user.ok("abort", NAME).strip().endswith("nothing to abort")

    async def aborted_events():
        return [e.message for e in await kt.events_for(api, namespace, NAME)
                if e.reason == "Aborted" and e.type == "Warning"]

    await kt.wait_for(aborted_events, bool, timeout=90, what="an Aborted Event")

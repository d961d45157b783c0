"""``kubectl module`` against the dev cluster and the real controller, for what the plugin
added on top of the seed flow: ``status --watch`` on Kubernetes watches, ``list``, ``set
version``, ``promote --full`` and the ``-o wide|name`` outputs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from module_controller_dev.devcluster import testing as kt

from helpers.cluster import bases
from test_plugin_cluster import (NAME, URL_2, SAMPLE, kubectl_apply, until_done,
                                 wait_status, waiting)

pytestmark = pytest.mark.cluster
GROUP = "moduledeployment.serverless.alipay.com"


def sample(**strategy) -> dict:
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["operationStrategy"].update(strategy)
    return body


async def test_watch_follows_the_release_to_its_end(api, namespace, controller, user):
    """``status --watch`` draws the release from a pause to Completed through watches: one
    document per change, the last one Completed, and it exits 0 by itself (--until-done)."""
    await bases(api, namespace, 3)
    kubectl_apply(user, SAMPLE.read_text())
    await wait_status(user, waiting, "group 2 waits for confirmation")
    proc = await asyncio.create_subprocess_exec(
        str(Path(user.env["PATH"].split(":")[0]) / "kubectl-module"), "status", NAME, "--watch",
        "--until-done", "--timeout", "120", "-o", "json", env=user.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    assert first["waitingGroup"] == 2 and first["progress"] == "Paused"
    promoted = await asyncio.to_thread(user.ok, "promote", NAME, "--wait", "0")
    assert "wrote spec.confirmBatchNum=1" in promoted
    rest, err = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, err.decode()
    docs = [first] + [json.loads(line) for line in rest.decode().splitlines()]
    assert docs[-1]["progress"] == "Completed" and docs[-1]["available"] == 2
    assert all(a != b for a, b in zip(docs, docs[1:])), "a document is drawn only on a change"


async def test_watch_says_when_the_deployment_is_gone(api, namespace, controller, user):
    await bases(api, namespace, 2)
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False, batchCount=1)))
    until_done(user)
    proc = await asyncio.create_subprocess_exec(
        str(Path(user.env["PATH"].split(":")[0]) / "kubectl-module"), "status", NAME, "-w",
        "--timeout", "120", env=user.env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().startswith("--- ")
    await asyncio.to_thread(user.shell, f"kubectl delete mddeploy {NAME} --wait=false")
    out, err = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, err.decode()
    assert out.decode().endswith(f"moduledeployment {NAME} is gone\n")


async def test_list_set_version_and_outputs(api, namespace, controller, user):
    await bases(api, namespace, 3)
    assert user.plugin("list").err.strip() == \
        f'No moduledeployments found in namespace "{namespace}".'
    kubectl_apply(user, yaml.safe_dump(sample(needConfirm=False, batchCount=2)))
    until_done(user)

    table = user.ok("list").splitlines()
    assert table[0].split() == ["NAME", "MODULE", "VERSION", "RUNNING", "PROGRESS", "DESIRED",
                                "AVAILABLE", "AGE"]
    assert table[1].split()[:7] == [NAME, "provider", "1.0.2", "1.0.2", "Completed", "(2",
                                    "groups)"]
    everywhere = user.ok("list", "-A").splitlines()
    assert any(line.split()[:2] == [namespace, NAME] for line in everywhere[1:])
    assert user.ok("list", "-o", "name") == f"{GROUP}/{NAME}\n"
    assert user.ok("status", NAME, "-o", "name") == f"{GROUP}/{NAME}\n"
    items = json.loads(user.ok("list", "-o", "json"))["items"]
    assert [(i["name"], i["version"], i["runningVersion"], i["available"]) for i in items] == [
        (NAME, "1.0.2", "1.0.2", 2)]
    wide = user.ok("status", NAME, "-o", "wide")
    assert max(len(line) for line in user.ok("status", NAME).splitlines()
               if not line.startswith("URL:")) <= 120
    assert "BASE-POD" in wide and "BASE-POD" not in user.ok("status", NAME)

    # set version: the url names the old version, so it must come along; what was written,
    # then what the controller did.
    refused = user.plugin("set", "version", NAME, "2.0.0")
    assert refused.code == 1 and "names version 1.0.2: pass --url" in refused.err, refused
    out = user.ok("set", "version", NAME, "2.0.0", "--url", URL_2)
    first, then = out.splitlines()[:2]
    assert first == (f"moduledeployment {NAME}: wrote spec.template.spec.module.version=2.0.0 "
                     f"and url={URL_2} (was 1.0.2)")
    assert then.startswith("then: ") and "revision 2" in then, out
    until_done(user)
    md = await kt.get_deployment(api, namespace, NAME)
    assert md["spec"]["template"]["spec"]["module"] == {
        "name": "provider", "version": "2.0.0", "url": URL_2}
    assert md["status"]["version"] == "2.0.0"
    assert user.ok("set", "version", NAME, "2.0.0", "-o", "json").count('"changed": false') == 1


async def test_promote_full_runs_the_release_to_its_end(api, namespace, controller, user):
    """Three groups with a confirmation after each: one ``promote --full`` at the first pause
    and the release completes without stopping again."""
    await bases(api, namespace, 3)
    body = sample(needConfirm=True, batchCount=3)
    body["spec"]["replicas"] = 3
    kubectl_apply(user, yaml.safe_dump(body))
    data = await wait_status(user, waiting, "group 2 waits for confirmation")
    assert data["waitingGroup"] == 2 and data["currentGroup"] == 1 and data["groupCount"] == 3
    out = user.ok("promote", NAME, "--full")
    assert out.startswith(f"moduledeployment {NAME}: wrote spec.confirmBatchNum=2 and "
                          "spec.pause=false (confirms the pauses after groups 1 to 2 of 3"), out
    until_done(user)  # a pause after group 2 would hold it: --until-done times out
    md = await kt.get_deployment(api, namespace, NAME)
    assert md["status"]["releaseStatus"]["progress"] == "Completed"
    assert md["spec"]["confirmBatchNum"] == 0 and md["spec"]["pause"] is False

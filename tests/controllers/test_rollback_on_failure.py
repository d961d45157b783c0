"""Automatic rollback of a failed release, end to end.

The new version's url cannot be downloaded (the module repository answers 404, so every
fake Arklet fails the install): after spec.progressDeadlineSeconds the release has failed.
"""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply, kubectl_patch as patch
from module_controller_dev.devcluster.testing import release_status

from helpers.controller_args import MODULE_STEP
from helpers.arklet_log import bizzes_on, installs, log_marks, request_log
from helpers.bodies import MODULE, md_body, url_of
from helpers.cluster import bases, wait_md

pytestmark = pytest.mark.cluster

DEADLINE = 4  # spec.progressDeadlineSeconds of these tests
# Served by nothing: the repository generates jars only for names ending in -ark-biz.jar.
BROKEN_URL = url_of("2.0.0").replace("-ark-biz.jar", "-missing.jar")


def _body(name: str, version: str = "1.0.2", url: str | None = None, rollback: bool = True):
    body = md_body(name, 3, version=version, url=url, batchCount=1, needConfirm=False,
                   rollbackOnFailure=rollback)
    body["spec"]["progressDeadlineSeconds"] = DEADLINE
    return body


def _condition(md: dict | None, type_: str) -> dict:
    return next((x for x in ((md or {}).get("status") or {}).get("conditions") or []
                 if x["type"] == type_), {})


async def _wait_event(api, namespace: str, name: str, reason: str, says: str) -> None:
    async def matching():
        return [e for e in await kt.events_for(api, namespace, name)
                if e.reason == reason and e.type == "Warning" and says in e.message]

    await kt.wait_for(matching, bool, timeout=MODULE_STEP,
                      what=f"a Warning Event {reason} saying {says!r}")


async def _start(api, namespace, arklets, dev_cluster, name: str, rollback: bool):
    kc = dev_cluster.kubeconfig
    pods = await bases(api, namespace, 3)
    apply(kc, namespace, _body(name, rollback=rollback))
    await wait_md(api, namespace, name,
                  lambda m: release_status(m).get("progress") == "Completed"
                  and (m["status"].get("availableReplicas") == 3), "1.0.2 on 3 bases",
                  timeout=MODULE_STEP)
    apply(kc, namespace, _body(name, version="2.0.0", url=BROKEN_URL, rollback=rollback))
    return [p.status.pod_ip for p in pods]


async def test_failed_release_is_rolled_back(api, namespace, arklets, controller, dev_cluster):
    name = "provider-autorollback"
    ips = await _start(api, namespace, arklets, dev_cluster, name, rollback=True)

    md = await wait_md(api, namespace, name,
                       lambda m: _condition(m, c.CONDITION_ROLLED_BACK).get("status") == "True"
                       and release_status(m).get("progress") == "Aborted",
                       "RolledBack=True and the rollback done: Aborted (2.0.0 does not run)",
                       timeout=DEADLINE + 2 * MODULE_STEP)
    rs, st = release_status(md), md["status"]
    assert (rs["updateRevision"], rs["stableRevision"], rs["abortedRevision"]) == (1, 1, 2), rs
    assert rs["abortedModule"] == f"{MODULE}:2.0.0@{BROKEN_URL}"
    assert (st["availableReplicas"], st["updatedAvailableReplicas"], st["replicas"]) == (3, 3, 3)
    rolled = _condition(md, c.CONDITION_ROLLED_BACK)
    assert rolled["reason"] == "ProgressDeadlineExceeded"
    assert "failed" in rolled["message"] and "rolling back to revision 1" in rolled["message"]
    assert md["spec"]["template"]["spec"]["module"]["version"] == "2.0.0", \
        "the user's spec is left as written"

    rs1, rs2 = f"{name}-replicas-1", f"{name}-replicas-2"
    assert {m["metadata"]["name"]: m["spec"]["replicas"]
            for m in await kt.list_replicasets(api, namespace)} == {rs1: 3, rs2: 0}, \
        "the failed revision stays in history, at 0"

    async def modules():
        return sorted((m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET], kt.phase(m),
                       m["spec"]["module"]["version"]) for m in await kt.list_modules(api, namespace))

    await kt.wait_for(modules, lambda ms: ms == [(rs1, "Available", "1.0.2")] * 3,
                      timeout=MODULE_STEP, what="only the 3 Available 1.0.2 instances left")
    for ip in ips:
        log = await request_log(arklets, ip)
        assert installs(log, "2.0.0", ok=False), (ip, "2.0.0 was tried")
        assert not installs(log, "2.0.0"), (ip, "2.0.0 never installed")
        assert await bizzes_on(arklets, ip) == [f"{MODULE}:1.0.2"]
    await _wait_event(api, namespace, name, c.CONDITION_ROLLED_BACK, "rolling back to revision 1")

    # A restarted controller reads the same status: it stays on revision 1 and tries nothing of
    # 2.0.0 again, although the spec still says 2.0.0. A scale to 2 shows it is at work.
    marks = await log_marks(arklets, ips)
    controller.kill()
    controller.start()
    patch(dev_cluster.kubeconfig, namespace, "moduledeployment", name, {"spec": {"replicas": 2}})
    md = await wait_md(api, namespace, name,
                       lambda m: m["status"].get("observedGeneration") == m["metadata"]["generation"]
                       and release_status(m).get("progress") == "Aborted"
                       and m["status"].get("availableReplicas") == 2,
                       "the restarted controller scaled to 2", timeout=2 * MODULE_STEP)
    assert release_status(md)["updateRevision"] == 1
    assert {m["metadata"]["name"]: m["spec"]["replicas"]
            for m in await kt.list_replicasets(api, namespace)} == {rs1: 2, rs2: 0}
    tried = [(ip, r["command"]) for ip in ips for r in await request_log(arklets, ip,
                                                                        since=marks[ip])
             if r["command"] in ("installBiz", "switchBiz")]
    assert tried == [], "nothing installed after the restart"


async def test_failed_release_without_rollback_stops_and_reports(api, namespace, arklets,
                                                                  controller, dev_cluster):
    name = "provider-noautorollback"
    await _start(api, namespace, arklets, dev_cluster, name, rollback=False)

    md = await wait_md(api, namespace, name,
                       lambda m: "failed" in _condition(m, c.CONDITION_PROGRESSING).get("message", "")
                       and _condition(m, c.CONDITION_PROGRESSING).get("status") == "False",
                       "Progressing=False: the release failed", timeout=DEADLINE + 2 * MODULE_STEP)
    progressing = _condition(md, c.CONDITION_PROGRESSING)
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert "rollbackOnFailure is off" in progressing["message"], progressing
    assert not _condition(md, c.CONDITION_ROLLED_BACK)
    rs = release_status(md)
    assert (rs["updateRevision"], rs.get("abortedRevision")) == (2, None), rs
    assert md["status"]["availableReplicas"] == 3, "the old instances keep serving"
    await _wait_event(api, namespace, name, "ProgressDeadlineExceeded", "failed")

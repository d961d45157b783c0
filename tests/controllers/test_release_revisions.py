"""Release scenarios of the ModuleDeployment controller (behaviour §2), end to end: going back
to a revision, a url-only change, new base pods after a change, a controller killed mid-release,
group sizes of a scale.

A real API server, the base simulator's fake Arklets and the real controller process; users act
through kubectl. Timing claims are checked against the fake Arklets' request logs, with bounds
that hold for any correct controller, however slow the machine.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import (kubectl, kubectl_apply as apply,
                                                  kubectl_patch as patch)
from module_controller_dev.devcluster.testing import release_status

from helpers.arklet_log import bizzes_on, installs, log_marks, request_log
from helpers.bodies import BASE, INSTALL_LATENCY, MODULE, SELECTOR, md_body, url_of
from helpers.release import completed, paused_at
from helpers.cluster import bases, holds_for, pod_of, wait_md

pytestmark = pytest.mark.cluster


# ----------------------------------------------------------------- 7. rollback, url-only

async def test_rollback_reuses_revision_and_url_change_installs_nothing(api, namespace, arklets,
                                                                        controller, dev_cluster):
    kc, name = dev_cluster.kubeconfig, "provider-rollback"
    pods = await bases(api, namespace, 2)
    ips = [p.status.pod_ip for p in pods]
    apply(kc, namespace, md_body(name, 2))
    await wait_md(api, namespace, name, completed(1, 2), "1.0.2 Completed")
    apply(kc, namespace, md_body(name, 2, version="2.0.0"))
    await wait_md(api, namespace, name, completed(2, 2), "2.0.0 Completed")

    apply(kc, namespace, md_body(name, 2, version="1.0.2"))
    await wait_md(api, namespace, name, completed(1, 2), "rollback to revision 1 Completed")
    mrs = {r["metadata"]["name"]: r for r in await kt.list_replicasets(api, namespace)}
    assert sorted(mrs) == [f"{name}-replicas-1", f"{name}-replicas-2"], "no new revision"
    assert mrs[f"{name}-replicas-1"]["spec"]["replicas"] == 2
    assert mrs[f"{name}-replicas-2"]["spec"]["replicas"] == 0
    modules = await kt.list_modules(api, namespace)
    assert sorted((m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET], kt.phase(m),
                   m["spec"]["module"]["version"]) for m in modules) == \
        [(f"{name}-replicas-1", "Available", "1.0.2")] * 2
    assert [await bizzes_on(arklets, ip) for ip in ips] == [[f"{MODULE}:1.0.2"]] * 2

    # A url-only change: template and Modules get the new url, nothing is (re)installed.
    new_url = url_of("1.0.2").replace("stable", "mirror")
    marks = await log_marks(arklets, ips)
    apply(kc, namespace, md_body(name, 2, version="1.0.2", url=new_url))

    async def urls():
        rs = await kt.get_replicaset(api, namespace, f"{name}-replicas-1")
        return ([rs["spec"]["template"]["spec"]["module"]["url"]]
                + [m["spec"]["module"]["url"] for m in await kt.list_modules(api, namespace)])

    await kt.wait_for(urls, lambda u: u == [new_url] * 3, timeout=30,
                      what="the new url on the ModuleReplicaSet template and both Modules")

    async def changes():
        out = []
        for ip in ips:
            out += [(ip, r["command"]) for r in await request_log(arklets, ip, since=marks[ip])
                    if r["command"] in ("installBiz", "uninstallBiz", "switchBiz")]
        return out

    await holds_for(changes, lambda ch: ch == [], 2.0, "no install/uninstall after a url change")
    md = await kt.get_deployment(api, namespace, name)
    assert completed(1, 2)(md), md.get("status")
    assert len(await kt.list_replicasets(api, namespace)) == 2
    assert [await bizzes_on(arklets, ip) for ip in ips] == [[f"{MODULE}:1.0.2"]] * 2


# ----------------------------------------------------------------- 8. base roll after url change

async def test_new_base_pods_get_the_new_url(api, namespace, arklets, controller, dev_cluster):
    """Seed 003 §3: release a new url only, then roll the base Deployment; every new base pod
    installs the module from the new url, and the counts are exact in the end."""
    kc, name = dev_cluster.kubeconfig, "provider-reroll"
    old_pods = await bases(api, namespace, 3)
    apply(kc, namespace, md_body(name, 3))
    await wait_md(api, namespace, name, completed(1, 3), "Completed")
    new_url = url_of("1.0.2").replace("stable", "compatible")
    apply(kc, namespace, md_body(name, 3, url=new_url))

    async def module_urls():
        return [m["spec"]["module"]["url"] for m in await kt.list_modules(api, namespace)]

    await kt.wait_for(module_urls, lambda u: u == [new_url] * 3, timeout=30,
                      what="the Modules to carry the new url")

    old_names = {p.metadata.name for p in old_pods}
    kubectl(kc, namespace, "patch", "deployment", BASE, "--type=merge", "-p",
            '{"spec":{"template":{"metadata":{"annotations":{"example.com/restartedAt":"1"}}}}}')

    async def state():
        pods = [p for p in await kt.list_pods(api, namespace, SELECTOR)]
        modules = await kt.list_modules(api, namespace)
        return pods, modules

    def settled(s) -> bool:
        pods, modules = s
        names = {p.metadata.name for p in pods}
        return (len(pods) == 3 and not names & old_names and all(kt.pod_ready(p) for p in pods)
                and sorted((pod_of(m), kt.phase(m)) for m in modules)
                == sorted((n, "Available") for n in names))

    pods, modules = await kt.wait_for(state, settled, timeout=60,
                                      what="3 new base pods with one Available Module each")
    md = await wait_md(api, namespace, name, completed(1, 3), "Completed after the base roll")
    assert md["status"]["availableReplicas"] == 3
    for pod in pods:
        log = await request_log(arklets, pod.status.pod_ip)
        urls = [r["body"].get("bizUrl") for r in installs(log)]
        assert urls == [new_url], (pod.metadata.name, urls)
        assert await bizzes_on(arklets, pod.status.pod_ip) == [f"{MODULE}:1.0.2"]
    assert [m["spec"]["module"]["url"] for m in modules] == [new_url] * 3
    assert len(await kt.list_replicasets(api, namespace)) == 1


# ----------------------------------------------------------------- 9. controller killed

KILL_SEED = 20240611


def _kill_points() -> list[tuple[str, float]]:
    """The points of a 3-group release at which the controller is killed, with a seed-fixed
    install latency each (so some kills land while an install is in flight)."""
    rng = random.Random(KILL_SEED)
    names = ["group1-executing", "group1-done", "gray-time", "group2-executing",
             "group2-done", "group3-executing"]
    return [(n, round(rng.uniform(0.2, 0.8), 2)) for n in names]


def _at_point(point: str):
    def check(s) -> bool:
        md, modules = s
        rs = release_status(md)
        batch, progress = rs.get("currentBatch"), rs.get("progress")
        placed = len(modules)
        available = sum(1 for m in modules if kt.phase(m) == "Available")
        if point == "group1-executing":
            return progress == "Executing" and batch == 1
        if point == "group1-done":
            return available >= 1
        if point == "gray-time":
            nxt = rs.get("nextReconcileTime")
            return (batch == 2 and placed == 1 and nxt is not None
                    and dt.datetime.fromisoformat(nxt.replace("Z", "+00:00"))
                    > dt.datetime.now(dt.timezone.utc))
        if point == "group2-executing":
            return batch == 2 and placed == 2
        if point == "group2-done":
            return available >= 2
        if point == "group3-executing":
            return batch == 3 and placed == 3
        raise AssertionError(point)
    return check


@pytest.mark.parametrize("point,latency", _kill_points(), ids=[p for p, _ in _kill_points()])
async def test_controller_killed_during_a_release_completes_it(api, namespace, arklets, controller,
                                                              dev_cluster, point, latency):
    kc, name = dev_cluster.kubeconfig, "provider-chaos"
    pods = await bases(api, namespace, 3, annotations={INSTALL_LATENCY: str(latency)})
    apply(kc, namespace, md_body(name, 3, batchCount=3, grayTimeBetweenBatchSeconds=2,
                                 needConfirm=False))

    async def observe():
        return await kt.get_deployment(api, namespace, name), await kt.list_modules(api, namespace)

    await kt.wait_for(observe, _at_point(point), timeout=40, interval=0.05,
                      what=f"the release to reach {point}")
    controller.kill()
    controller.start()

    md = await wait_md(api, namespace, name, completed(1, 3), "Completed after the restart",
                       timeout=60)
    assert release_status(md)["realBatchCount"] == 3
    modules = await kt.list_modules(api, namespace)
    assert sorted((pod_of(m), kt.phase(m)) for m in modules) == \
        sorted((p.metadata.name, "Available") for p in pods)
    mrs = await kt.list_replicasets(api, namespace)
    assert [(r["metadata"]["name"], r["spec"]["replicas"]) for r in mrs] == [(f"{name}-replicas-1", 3)]
    for pod in pods:
        ip = pod.status.pod_ip
        log = await request_log(arklets, ip)
        assert len(installs(log, "1.0.2")) == 1, (pod.metadata.name, log)
        assert len(installs(log)) == 1
        assert await bizzes_on(arklets, ip) == [f"{MODULE}:1.0.2"]


# ----------------------------------------------------------------- 10. group sizes

async def test_group_sizes_of_a_scale_up_and_a_scale_down(api, namespace, controller, dev_cluster):
    kc, name = dev_cluster.kubeconfig, "provider-groups"
    await bases(api, namespace, 5)
    apply(kc, namespace, md_body(name, 0, batchCount=3, needConfirm=True))
    await wait_md(api, namespace, name, completed(1, 0), "Completed with 0 replicas", timeout=30)
    assert await kt.list_modules(api, namespace) == []

    async def counts_at_pauses(start: int, target: int) -> list[int]:
        seen = [start]
        batch = 1
        while True:
            md = await wait_md(api, namespace, name,
                               lambda m, batch=batch: paused_at(batch)(m)
                               or completed(1, target)(m),
                               f"Paused at group {batch} or Completed")
            modules = await kt.list_modules(api, namespace)
            assert all(kt.phase(m) == "Available" and not m["metadata"].get("deletionTimestamp")
                       for m in modules), "a group is complete only when every instance is"
            seen.append(len(modules))
            if release_status(md)["progress"] == "Completed":
                return seen
            assert md["spec"]["pause"] is True
            patch(kc, namespace, "mddeploy", name, {"spec": {"pause": False}})
            batch += 1
            assert batch <= 5, seen

    # (kubectl scale mddeploy: the CRD has no scale subresource, see docs/api.md "Scale")
    patch(kc, namespace, "mddeploy", name, {"spec": {"replicas": 5}})
    up = await counts_at_pauses(0, 5)
    assert [b - a for a, b in zip(up, up[1:])] == [2, 2, 1], up
    md = await kt.get_deployment(api, namespace, name)
    assert (release_status(md)["realBatchCount"], release_status(md)["originalDeltaReplicas"]) == (3, 5)

    patch(kc, namespace, "mddeploy", name, {"spec": {"operationStrategy": {"batchCount": 2}}})
    patch(kc, namespace, "mddeploy", name, {"spec": {"replicas": 1}})
    down = await counts_at_pauses(5, 1)
    assert [a - b for a, b in zip(down, down[1:])] == [2, 2], down
    md = await kt.get_deployment(api, namespace, name)
    assert (release_status(md)["realBatchCount"], release_status(md)["originalDeltaReplicas"]) == (2, -4)
    assert md["spec"]["pause"] is False and md["spec"]["replicas"] == 1

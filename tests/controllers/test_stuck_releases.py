"""A stuck group never blocks the next change, end to end.

Both cases of the issue as they were tried on the dev cluster: a scale that cannot be placed,
and a version whose installs fail on every base followed by a rollback. Before the fix each new
spec waited for a group boundary that never came.
"""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply, kubectl_patch as patch
from module_controller_dev.devcluster.testing import release_status

from helpers.controller_args import MODULE_STEP
from helpers.arklet_log import bizzes_on, body_field, installs, log_marks, request_log
from helpers.bodies import MODULE, md_body
from helpers.cluster import bases, holds_for, wait_md
from helpers.release import completed

pytestmark = pytest.mark.cluster

ONE_GROUP = {"batchCount": 1, "needConfirm": False}


async def _replicas(api, namespace: str) -> dict[str, int]:
    return {m["metadata"]["name"]: m["spec"]["replicas"]
            for m in await kt.list_replicasets(api, namespace)}


async def _wait_superseded_event(api, namespace: str, name: str, says: str) -> None:
    """Events are posted in the background: wait for it."""
    async def messages():
        return [e.message for e in await kt.events_for(api, namespace, name)
                if e.reason == "ReleaseSuperseded"]

    await kt.wait_for(messages, lambda ms: any(says in m for m in ms), timeout=MODULE_STEP,
                      what=f"a ReleaseSuperseded Event saying {says!r}")


async def test_scale_short_of_bases_does_not_block_the_next_change(api, namespace, controller,
                                                                   dev_cluster):
    """replicas 3 -> 4 on 3 bases (the 4th instance has no base), back to 3, then a new
    version: each change takes over; the revisions end at 0 and 3, not 4 and 0."""
    kc, name = dev_cluster.kubeconfig, "provider-short"
    await bases(api, namespace, 3)
    apply(kc, namespace, md_body(name, 3, **ONE_GROUP))
    await wait_md(api, namespace, name, completed(1, 3), "1.0.2 on 3 bases", timeout=MODULE_STEP)

    patch(kc, namespace, "moduledeployment", name, {"spec": {"replicas": 4}})
    rs1 = f"{name}-replicas-1"

    async def first():
        return await kt.get_replicaset(api, namespace, rs1)

    await kt.wait_for(first, lambda r: any(
        x["type"] == c.CONDITION_REPLICA_FAILURE and x["status"] == "True"
        and x["reason"] == c.REASON_INSUFFICIENT_BASES
        for x in ((r or {}).get("status") or {}).get("conditions") or []),
        timeout=MODULE_STEP, what="revision 1 short of bases for its 4th instance")
    md = await kt.get_deployment(api, namespace, name)
    assert release_status(md).get("progress") == "Executing", md.get("status")

    patch(kc, namespace, "moduledeployment", name, {"spec": {"replicas": 3}})
    await wait_md(api, namespace, name, completed(1, 3), "back to 3, Completed",
                  timeout=MODULE_STEP)
    assert await _replicas(api, namespace) == {rs1: 3}

    apply(kc, namespace, md_body(name, 3, version="1.0.3", **ONE_GROUP))
    await wait_md(api, namespace, name, completed(2, 3), "1.0.3 Completed on 3 bases",
                  timeout=3 * MODULE_STEP)
    assert await _replicas(api, namespace) == {rs1: 0, f"{name}-replicas-2": 3}
    await _wait_superseded_event(api, namespace, name, "lacks eligible base pods")


async def test_rollback_from_a_version_failing_everywhere_proceeds_at_once(api, namespace, arklets,
                                                                          controller, dev_cluster):
    """2.0.0 fails to install on every base, then 1.0.2 is re-applied: the rollback completes
    while 2.0.0 still fails (it waits for nothing), the Failed instances are abandoned, and
    2.0.0 is never activated, not even once the fault is gone."""
    kc, name = dev_cluster.kubeconfig, "provider-stuck-rollback"
    pods = await bases(api, namespace, 3)
    ips = [p.status.pod_ip for p in pods]
    apply(kc, namespace, md_body(name, 3, **ONE_GROUP))
    await wait_md(api, namespace, name, completed(1, 3), "1.0.2 on 3 bases", timeout=MODULE_STEP)

    for ip in ips:
        await arklets.set_fault(ip, "installBiz", fail_rate=1.0, fail_code="FAILED")
    try:
        apply(kc, namespace, md_body(name, 3, version="2.0.0", **ONE_GROUP))

        async def failed_installs():
            return [len(installs(await request_log(arklets, ip), "2.0.0", ok=False))
                    for ip in ips]

        await kt.wait_for(failed_installs, lambda n: all(n), timeout=MODULE_STEP,
                          what="2.0.0 install tried (and failed) on every base")

        apply(kc, namespace, md_body(name, 3, **ONE_GROUP))  # the rollback, fault still there
        await wait_md(api, namespace, name, completed(1, 3),
                      "rollback Completed while 2.0.0 still fails", timeout=MODULE_STEP)
        rs1, rs2 = f"{name}-replicas-1", f"{name}-replicas-2"
        assert await _replicas(api, namespace) == {rs1: 3, rs2: 0}

        async def revision_2_modules():
            return await kt.list_modules(api, namespace, f"{c.LABEL_MODULE_REPLICASET}={rs2}")

        await kt.wait_for(revision_2_modules, lambda ms: ms == [], timeout=MODULE_STEP,
                          what="the Failed 2.0.0 instances deleted")
    finally:
        for ip in ips:
            await arklets.clear_faults(ip)

    # The fault is gone: nothing about 2.0.0 may happen any more.
    marks = await log_marks(arklets, ips)

    async def later_2_0_0():
        return [(ip, r["command"]) for ip in ips
                for r in await request_log(arklets, ip, since=marks[ip])
                if body_field(r, "bizVersion") == "2.0.0"]

    await holds_for(later_2_0_0, lambda rs: rs == [], 3.0, "no 2.0.0 request after the rollback")
    for ip in ips:
        log = await request_log(arklets, ip)
        assert not installs(log, "2.0.0"), (ip, "2.0.0 was installed")
        assert not [r for r in log if r["command"] == "switchBiz"
                    and body_field(r, "bizVersion") == "2.0.0"], (ip, "2.0.0 was activated")
        assert await bizzes_on(arklets, ip) == [f"{MODULE}:1.0.2"]
    modules = await kt.list_modules(api, namespace)
    assert sorted((m["metadata"]["labels"][c.LABEL_MODULE_REPLICASET], kt.phase(m),
                   m["spec"]["module"]["version"]) for m in modules) == \
        [(rs1, "Available", "1.0.2")] * 3
    await _wait_superseded_event(api, namespace, name, "rollback to revision 1")

"""Release scenarios of the ModuleDeployment controller (behaviour §2), end to end: groups, gray
time, beta, maxUnavailable, peer mode, deletion, the module Service.

A real API server, the base simulator's fake Arklets and the real controller process; users act
through kubectl. Timing claims are checked against the fake Arklets' request logs (``time`` is
when a request arrived, epoch seconds, on the same clock as the controller), with bounds that
hold for any correct controller, however slow the machine.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import (kubectl, kubectl_apply as apply,
                                                  kubectl_patch as patch)
from module_controller_dev.devcluster.testing import release_status

from helpers.controller_args import MODULE_STEP
from helpers.arklet_log import bizzes_on, installs, log_marks, request_log, uninstalls
from helpers.bodies import BASE, INSTALL_LATENCY, MODULE, SELECTOR, md_body
from helpers.release import completed, paused_at
from helpers.cluster import (bases, endpoint_ips, holds_for, ip_of, live_modules, pod_of,
                             refused_endpoint_sets, wait_md)

pytestmark = pytest.mark.cluster


# ----------------------------------------------------------------- 1. gray time

async def test_gray_time_separates_group_completions(api, namespace, arklets, controller,
                                                     dev_cluster):
    """grayTimeBetweenBatchSeconds: group k+1 starts no earlier than gray seconds after group k
    completed (behaviour §2.3 step 4), without confirmation."""
    kc, name, gray, latency = dev_cluster.kubeconfig, "provider-gray", 3, 0.2
    pods = await bases(api, namespace, 3, annotations={INSTALL_LATENCY: str(latency)})
    apply(kc, namespace, md_body(name, 3, batchCount=3, grayTimeBetweenBatchSeconds=gray,
                                 needConfirm=False))
    # While the gray time runs, the status says when the next group starts.
    md = await wait_md(api, namespace, name,
                       lambda m: release_status(m).get("currentBatch") == 2
                       and release_status(m).get("nextReconcileTime") is not None,
                       "gray time before group 2 shown in nextReconcileTime", timeout=30)
    assert not md["spec"].get("pause"), "gray time alone is no confirmation point"
    md = await wait_md(api, namespace, name, completed(available=3), "Completed", timeout=45)
    assert release_status(md)["realBatchCount"] == 3

    # Per base (one group each): when its install arrived, and a lower bound of when its group
    # completed: the controller learns the Module is ACTIVATED from the install's reply (sent
    # after the install latency) at the earliest.
    marks = []
    for pod in pods:
        log = await request_log(arklets, pod.status.pod_ip)
        ok = installs(log, "1.0.2")
        assert len(ok) == 1, (pod.metadata.name, log)
        marks.append((ok[0]["time"], ok[0]["time"] + latency))
    marks.sort()
    gaps = [nxt[0] - prev[1] for prev, nxt in zip(marks, marks[1:])]
    assert all(g >= gray for g in gaps), \
        f"a group started less than {gray}s after the previous one completed: gaps {gaps}"


# ----------------------------------------------------------------- 2. useBeta

async def test_use_beta_first_group_is_one_instance_and_waits(api, namespace, controller,
                                                              dev_cluster):
    kc, name = dev_cluster.kubeconfig, "provider-beta"
    await bases(api, namespace, 4)
    apply(kc, namespace, md_body(name, 4, batchCount=3, useBeta=True))
    md = await wait_md(api, namespace, name, paused_at(1), "Paused after the beta group")
    assert md["spec"]["pause"] is True, "the controller sets spec.pause at the beta group"
    rs = release_status(md)
    # 1 beta instance, then 3 more over batchCount-1 = 2 groups (2, 1).
    assert (rs["realBatchCount"], rs["originalDeltaReplicas"]) == (3, 4), rs
    modules = await kt.list_modules(api, namespace)
    assert len(modules) == 1 and kt.phase(modules[0]) == "Available", modules
    # It waits for the confirmation: nothing more is placed meanwhile.
    await holds_for(lambda: kt.list_modules(api, namespace), lambda ms: len(ms) == 1, 1.5,
                    "exactly one Module while waiting for confirmation")
    md = await kt.get_deployment(api, namespace, name)
    assert release_status(md)["progress"] == "Paused" and md["spec"]["pause"] is True

    patch(kc, namespace, "mddeploy", name, {"spec": {"pause": False}})
    md = await wait_md(api, namespace, name, lambda m: release_status(m).get("currentBatch", 0) >= 2
                       and release_status(m).get("progress") != "Paused", "group 2 running")
    # useBeta alone needs no confirmation after the later groups.
    md = await wait_md(api, namespace, name, completed(available=4), "Completed")
    assert md["spec"]["pause"] is False
    per = await kt.modules_per_pod(api, namespace)
    assert sorted(per.values()) == [1, 1, 1, 1], per


# ----------------------------------------------------------------- 3. maxUnavailable

async def test_max_unavailable_bounds_uninstall_then_install(api, namespace, arklets, controller,
                                                             dev_cluster):
    """uninstall_then_install with maxUnavailable 1: never two bases without an active version
    of the module at once (behaviour §2.3 step 7, §2.4), reconstructed from the Arklet logs."""
    kc, name, latency = dev_cluster.kubeconfig, "provider-uti", 0.5
    pods = await bases(api, namespace, 4, annotations={INSTALL_LATENCY: str(latency)})
    strategy = dict(batchCount=1, maxUnavailable=1, upgradePolicy="uninstall_then_install")
    apply(kc, namespace, md_body(name, 4, **strategy))
    await wait_md(api, namespace, name, completed(1, 4), "first release Completed")
    ips = [p.status.pod_ip for p in pods]
    before = await log_marks(arklets, ips)

    apply(kc, namespace, md_body(name, 4, version="2.0.0", **strategy))
    await wait_md(api, namespace, name, completed(2, 4), "upgrade to 2.0.0 Completed", timeout=60)
    assert [await bizzes_on(arklets, ip) for ip in ips] == [[f"{MODULE}:2.0.0"]] * 4

    # Per base: t_u = arrival of the uninstall of 1.0.2, t_i = arrival of the install of 2.0.0.
    # The base is without an active version from t_u (the uninstall is immediate) until the
    # install finished, which is at t_i + latency at the earliest. A controller that keeps at
    # most one base down sends the next base's uninstall only after the previous base's install
    # finished: for every pair, one's t_u >= the other's t_i + latency.
    windows = {}
    for ip in ips:
        log = await request_log(arklets, ip, since=before[ip])
        gone, new = uninstalls(log, "1.0.2"), installs(log, "2.0.0")
        assert len(gone) == 1 and len(new) == 1, (ip, log)
        assert gone[0]["seq"] < new[0]["seq"] and gone[0]["time"] <= new[0]["time"], \
            f"uninstall_then_install uninstalls first on {ip}: {log}"
        windows[ip] = (gone[0]["time"], new[0]["time"])
    overlaps = []
    ordered = sorted(windows.items(), key=lambda kv: kv[1][0])
    for i, (a, (ua, ia)) in enumerate(ordered):
        for b, (ub, ib) in ordered[i + 1:]:
            if not (ub >= ia + latency or ua >= ib + latency):
                overlaps.append((a, b, round(ub - ia, 3)))
    assert not overlaps, (f"two bases were without the module at once (pair, seconds between the "
                          f"first's install and the second's uninstall): {overlaps}; "
                          f"windows {windows}")


# ----------------------------------------------------------------- 4. peer mode

async def test_peer_mode_follows_base_scaling(api, namespace, controller, dev_cluster):
    kc, name = dev_cluster.kubeconfig, "provider-peer"
    await bases(api, namespace, 2)
    body = md_body(name, -1, batchCount=2)
    apply(kc, namespace, body)

    async def check_follows(count: int) -> dict[str, str]:
        """Exactly one Available Module on each ready base; their names by pod."""
        pods = await kt.wait_ready_pods(api, namespace, SELECTOR, count)
        names = {p.metadata.name for p in pods}

        async def placement():
            return await kt.list_modules(api, namespace)

        # A Module may have no phase yet (just created) or no pod: compared as a multiset,
        # never sorted (None does not order against a str).
        wanted = Counter((n, "Available") for n in names)
        modules = await kt.wait_for(
            placement, lambda ms: Counter((pod_of(m), kt.phase(m)) for m in ms) == wanted,
            timeout=MODULE_STEP, what=f"exactly one Available Module on each of {count} bases")
        md = await wait_md(api, namespace, name, completed(available=count), "Completed",
                           timeout=MODULE_STEP)
        assert md["spec"]["replicas"] == -1, "peer mode never writes the resolved number into spec"
        assert md["status"]["desiredReplicas"] == count
        return {pod_of(m): m["metadata"]["name"] for m in modules}

    await check_follows(2)
    kubectl(kc, namespace, "scale", "deployment", BASE, "--replicas=4")
    before = await check_follows(4)
    kubectl(kc, namespace, "scale", "deployment", BASE, "--replicas=1")
    after = await check_follows(1)
    # The instances on the three pods going away are the ones removed: the surviving base keeps
    # its Module (and its biz), it is not uninstalled and installed again.
    ((survivor, module),) = after.items()
    assert before[survivor] == module
    assert len(await kt.list_replicasets(api, namespace)) == 1


# ----------------------------------------------------------------- 5. deletion

async def test_delete_mid_release_goes_offline_in_groups(api, namespace, arklets, controller,
                                                         dev_cluster):
    """Deleting a ModuleDeployment while its second group installs: the release stops at once and
    the offline runs in groups with the same strategy, pausing for confirmation (behaviour §2.6)."""
    kc, name = dev_cluster.kubeconfig, "provider-offline"
    pods = await bases(api, namespace, 4, annotations={INSTALL_LATENCY: "1.0"})
    apply(kc, namespace, md_body(name, 4, batchCount=2, needConfirm=True))
    await wait_md(api, namespace, name, paused_at(1), "release Paused after group 1")
    assert len(await kt.list_modules(api, namespace)) == 2
    patch(kc, namespace, "mddeploy", name, {"spec": {"pause": False}})

    async def observe():
        return await kt.get_deployment(api, namespace, name), await kt.list_modules(api, namespace)

    await kt.wait_for(observe, lambda s: release_status(s[0]).get("currentBatch") == 2
                      and len(s[1]) == 4, interval=0.05, what="group 2 placed")
    kubectl(kc, namespace, "delete", "mddeploy", name, "--wait=false")
    # 4 instances offline over batchCount 2: 2, 2; the controller pauses after the first group.
    md = await wait_md(api, namespace, name,
                       lambda m: m is not None and m["metadata"].get("deletionTimestamp")
                       and release_status(m).get("originalDeltaReplicas") == -4
                       and release_status(m).get("progress") == "Paused",
                       "offline Paused after its first group", timeout=45)
    assert release_status(md)["currentBatch"] == 1 and release_status(md)["realBatchCount"] == 2
    assert md["spec"]["pause"] is True, "the controller asks for confirmation of the offline"
    assert set(md["metadata"]["finalizers"]) >= {c.FINALIZER_MODULE_REPLICASET_EXISTED,
                                                  c.FINALIZER_MODULE_EXISTED}
    await holds_for(lambda: kt.list_modules(api, namespace),
                    lambda ms: len(ms) == 2 and not any(m["metadata"].get("deletionTimestamp")
                                                        for m in ms),
                    1.5, "two Modules left while the offline waits for confirmation")

    patch(kc, namespace, "mddeploy", name, {"spec": {"pause": False}})
    await wait_md(api, namespace, name, lambda m: m is None, "gone (finalizers removed)")
    assert await kt.list_replicasets(api, namespace) == []
    assert await kt.list_modules(api, namespace) == []
    assert [await bizzes_on(arklets, p.status.pod_ip) for p in pods] == [[]] * 4


async def test_delete_after_the_base_deployment_is_gone(api, namespace, controller, dev_cluster):
    """The base Deployment is deleted first (while the release waits for a confirmation); the
    deletion of the ModuleDeployment still completes (behaviour §2.6)."""
    kc, name = dev_cluster.kubeconfig, "provider-orphan"
    await bases(api, namespace, 2)
    apply(kc, namespace, md_body(name, 2, batchCount=2, needConfirm=True))
    await wait_md(api, namespace, name, paused_at(1), "release Paused after group 1")

    kubectl(kc, namespace, "delete", "deployment", BASE, "--timeout=30s")
    await kt.wait_for(lambda: kt.list_pods(api, namespace, SELECTOR), lambda p: p == [],
                      timeout=30, what="the base pods to be gone")
    kubectl(kc, namespace, "delete", "mddeploy", name, "--ignore-not-found", "--wait=false")
    # Whoever deleted it (the user, or the garbage collector following the owner reference to
    # the base Deployment), the deletion completes. A confirmation point of the offline is
    # answered as a user would.
    for _ in range(4):
        md = await wait_md(api, namespace, name,
                           lambda m: m is None or (m["spec"].get("pause") is True
                                                   and m["metadata"].get("deletionTimestamp")
                                                   and release_status(m).get("progress") == "Paused"
                                                   and release_status(m).get("originalDeltaReplicas", 0) < 0),
                           "gone, or an offline confirmation point", timeout=45)
        if md is None:
            break
        patch(kc, namespace, "mddeploy", name, {"spec": {"pause": False}})
    assert await kt.get_deployment(api, namespace, name) is None
    assert await kt.list_replicasets(api, namespace) == []
    assert await kt.list_modules(api, namespace) == []


# ----------------------------------------------------------------- 6. Service endpoints

async def test_service_endpoints_are_the_bases_running_the_module(api, namespace, controller,
                                                                  dev_cluster):
    """The module Service routes exactly to the bases where the module is Available (behaviour §2.7),
    as the kube-controller-manager's endpointslice controller computes it from the pod label.

    The base simulator gives pods loopback IPs, which the API server refuses in an EndpointSlice
    ("may not be in the loopback range"); the endpointslice controller then reports the slice it
    computed in a FailedToUpdateEndpointSlices Event on the Service, and that is what is checked
    (on a cluster with routable pod IPs, the EndpointSlices themselves are).
    """
    kc, name, svc_name = dev_cluster.kubeconfig, "provider-svc", f"{MODULE}-service"
    pods = await bases(api, namespace, 3)
    all_ips = {p.status.pod_ip for p in pods}
    body = md_body(name, 2, serviceStrategy={"enableModuleService": True, "port": 8080,
                                             "targetPort": 8080})
    since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    apply(kc, namespace, body)
    svc = await kt.wait_for(lambda: client.CoreV1Api(api).read_namespaced_service(svc_name, namespace),
                            timeout=30, what="the module Service")
    selector = ",".join(f"{k}={v}" for k, v in svc.spec.selector.items())

    async def available_ips() -> set[str]:
        return {ip_of(m) for m in await live_modules(api, namespace) if kt.phase(m) == "Available"}

    async def selected_ips() -> set[str]:
        return {p.status.pod_ip for p in await kt.list_pods(api, namespace, selector)
                if kt.pod_ready(p)}

    async def check(count: int, since: dt.datetime) -> None:
        await wait_md(api, namespace, name, completed(available=count), f"{count} Available")
        want = await available_ips()
        assert len(want) == count and want <= all_ips
        # The Service's own selector, evaluated by the API server, picks exactly those pods...
        await kt.wait_for(selected_ips, lambda ips: ips == want, timeout=20,
                          what=f"the pods selected by {selector} == {sorted(want)}")
        await holds_for(selected_ips, lambda ips: ips == want, 1.0, "the selected pods")

        # ... and the endpointslice controller computes exactly those endpoints.
        async def endpoints():
            return (await endpoint_ips(api, namespace, svc_name),
                    await refused_endpoint_sets(api, namespace, svc_name, since))

        ips, refused = await kt.wait_for(
            endpoints, lambda e: e[0] == want or want in e[1], timeout=30,
            what=f"EndpointSlices of {svc_name} == {sorted(want)}")
        assert all(r <= all_ips for r in refused), refused
        if not refused:
            assert ips == want

    await check(2, since)
    since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    patch(kc, namespace, "mddeploy", name, {"spec": {"replicas": 3}})
    await check(3, since)
    since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    patch(kc, namespace, "mddeploy", name, {"spec": {"replicas": 1}})
    await check(1, since)

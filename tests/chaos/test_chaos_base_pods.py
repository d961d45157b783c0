"""(c) Base pods deleted in the middle of a grouped release.

While a version release runs (installs take 0.5 s on every base, so groups take time), 1–2 random
base pods of the base Deployment are deleted, after a random delay. Their Deployment replaces
them with new pods (new IPs, empty Arklets). The release must still end exactly in the last
spec, on the bases that exist then. The request logs of the deleted bases are saved just before
the deletion and checked for duplicate installs too.
"""

from __future__ import annotations

import asyncio

import pytest

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply
from module_controller_dev.devcluster.testing import release_status

from chaos_helpers import drive_release, observed
from helpers.bodies import md_body
from helpers.cluster import bases, delete_pod, ready_pods
from invariants import Want, converge

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

NAME = "chaos-pods"


async def test_base_pods_deleted_during_release(api, namespace, arklets, dev_cluster,
                                                chaos_controller, rng, size):
    rounds, nbases = (2, 4) if size == "small" else (6, 6)
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, nbases, latency=0.5)
    replicas = nbases - 1
    apply(kc, namespace, md_body(NAME, replicas, "1.0.0", batchCount=2))
    await converge(api, arklets, namespace, Want(NAME, "provider", "1.0.0", replicas),
                   controller=chaos_controller, timeout=60)
    saved: dict[str, list[dict]] = {}
    deleted: list[str] = []  # the release progress at each deletion

    async def delete_some() -> None:
        # Once the new release is under way, a random moment within it.
        await kt.wait_for(lambda: kt.get_deployment(api, namespace, NAME),
                          lambda md: observed(md) and release_status(md).get("progress")
                          in ("Executing", "Completed"), timeout=60, what="the release to start")
        await asyncio.sleep(rng.uniform(0.0, 1.5))  # chooses WHEN to delete
        pods = sorted(await ready_pods(api, namespace), key=lambda p: p.metadata.name)
        for pod in rng.sample(pods, rng.randint(1, 2)):
            ip, name = pod.status.pod_ip, pod.metadata.name
            saved[f"deleted pod {name} ({ip})"] = (await arklets.requests(ip))["requests"]
            await delete_pod(api, namespace, name)
            rs = release_status(await kt.get_deployment(api, namespace, NAME))
            deleted.append(f"{rs.get('progress')} {rs.get('batchProgress')}")
            print(f"[chaos]   deleted base pod {name} ({ip}) at {deleted[-1]}")

    for r in range(1, rounds + 1):
        version = f"2.0.{r}"
        replicas = rng.randint(nbases - 2, nbases - 1)
        apply(kc, namespace, md_body(NAME, replicas, version, batchCount=rng.randint(2, 3),
                                     grayTimeBetweenBatchSeconds=rng.choice([0, 1])))
        print(f"[chaos] round {r}: {version} x{replicas}")
        killer = asyncio.create_task(delete_some())
        try:
            await drive_release(api, namespace, NAME, timeout=90)
        finally:
            await asyncio.gather(killer, return_exceptions=True)
        if killer.exception() is not None:
            raise killer.exception()
        # The Deployment is whole again, and the release ends on the bases that exist now.
        await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", nbases, timeout=60)
        await converge(api, arklets, namespace, Want(NAME, "provider", version, replicas),
                       controller=chaos_controller, allow=("conflict", "arklet"), timeout=60,
                       extra_logs=saved)
        print(f"[chaos] round {r} converged")
    assert len(deleted) >= rounds
    assert any(not d.startswith("Completed") for d in deleted), \
        f"no base was deleted while a release was running: {deleted}"

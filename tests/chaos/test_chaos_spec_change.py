"""(e) The spec changes while a group is Executing.

1. A new version is applied while a group of the previous version's release is still being
   placed (installs take 0.5 s): the new release supersedes the old one; no instance of the
   interrupted version may be left anywhere (Module or biz).
2. ``replicas`` is changed while a release is Executing (up, then down).
Each ends in the last spec exactly (tests/chaos/invariants.py).
"""

from __future__ import annotations

import asyncio

import pytest

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply
from module_controller_dev.devcluster.testing import release_status

from chaos_helpers import drive_release, observed
from helpers.bodies import md_body
from helpers.cluster import bases, patch_md
from invariants import Want, converge

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

NAME = "chaos-spec"


async def executing_group(api, namespace: str, version: str) -> dict:
    """Wait until the release of ``version`` runs a group and has placed part of it."""
    def mid_group(md: dict | None) -> bool:
        rs = release_status(md)
        st = (md or {}).get("status") or {}
        return (observed(md) and rs.get("progress") == "Executing"
                and md["spec"]["template"]["spec"]["module"]["version"] == version
                and 0 < (st.get("updatedReplicas") or 0))
    return await kt.wait_for(lambda: kt.get_deployment(api, namespace, NAME), mid_group,
                             timeout=60, interval=0.05, what=f"a group of {version} Executing")


async def test_spec_changes_mid_group(api, namespace, arklets, dev_cluster, chaos_controller,
                                      rng, size):
    rounds, nbases = (2, 4) if size == "small" else (6, 6)
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, nbases, latency=0.5)
    ctl = chaos_controller
    apply(kc, namespace, md_body(NAME, nbases - 1, "1.0.0", batchCount=2))
    await converge(api, arklets, namespace, Want(NAME, "provider", "1.0.0", nbases - 1),
                   controller=ctl, timeout=60)
    interrupted = []

    # 1. a new version while a group of the previous release is Executing
    for r in range(1, rounds + 1):
        first, second = f"2.{r}.0", f"2.{r}.1"
        replicas = rng.randint(nbases - 2, nbases)
        strategy = dict(batchCount=3, upgradePolicy=rng.choice(
            ["install_then_uninstall", "uninstall_then_install"]))
        apply(kc, namespace, md_body(NAME, replicas, first, **strategy))
        md = await executing_group(api, namespace, first)
        await asyncio.sleep(rng.uniform(0.0, 0.4))  # chooses WHEN inside the group
        interrupted.append(release_status(md).get("batchProgress"))
        apply(kc, namespace, md_body(NAME, replicas, second, **strategy))
        print(f"[chaos] {first} interrupted at group {interrupted[-1]} by {second} x{replicas}")
        await drive_release(api, namespace, NAME, timeout=90)
        await converge(api, arklets, namespace, Want(NAME, "provider", second, replicas),
                       controller=ctl, timeout=60)

    # 2. replicas changed while a release is Executing: up, then down
    for r, (start, changed) in enumerate([(nbases - 2, nbases), (nbases, nbases - 2)], 1):
        version = f"3.{r}.0"
        apply(kc, namespace, md_body(NAME, start, version, batchCount=3))
        await executing_group(api, namespace, version)
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        await patch_md(api, namespace, NAME, {"spec": {"replicas": changed}})
        print(f"[chaos] {version}: replicas {start} -> {changed} mid-release")
        await drive_release(api, namespace, NAME, timeout=90)
        await converge(api, arklets, namespace, Want(NAME, "provider", version, changed),
                       controller=ctl, timeout=60)

"""(a) The controller SIGKILLed at random moments of grouped releases, and restarted at once.

Round after round a new spec is applied (new version, sometimes another replica count, batch
count and upgrade policy). The controller is killed after a random delay following the apply,
and at every Paused group: either while the group waits for confirmation (then restarted and
confirmed) or after a random delay following the confirmation. Installs take a little time on
the bases so that kills land in the middle of Arklet calls too. After each round every invariant
must hold (tests/chaos/invariants.py).
"""

from __future__ import annotations

import asyncio

import pytest

from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from chaos_helpers import ReleaseLog, drive_release
from helpers.bodies import md_body
from helpers.cluster import bases
from invariants import Want, converge

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

NAME = "chaos-kill"
POLICIES = ("install_then_uninstall", "uninstall_then_install", "installThenUninstall")


async def test_controller_killed_during_grouped_releases(api, namespace, arklets, dev_cluster,
                                                        chaos_controller, rng, size):
    rounds, nbases, min_kills = (4, 4, 10) if size == "small" else (12, 6, 30)
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, nbases, latency=0.3)
    ctl = chaos_controller
    # Arklet calls cut off by a SIGKILL may leave the fake's per-biz lock held for the rest of
    # an install; the next incarnation may then get a business failure once and retry.
    allow = ("conflict", "arklet")

    async def kill_later(low: float, high: float) -> None:
        await asyncio.sleep(rng.uniform(low, high))  # chooses WHEN to kill; no synchronisation
        ctl.kill_and_restart()

    async def at_pause(md: dict) -> None:
        batch = md["status"]["releaseStatus"].get("currentBatch")
        if rng.random() < 0.5:
            await kill_later(0.0, 0.5)  # killed while the group waits for confirmation
            print(f"[chaos]   killed while Paused at group {batch}")
        else:
            pending.append(asyncio.create_task(kill_later(0.0, 1.5)))  # after the confirmation
            print(f"[chaos]   kill scheduled after confirming group {batch}")

    for r in range(rounds + 1):
        version = f"1.0.{r}"
        replicas = rng.randint(2, nbases) if r else nbases - 1
        batch_count = rng.randint(2, 3)
        policy = rng.choice(POLICIES)
        want = Want(NAME, "provider", version, replicas)
        print(f"[chaos] round {r}: {version} x{replicas} in {batch_count} groups ({policy}), "
              f"kills so far {ctl.kills}")
        apply(kc, namespace, md_body(NAME, replicas, version, batchCount=batch_count,
                                     needConfirm=True, upgradePolicy=policy))
        pending: list[asyncio.Task] = [asyncio.create_task(kill_later(0.0, 1.5))]
        log = ReleaseLog()
        try:
            await drive_release(api, namespace, NAME, timeout=90, on_paused=at_pause, log=log)
        finally:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in pending:
            if task.exception() is not None:
                raise task.exception()
        await converge(api, arklets, namespace, want, controller=ctl, allow=allow, timeout=60)
        print(f"[chaos] round {r} converged; progress seen {log.progresses}")

    assert ctl.kills >= min_kills, f"only {ctl.kills} kills happened"
    assert ctl.alive

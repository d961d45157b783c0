"""(b) Arklet faults on every base during grouped releases: 20 % HTTP 500, 10 % hangs, about
10 % of the time refused connections (short windows on random bases).

The controller runs with short Arklet timeouts (1 s, 3 s for installs) so hung calls cost little.
Releases are applied while the faults are on; then the faults are cleared and everything must
converge to the last spec (tests/chaos/invariants.py). The faults must really have happened
(the fakes' request logs say so).
"""

from __future__ import annotations

import time

import pytest

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from chaos_helpers import ArkletChaos, completed, drive_release
from helpers.arklet_log import injected_faults
from helpers.bodies import md_body
from helpers.cluster import bases
from invariants import Want, converge

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

NAME = "chaos-arklet"


async def test_arklet_faults_during_grouped_release(api, namespace, arklets, dev_cluster,
                                                   chaos_controller, rng, size):
    releases, nbases, window = (2, 4, 20.0) if size == "small" else (6, 6, 40.0)
    kc = dev_cluster.kubeconfig
    pods = await bases(api, namespace, nbases, latency=0.2)
    hosts = [p.status.pod_ip for p in pods]
    replicas = nbases
    apply(kc, namespace, md_body(NAME, replicas, "1.0.0", batchCount=2))
    await converge(api, arklets, namespace, Want(NAME, "provider", "1.0.0", replicas),
                   controller=chaos_controller, timeout=60)

    chaos = ArkletChaos(arklets, hosts, rng, http500=0.2, hang=0.1, refused=0.1)
    await chaos.start()
    completed_under_faults = 0
    try:
        for i in range(1, releases + 1):
            version = f"2.0.{i}"
            replicas = rng.randint(nbases - 1, nbases)
            apply(kc, namespace, md_body(NAME, replicas, version, batchCount=rng.randint(2, 3),
                                         upgradePolicy=rng.choice(
                                             ["install_then_uninstall", "uninstall_then_install"])))
            # Let the release run under faults for a while; it may or may not finish.
            started = time.monotonic()
            try:
                await drive_release(api, namespace, NAME, timeout=window)
                completed_under_faults += 1
            except kt.WaitTimeout:
                pass
            done = completed(await kt.get_deployment(api, namespace, NAME))
            print(f"[chaos] release {version} x{replicas} under faults: "
                  f"{'Completed' if done else 'not completed'}"
                  f" after {time.monotonic() - started:.1f}s")
    finally:
        await chaos.stop()

    faults = await injected_faults(arklets, hosts)
    print(f"[chaos] injected: {faults}, refusal windows: {chaos.refusals}, releases completed "
          f"under faults: {completed_under_faults}/{releases}")
    assert faults.get("http500", 0) > 0 and faults.get("hang", 0) > 0 and chaos.refusals > 0, \
        "the faults did not happen"
    want = Want(NAME, "provider", f"2.0.{releases}", replicas)
    await converge(api, arklets, namespace, want, controller=chaos_controller,
                   allow=("conflict", "arklet"), timeout=60)

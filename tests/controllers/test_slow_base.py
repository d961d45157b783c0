"""A slow base converges at its own pace (docs/arklet.md, "One base at its own pace").

50 ModuleDeployments of 1 replica on one base whose Arklet answers every call after 5 s (its 4
Netty loops, as the fake models them): before the per-base limit, 0 of 50 completed after 528 s
and all were Failed ArkletUnavailable, because calls piled up, timed out at 10 s while still
occupying the base, and were sent again. The time is reported against the base's own pace
(calls x latency / per-base concurrency); the deadline is a multiple of that pace, not a speed
claim: running into it means the releases stopped converging.
"""

from __future__ import annotations

import time

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller.arklet import ArkletSettings
from module_controller_dev.devcluster import testing as kt

from helpers.arklet_log import installs, request_log
from helpers.bodies import md_body
from helpers.cluster import bases
from helpers.controller import running_controller
from helpers.controller_args import FAST, MODULE_STEP

pytestmark = pytest.mark.cluster

MODULES = 50
LATENCY = 5.0
ARKLET_TIMEOUT = 10.0  # the default: a call at this base is answered well within it
CALLS_PER_MODULE = 3  # queryAllBiz, installBiz, queryAllBiz to verify
PER_BASE = ArkletSettings.per_base
#: The base's own pace: every call it serves takes LATENCY, PER_BASE at a time.
PACE = MODULES * CALLS_PER_MODULE * LATENCY / PER_BASE


#: Running into this means the releases stopped converging (without the per-base limit, not
#: all 50 had completed when pytest-timeout ended the run at 600 s).
DEADLINE = 2 * PACE + MODULE_STEP


@pytest.fixture
def patient_controller(dev_cluster, namespace, tmp_path):
    args = [a for a in FAST if not a.startswith("--arklet-timeout")]
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log",
                            [*args, f"--arklet-timeout={ARKLET_TIMEOUT:g}"]) as proc:
        yield proc


def _body(i: int) -> dict:
    body = md_body(f"slow-{i}", 1, batchCount=1, needConfirm=False)
    module = body["spec"]["template"]["spec"]["module"]
    module["name"] = f"mod{i}"
    module["url"] = f"http://repo.example.com/modules/mod{i}-{module['version']}-ark-biz.jar"
    return body


async def _completed(api, namespace: str) -> int:
    found = (await client.CustomObjectsApi(api).list_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, "moduledeployments"))["items"]
    return sum(1 for md in found
               if kt.release_status(md).get("progress") == "Completed"
               and (md.get("status") or {}).get("availableReplicas") == 1)


@pytest.mark.timeout(DEADLINE + 300)  # the cluster's start and the teardown besides
async def test_fifty_modules_on_a_slow_base_all_complete(api, namespace, arklets,
                                                         patient_controller):
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, "*", latency=LATENCY)
    started = time.monotonic()
    custom = client.CustomObjectsApi(api)
    for i in range(MODULES):
        await custom.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                     "moduledeployments", _body(i))
    await kt.wait_for(lambda: _completed(api, namespace), lambda n: n == MODULES,
                      timeout=DEADLINE,
                      what=f"all {MODULES} ModuleDeployments Completed")
    took = time.monotonic() - started
    log = await request_log(arklets, ip)
    queries = sum(1 for r in log if r["command"] == "queryAllBiz")
    print(f"[slow base] {MODULES} modules at {LATENCY:g} s per call, {PER_BASE} per base: "
          f"{took:.0f} s (pace {PACE:.0f} s = {MODULES} x {CALLS_PER_MODULE} calls x "
          f"{LATENCY:g} s / {PER_BASE}); {queries} queryAllBiz, "
          f"{len(installs(log, ok=False))} installBiz reached the base")
    assert len(installs(log)) == MODULES  # each installed once, none again

"""The Module controller against Arklet answers that real bases give (docs/arklet.md): the
package's manifest decides the identity, and a mismatch with the spec is final for that spec."""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller.devcluster import testing as kt

pytestmark = pytest.mark.cluster
SELECTOR = "app=dynamic-stock"


async def one_base(api, namespace):
    await kt.create_base_deployment(api, namespace, 1)
    (pod,) = await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    return pod


def bound_to(pod) -> dict[str, str]:
    return {c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
            c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}


async def installs(arklets, ip) -> list[dict]:
    return [r for r in (await arklets.requests(ip))["requests"] if r["command"] == "installBiz"]


async def test_version_mismatch_fails_once_per_spec_and_cleans_up(api, namespace, arklets,
                                                                   controller):
    pod = await one_base(api, namespace)
    ip = pod.status.pod_ip
    body = kt.module_body("m1", version="3.0.0", labels=bound_to(pod))
    # The url serves the 2.0.0 package: Arklet installs provider:2.0.0, whatever the request says.
    body["spec"]["module"]["url"] = "http://repo.example/provider-2.0.0-ark-biz.jar"
    await kt.create_module(api, namespace, body)

    failed = await kt.wait_module_phase(api, namespace, "m1", "Failed")
    assert failed["status"]["reason"] == "VersionMismatch"
    assert "provider:3.0.0" in failed["status"]["message"]
    assert "provider:2.0.0" in failed["status"]["message"]
    warnings = [e for e in await kt.events_for(api, namespace, "m1")
                if e.type == "Warning" and e.reason == "VersionMismatch"]
    assert warnings
    # The biz the wrong package brought is taken off again: nobody stands for it.
    await kt.wait_for(lambda: arklets.bizzes(ip), lambda bizzes: bizzes == [],
                      timeout=30, what="the mismatched biz to be uninstalled")

    # Fixing the spec (a new generation) installs again, once, and ends Available.
    await kt.patch_module(api, namespace, "m1", {"spec": {"module": {
        "url": "http://repo.example/provider-3.0.0-ark-biz.jar"}}})
    available = await kt.wait_module_phase(api, namespace, "m1", "Available")
    assert available["status"]["observedGeneration"] == available["metadata"]["generation"]
    # One install for the mismatched spec, one for the fixed one: no loop in between.
    assert len(await installs(arklets, ip)) == 2
    names = {(b["bizName"], b["bizVersion"]) for b in await arklets.bizzes(ip)}
    assert names == {("provider", "3.0.0")}

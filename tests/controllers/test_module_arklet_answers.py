"""The Module controller against Arklet answers that real bases give (docs/arklet.md): the
package's manifest decides the identity, and a mismatch with the spec is final for that spec."""

from __future__ import annotations

import asyncio

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.cluster import bases

pytestmark = pytest.mark.cluster
# A controller that starts on a busy machine primes its caches before its first reconcile; the
# outcome then takes at most a few Arklet calls of --install-timeout (10 s) each.
DEADLINE = 120.0


async def one_base(api, namespace):
    (pod,) = await bases(api, namespace, 1)
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

    failed = await kt.wait_module_phase(api, namespace, "m1", "Failed", timeout=DEADLINE)
    assert failed["status"]["reason"] == "VersionMismatch"
    assert "provider:3.0.0" in failed["status"]["message"]
    assert "provider:2.0.0" in failed["status"]["message"]
    # Events are posted in the background: wait for it, within the deadline.
    await kt.wait_for(lambda: kt.events_for(api, namespace, "m1"),
                      lambda events: any(e.type == "Warning" and e.reason == "VersionMismatch"
                                         for e in events),
                      timeout=DEADLINE, what="a Warning Event VersionMismatch")
    # The biz the wrong package brought is taken off again: nobody stands for it.
    await kt.wait_for(lambda: arklets.bizzes(ip), lambda bizzes: bizzes == [],
                      timeout=DEADLINE, what="the mismatched biz to be uninstalled")

    # Fixing the spec (a new generation) installs again, once, and ends Available.
    await kt.patch_module(api, namespace, "m1", {"spec": {"module": {
        "url": "http://repo.example/provider-3.0.0-ark-biz.jar"}}})
    available = await kt.wait_module_phase(api, namespace, "m1", "Available", timeout=DEADLINE)
    assert available["status"]["observedGeneration"] == available["metadata"]["generation"]
    # One install for the mismatched spec, one for the fixed one: no loop in between.
    assert len(await installs(arklets, ip)) == 2
    names = {(b["bizName"], b["bizVersion"]) for b in await arklets.bizzes(ip)}
    assert names == {("provider", "3.0.0")}


async def test_install_answered_done_but_never_listed_is_bounded(api, namespace, dev_cluster,
                                                                 tmp_path):
    """An Arklet that answers every install SUCCESS but never lists the biz: one install per
    attempt, then Failed/InstallNotVerified and the queue's backoff (not 144 installs in 45 s)."""
    from aiohttp import web

    from module_controller_dev.devcluster.controllerproc import ControllerProcess

    await kt.create_base_deployment(api, namespace, 1,
                                    annotations={"sim.serverless.alipay.com/arklet": "none"})
    (pod,) = await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 1)
    calls: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        command = request.match_info["command"]
        calls.append(command)
        data = [] if command == "queryAllBiz" else {"code": "SUCCESS", "message": "done"}
        return web.json_response({"code": "SUCCESS", "data": data})

    app = web.Application()
    app.router.add_post("/{command}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, pod.status.pod_ip, 1238).start()
    # A long first backoff: the count read below cannot race the next attempt.
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log",
                             namespaces=[namespace],
                             extra_args=["--retry-backoff-initial=60", "--retry-backoff-max=60",
                                         "--arklet-timeout=2", "--install-timeout=10"]).start()
    try:
        await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
        failed = await kt.wait_module_phase(api, namespace, "m1", "Failed", timeout=DEADLINE)
        assert failed["status"]["reason"] == "InstallNotVerified", failed["status"]
        assert calls.count("installBiz") == 1, calls
        # Logged once per attempt at WARNING with the reason, without a traceback.
        log = await kt.wait_for(
            lambda: asyncio.to_thread(proc.log_text),
            lambda text: any("WARNING" in line and "installed but not listed" in line
                             for line in text.splitlines()),
            timeout=DEADLINE, what="the controller's warning about the attempt")
        assert "ArkletRefused" not in log
    finally:
        proc.stop()
        await runner.cleanup()


async def test_binding_labels_never_override_the_selector(api, namespace, arklets, controller):
    """A hand-made Module naming a pod its selector does not match is not installed there."""
    pod = await one_base(api, namespace)
    await kt.create_module(api, namespace, kt.module_body("m1", app="someone-else",
                                                          labels=bound_to(pod)))
    failed = await kt.wait_module_phase(api, namespace, "m1", "Failed", timeout=DEADLINE)
    assert failed["status"]["reason"] == "SelectorMismatch", failed["status"]
    assert await installs(arklets, pod.status.pod_ip) == []

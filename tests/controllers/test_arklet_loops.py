"""Loops against hostile or broken Arklet answers are bounded, and deletion pre-empts them
(issue 14, items 9 and 10; docs/security.md). Fake Arklets with injected faults, real cluster."""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller.devcluster import testing as kt
from module_controller.devcluster.controllerproc import ControllerProcess

from controller_args import (API_REQUEST_MAX, ARKLET_CALL_MAX, ARKLET_TIMEOUT, FAST,
                             MODULE_STEP, RETRY_BACKOFF_MAX)

pytestmark = pytest.mark.cluster
SELECTOR = "app=dynamic-stock"

# An install timeout far above everything else in the removal: a Module that waited for its
# hanging install to time out could not be gone within REMOVAL_AFTER_DELETE.
LONG_INSTALL_TIMEOUT = 600.0
# Deleted while its install hangs: the install is abandoned when the deletion is seen (one
# --arklet-timeout is allowed for that), then the removal: a queryAllBiz and an uninstall (each
# all their attempts), the finalizer removal (one API request), one requeue.
REMOVAL_AFTER_DELETE = ARKLET_TIMEOUT + 2 * ARKLET_CALL_MAX + API_REQUEST_MAX + RETRY_BACKOFF_MAX
assert REMOVAL_AFTER_DELETE < LONG_INSTALL_TIMEOUT


def bound_to(pod) -> dict[str, str]:
    return {c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
            c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}


async def commands(arklets, ip: str, command: str) -> list[dict]:
    return [r for r in (await arklets.requests(ip))["requests"] if r["command"] == command]


async def test_deletion_abandons_a_hanging_install(api, namespace, arklets, dev_cluster, tmp_path):
    await kt.create_base_deployment(api, namespace, 1)
    (pod,) = await kt.wait_ready_pods(api, namespace, SELECTOR, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, "installBiz", hang=True)
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log", [namespace],
                             FAST + [f"--install-timeout={LONG_INSTALL_TIMEOUT:g}"]).start()
    try:
        await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
        # The install reached the base and hangs there.
        await kt.wait_for(lambda: commands(arklets, ip, "installBiz"), lambda found: len(found) == 1,
                          timeout=MODULE_STEP, what="the installBiz to arrive")
        await kt.delete_module(api, namespace, "m1")
        await kt.wait_module_gone(api, namespace, "m1", timeout=REMOVAL_AFTER_DELETE)
        # No install (nor switch) was sent after the deletion; only the one that hung.
        assert len(await commands(arklets, ip, "installBiz")) == 1
        assert await commands(arklets, ip, "switchBiz") == []
        assert "install abandoned" in proc.log_text()
    finally:
        await arklets.clear_faults(ip)
        alive = proc.alive
        proc.stop()
        assert alive, proc.log_text()[-3000:]

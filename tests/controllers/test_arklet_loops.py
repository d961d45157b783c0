"""Loops against hostile or broken Arklet answers are bounded, and deletion pre-empts them
(docs/security.md). Fake Arklets with injected faults, real cluster."""

from __future__ import annotations

import asyncio
import re

import pytest

from module_controller.api import constants as c
from module_controller.arklet import ArkletClient, ArkletSettings, arklet_port
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess
from module_controller.planning.module_lifecycle import INSTALLS_PER_GENERATION

from helpers.controller_args import (API_REQUEST_MAX, ARKLET_CALL_MAX, ARKLET_TIMEOUT, FAST,
                             MODULE_STEP, RETRY_BACKOFF_MAX)
from helpers.cluster import bases

pytestmark = pytest.mark.cluster

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
    (pod,) = await bases(api, namespace, 1)
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


def reason(module: dict | None) -> str | None:
    return ((module or {}).get("status") or {}).get("reason")


async def wait_event(api, namespace: str, name: str, reason: str, timeout: float) -> None:
    # Events are posted in the background: wait for it rather than read once.
    await kt.wait_for(lambda: kt.events_for(api, namespace, name),
                      lambda events: any(e.type == "Warning" and e.reason == reason
                                         for e in events),
                      timeout=timeout, what=f"a Warning Event {reason}")


async def test_install_reply_claiming_an_unlisted_biz_is_not_trusted(api, namespace, arklets,
                                                                      controller):
    """installBiz answers SUCCESS with bizInfos claiming the biz ACTIVATED, queryAllBiz never
    lists it: the Module is never Available, and the reinstalls end at the bound."""
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, "installBiz", fail_rate=1.0, fail_code="unlisted")
    try:
        await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
        # Each attempt is one step of the Module, then the queue's backoff.
        failed = await kt.wait_for(lambda: kt.get_module(api, namespace, "m1"),
                                   lambda m: reason(m) == "InstallNotKept",
                                   timeout=INSTALLS_PER_GENERATION * MODULE_STEP,
                                   what="the install bound to be reached")
        status = failed["status"]
        assert status["installs"] == INSTALLS_PER_GENERATION
        assert status["observedGeneration"] == failed["metadata"]["generation"]
        assert "provider:1.0.0" in status["message"]
        await wait_event(api, namespace, "m1", "InstallNotKept", MODULE_STEP)
        assert len(await commands(arklets, ip, "installBiz")) == INSTALLS_PER_GENERATION
        # The reply's bizInfos never made it Available.
        events = await kt.events_for(api, namespace, "m1")
        assert "Installed" not in [e.reason for e in events]
        # Final for this spec; a new spec installs again (the count below: none in between).
        await arklets.clear_faults(ip)
        await kt.patch_module(api, namespace, "m1", {"spec": {"module": {
            "version": "2.0.0", "url": "http://repo.example/provider-2.0.0-ark-biz.jar"}}})
        available = await kt.wait_module_phase(api, namespace, "m1", "Available",
                                               timeout=MODULE_STEP)
        assert available["status"]["installs"] == 1
        assert len(await commands(arklets, ip, "installBiz")) == INSTALLS_PER_GENERATION + 1
    finally:
        await arklets.clear_faults(ip)


async def test_drift_reinstalls_are_bounded_per_generation(api, namespace, arklets, dev_cluster,
                                                           tmp_path):
    """A biz that keeps going missing while the base runs on (here: uninstalled behind the
    controller's back; health's JVM uptime shows no restart) is reinstalled by the drift check at
    most INSTALLS_PER_GENERATION - 1 times, then Failed/InstallNotKept. (Reinstalls after real
    restarts are not counted against the bound: test_liveness.py.)"""
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log", [namespace],
                             FAST + ["--drift-check-period=1"]).start()
    try:
        await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
        for installs in range(1, INSTALLS_PER_GENERATION + 1):
            # One drift period, then one step of the Module.
            await kt.wait_for(lambda: kt.get_module(api, namespace, "m1"),
                              lambda m, installs=installs: kt.phase(m) == "Available"
                              and m["status"].get("installs") == installs,
                              timeout=1 + MODULE_STEP, what=f"install {installs} Available")
            async with ArkletClient(ArkletSettings()) as hand:  # the biz is gone, base runs on
                assert (await hand.uninstall(ip, "provider", "1.0.0", port=arklet_port(
                    pod.metadata.annotations, ArkletSettings.port))).ok
        failed = await kt.wait_for(lambda: kt.get_module(api, namespace, "m1"),
                                   lambda m: kt.phase(m) == "Failed",
                                   timeout=1 + MODULE_STEP, what="the reinstall bound")
        assert failed["status"]["reason"] == "InstallNotKept", failed["status"]
        await wait_event(api, namespace, "m1", "InstallNotKept", MODULE_STEP)
        assert len(await commands(arklets, ip, "installBiz")) == INSTALLS_PER_GENERATION
        assert await arklets.bizzes(ip) == []
    finally:
        alive = proc.alive
        proc.stop()
        assert alive, proc.log_text()[-3000:]


# A hung call ends its reconcile; the work queue's backoff schedules the next try. Short install
# timeout so a few attempts come quickly; the queue's flags are FAST's.
SHORT_INSTALL_TIMEOUT = 1.0
ATTEMPTS = 3


def queue_retries(log: str, namespace: str, name: str) -> list[str]:
    """The work queue's one line per failed reconcile of the Module ("...; retry N in X s")."""
    key = f"runtime.queue: Module: {(namespace, name)!r}:"
    return [line for line in log.splitlines()
            if key in line and re.search(r"; retry \d+ in [\d.]+s$", line)]


@pytest.mark.parametrize("command, fault", [
    ("installBiz", {"hang": True}),
    ("queryAllBiz", {"hang": True}),
    ("installBiz", {"fail_rate": 1.0, "fail_code": "http500"}),
], ids=["install-hangs", "query-hangs", "install-http500"])
async def test_a_hung_base_costs_one_call_per_reconcile(api, namespace, arklets, dev_cluster,
                                                        tmp_path, command, fault):
    """docs/arklet.md, "How long one call can take": a call that reached the base and got no
    usable answer is made once per reconcile; the client does not send it again (before, a hung
    queryAllBiz was sent 4 times, each a whole timeout, inside one reconcile, under the queue's
    own retries). Counted, not timed: the fake's request log against the queue's retry lines."""
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, command, **fault)
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log", [namespace],
                             FAST + [f"--install-timeout={SHORT_INSTALL_TIMEOUT:g}"]).start()
    try:
        await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
        await kt.wait_for(lambda: asyncio.to_thread(proc.log_text),
                          lambda log: len(queue_retries(log, namespace, "m1")) >= ATTEMPTS,
                          timeout=ATTEMPTS * (MODULE_STEP + RETRY_BACKOFF_MAX),
                          what=f"{ATTEMPTS} queue retries of the Module")
        # The reconcile said why it failed (the status flips to Upgrading while an install is
        # under way, so the Warning Event is what is checked).
        await wait_event(api, namespace, "m1", "ArkletUnavailable", MODULE_STEP)
    finally:
        alive = proc.alive
        proc.stop()  # nothing more is sent: the counts below are final
    assert alive, proc.log_text()[-3000:]
    try:
        sent = len(await commands(arklets, ip, command))
    finally:
        await arklets.clear_faults(ip)
    retries = queue_retries(proc.log_text(), namespace, "m1")
    # One call per reconcile: each retry line follows exactly one request, and at most one more
    # request (the reconcile the stop cut short) has no retry line yet.
    assert len(retries) <= sent <= len(retries) + 1, (sent, retries)
    assert all("does not answer" in line for line in retries), retries
    assert "Traceback" not in proc.log_text()
    # One decision line per failed attempt.
    assert "decision=failed reason=ArkletUnavailable" in proc.log_text()

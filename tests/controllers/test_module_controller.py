"""The Module controller against the real API server and simulated bases (issue: one module
instance on one base)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.controller_args import API_REQUEST_MAX, MODULE_STEP, RETRY_BACKOFF_INITIAL, RETRY_BACKOFF_MAX
from helpers.cluster import bases

pytestmark = pytest.mark.cluster
SELECTOR = "app=dynamic-stock"


def bound_to(pod) -> dict[str, str]:
    return {c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name, c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}


async def commands(arklets, ip, command=None) -> list[dict]:
    log = (await arklets.requests(ip))["requests"]
    return [r for r in log if command is None or r["command"] == command]


async def test_bound_module_becomes_available_with_one_install(api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    await kt.create_module(api, namespace, kt.module_body("m1", labels=bound_to(pod)))
    module = await kt.wait_module_phase(api, namespace, "m1", "Available")

    installs = await commands(arklets, pod.status.pod_ip, "installBiz")
    assert len(installs) == 1 and installs[0]["body"]["bizName"] == "provider"
    assert c.FINALIZER_ALLOCATE_POD in module["metadata"]["finalizers"]
    live = await client.CoreV1Api(api).read_namespaced_pod(pod.metadata.name, namespace)
    assert live.metadata.labels[c.module_label_key("provider")] == "true"
    assert live.metadata.labels[c.LABEL_MODULE_INSTANCE_COUNT] == "1"
    # Events are posted in the background: wait for it rather than read once.
    await kt.wait_for(lambda: kt.events_for(api, namespace, "m1"),
                      lambda events: "Installed" in {e.reason for e in events},
                      timeout=30, what="an Installed Event")


async def test_unbound_module_picks_an_eligible_base(api, namespace, arklets, controller):
    full, hosting, free = await bases(api, namespace, 3)
    core = client.CoreV1Api(api)
    await core.patch_namespaced_pod(full.metadata.name, namespace,
                                    {"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "0"}}})
    # A matching pod that never becomes ready (bound to a node nobody runs).
    await core.create_namespaced_pod(namespace, {
        "metadata": {"name": "not-ready", "labels": {"app": "dynamic-stock"}},
        "spec": {"nodeName": "nobody", "containers": [{"name": "b", "image": "b"}]},
    })
    await kt.create_module(api, namespace, kt.module_body("first", labels=bound_to(hosting)))
    await kt.wait_module_phase(api, namespace, "first", "Available")

    await kt.create_module(api, namespace, kt.module_body("second"))
    second = await kt.wait_module_phase(api, namespace, "second", "Available")
    assert second["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME] == free.metadata.name
    assert second["metadata"]["labels"][c.LABEL_BASE_INSTANCE_IP] == free.status.pod_ip
    assert await commands(arklets, full.status.pod_ip, "installBiz") == []

    # No eligible base left for a third instance of the same module: it waits, Pending.
    await kt.create_module(api, namespace, kt.module_body("third"))
    third = await kt.wait_module_phase(api, namespace, "third", "Pending")
    assert third["status"]["reason"] == "NoEligibleBase"
    # ... and is placed as soon as a base has room again.
    await core.patch_namespaced_pod(full.metadata.name, namespace,
                                    {"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "3"}}})
    third = await kt.wait_module_phase(api, namespace, "third", "Available")
    assert third["metadata"]["labels"][c.LABEL_BASE_INSTANCE_NAME] == full.metadata.name


async def test_unparsable_max_module_count_places_nothing_and_says_so(api, namespace, controller):
    """``max-module-count: "abc"`` on the base Deployment counts as 0, not as unlimited, and a
    Warning Event on the Deployment names the label and the value."""
    await bases(api, namespace, 1)
    apps = client.AppsV1Api(api)
    await apps.patch_namespaced_deployment("dynamic-stock-deployment", namespace, {
        "metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "abc"}}})
    await kt.create_module(api, namespace, kt.module_body("m1"))
    pending = await kt.wait_module_phase(api, namespace, "m1", "Pending", timeout=MODULE_STEP)
    assert pending["status"]["reason"] == "NoEligibleBase"
    assert c.LABEL_BASE_INSTANCE_NAME not in (pending["metadata"].get("labels") or {})
    events = await kt.wait_for(
        lambda: kt.events_for(api, namespace, "dynamic-stock-deployment"),
        lambda found: any(e.reason == "InvalidMaxModuleCount" for e in found),
        timeout=MODULE_STEP, what="an InvalidMaxModuleCount Event on the Deployment")
    (event,) = [e for e in events if e.reason == "InvalidMaxModuleCount"]
    assert event.type == "Warning" and event.involved_object.kind == "Deployment"
    assert "'abc'" in event.message and "treated as 0" in event.message
    # Fixed, the base takes the module.
    await apps.patch_namespaced_deployment("dynamic-stock-deployment", namespace, {
        "metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: "1"}}})
    await kt.wait_module_phase(api, namespace, "m1", "Available", timeout=MODULE_STEP)


async def test_install_failing_three_times_then_succeeding(api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, "installBiz", fail_count=3, fail_code="FAILED")
    await kt.create_module(api, namespace, kt.module_body("m", labels=bound_to(pod)))
    await kt.wait_module_phase(api, namespace, "m", "Available", timeout=60)

    assert len(await commands(arklets, ip, "installBiz")) == 4
    # Three failures that differ only in the attempt number: one status write, one Event
    # (docs/security.md: a retry that fails the same way writes nothing).
    failures = await kt.wait_for(
        lambda: kt.events_for(api, namespace, "m"),
        lambda evs: any(e.reason == "InstallFailed" for e in evs), what="an InstallFailed Event")
    messages = [e.message for e in failures if e.reason == "InstallFailed"]
    assert len(messages) == 1 and "(attempt 1)" in messages[0], messages
    # The log tells the story once per decision: four installs planned, three refusals, one
    # Available; a refusal is an expected outcome, logged without a traceback.
    # (Logged when the controller has the status write's answer, which the test may see first.)
    log = await kt.wait_for(lambda: asyncio.to_thread(controller.log_text),
                            lambda text: f"Module {namespace}/m: decision=available " in text,
                            timeout=API_REQUEST_MAX, what="the Available decision in the log")
    mine = [line for line in log.splitlines() if f"Module {namespace}/m: decision=" in line]
    assert sum("decision=install " in line for line in mine) == 4, mine
    assert sum("decision=failed reason=InstallFailed" in line for line in mine) == 3, mine
    assert sum("decision=available " in line for line in mine) == 1, mine
    assert "Traceback" not in log


async def test_install_failing_forever_backs_off_with_a_cap(api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_fault(ip, "installBiz", fail_rate=1.0, fail_code="FAILED")
    await kt.create_module(api, namespace, kt.module_body("m", labels=bound_to(pod)))
    module = await kt.wait_module_phase(api, namespace, "m", "Failed")
    assert module["status"]["reason"] == "InstallFailed"
    assert "REPEAT_BIZ" not in module["status"]["message"]
    assert "install biz not success" in module["status"]["message"] or "FAILED" in module["status"]["message"]

    installs = await kt.wait_for(lambda: commands(arklets, ip, "installBiz"),
                                 lambda rs: len(rs) >= 7,
                                 # the Module's step, plus six requeues at the longest backoff
                                 timeout=MODULE_STEP + 6 * RETRY_BACKOFF_MAX,
                                 what="7 install attempts")
    # The delays the controller chose, from its own log ("retry N in X s"). The policy
    # (runtime/backoff.py): the wait after failure n is drawn from [max(initial, upper/2), upper],
    # upper = min(cap, initial * 2**n); with 0.2 s and a 1 s cap: [0.2, 0.4], [0.4, 0.8], then
    # [0.5, 1.0]. Read from the log, not from the request times, whose gaps a busy machine
    # stretches: only lower bounds are checked on those.
    key = f"runtime.queue: Module: {(namespace, 'm')!r}:"

    async def delays() -> list[float]:
        found = (re.search(r"; retry \d+ in ([\d.]+)s$", line)
                 for line in controller.log_text().splitlines() if key in line)
        return [float(m.group(1)) for m in found if m]

    chosen = await kt.wait_for(delays, lambda d: len(d) >= 6, timeout=MODULE_STEP,
                               what="6 retries in the controller log")
    assert chosen[0] <= RETRY_BACKOFF_INITIAL * 2 + 0.05, chosen           # starts small ...
    assert min(chosen[2:]) >= RETRY_BACKOFF_MAX / 2 - 0.05, chosen       # ... grows to the cap's
    assert max(chosen) <= RETRY_BACKOFF_MAX + 0.05, chosen               # window, never past it
    times = [r["time"] for r in installs]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[-1] >= RETRY_BACKOFF_MAX / 2 * 0.9, gaps  # an attempt waits out the chosen delay
    assert (await kt.get_module(api, namespace, "m"))["status"]["status"] in ("Failed", "Upgrading")


async def test_delete_module_removes_label_first_then_uninstalls_once(api, namespace, arklets,
                                                                     controller):
    (pod,) = await bases(api, namespace, 1)
    ip, core = pod.status.pod_ip, client.CoreV1Api(api)
    await kt.create_module(api, namespace, kt.module_body("m", labels=bound_to(pod)))
    await kt.wait_module_phase(api, namespace, "m", "Available")
    await arklets.set_fault(ip, "uninstallBiz", latency=1.0)  # < --arklet-timeout

    await kt.delete_module(api, namespace, "m")
    label = c.module_label_key("provider")
    await kt.wait_for(lambda: core.read_namespaced_pod(pod.metadata.name, namespace),
                      lambda p: label not in (p.metadata.labels or {}), what="service label removed")
    # The label went while the module was still installed: routing stopped before uninstall.
    assert [b["bizName"] for b in await arklets.bizzes(ip)] == ["provider"]

    await kt.wait_module_gone(api, namespace, "m")
    assert len(await commands(arklets, ip, "uninstallBiz")) == 1
    assert await arklets.bizzes(ip) == []
    live = await core.read_namespaced_pod(pod.metadata.name, namespace)
    assert live.metadata.labels[c.LABEL_MODULE_INSTANCE_COUNT] == "0"


async def test_deleting_the_base_pod_cleans_up_its_modules(api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    for name in ("a", "b"):
        await kt.create_module(api, namespace, kt.module_body(name, module=f"mod-{name}",
                                                              labels=bound_to(pod)))
        await kt.wait_module_phase(api, namespace, name, "Available")
    await client.CoreV1Api(api).delete_namespaced_pod(pod.metadata.name, namespace)
    for name in ("a", "b"):
        await kt.wait_module_gone(api, namespace, name, timeout=60)


async def test_controller_killed_during_install_ends_with_one_copy(api, namespace, arklets,
                                                                   controller):
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await arklets.set_install_latency(ip, 3.0)
    await kt.create_module(api, namespace, kt.module_body("m", labels=bound_to(pod)))
    # Shown as Upgrading once the install has taken a while: that is mid-install.
    await kt.wait_module_phase(api, namespace, "m", "Upgrading", timeout=30)
    controller.kill()
    controller.start()
    await kt.wait_module_phase(api, namespace, "m", "Available", timeout=60)
    assert [b["bizName"] for b in await arklets.bizzes(ip)] == ["provider"]
    succeeded = [r for r in await commands(arklets, ip, "installBiz") if r["code"] == "SUCCESS"]
    assert len(succeeded) == 1, succeeded


async def test_kubectl_lists_a_bases_modules_with_status(api, namespace, arklets, controller,
                                                         dev_cluster):
    one, two = await bases(api, namespace, 2)
    for name, pod in (("x", one), ("y", one), ("z", two)):
        await kt.create_module(api, namespace, kt.module_body(name, module=f"mod-{name}",
                                                              labels=bound_to(pod)))
    for name in "xyz":
        await kt.wait_module_phase(api, namespace, name, "Available")
    kubectl = Path(sys.executable).with_name("kubectl")
    out = subprocess.run(
        [str(kubectl), f"--kubeconfig={dev_cluster.kubeconfig}", "-n", namespace, "get", "module",
         "-l", f"{c.LABEL_BASE_INSTANCE_IP}={one.status.pod_ip}",
         "-o", "custom-columns=NAME:.metadata.name,STATUS:.status.status"],
        capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert out == ["NAME", "STATUS", "x", "Available", "y", "Available"]

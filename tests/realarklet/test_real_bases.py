"""The controller end to end on real koupleless bases: the seed manual's release flow
on two 2025-generation bases, a package whose manifest disagrees with the spec, an
undownloadable url, and install/upgrade/uninstall on a 2023-generation base. Every assertion
about what runs reads the real bases' own queryAllBiz."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl, kubectl_apply

from helpers.release import completed, paused_at
from real_helpers import MODULE, bizzes, wait_bizzes

pytestmark = [pytest.mark.cluster, pytest.mark.realbase]

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "samples" / "seed003_moduledeployment.yaml"
# Real installs take 1-4 s each and JVMs share two cores with the suite: deadlines are generous
# multiples of the controller's own install timeout (120 s), never expectations of speed.
RELEASE = 300.0
ACTIVATED = "ACTIVATED"


async def _wait_md(api, namespace: str, check, what: str) -> dict:
    return await kt.wait_for(lambda: kt.get_deployment(api, namespace, "moduledeployment-sample"),
                             check, timeout=RELEASE, interval=0.5,
                             what=f"ModuleDeployment moduledeployment-sample: {what}")


def _sample(real_bases, version: str) -> dict:
    body = yaml.safe_load(SAMPLE.read_text())
    module = body["spec"]["template"]["spec"]["module"]
    module["version"] = version
    module["url"] = real_bases.url(version)
    return body


async def _on_bases(real_bases) -> list[set[tuple[str, str, str]]]:
    return [await bizzes(pod) for pod in real_bases.pods]


async def test_seed_manual_flow_on_real_bases(api, dev_cluster, real_bases, real_controller):
    ns, kc = real_bases.namespace, dev_cluster.kubeconfig
    kubectl_apply(kc, ns, _sample(real_bases, "1.0.2"))

    # needConfirm with batchCount 2 over 2 replicas: one instance, then a pause.
    await _wait_md(api, ns, paused_at(1), "paused after group 1")
    running = await _on_bases(real_bases)
    assert sorted(len(found) for found in running) == [0, 1], running
    assert {(MODULE, "1.0.2", ACTIVATED)} in running

    kubectl(kc, ns, "patch", "mddeploy", "moduledeployment-sample", "--type=merge",
               "-p", '{"spec": {"pause": false}}')
    await _wait_md(api, ns, completed(), "Completed at 1.0.2")
    for pod in real_bases.pods:
        assert await bizzes(pod) == {(MODULE, "1.0.2", ACTIVATED)}

    # A new version: a grouped upgrade, paused after its first group again.
    kubectl_apply(kc, ns, _sample(real_bases, "2.0.0"))
    await _wait_md(api, ns, paused_at(1), "upgrade paused after group 1")
    # While it waits, one base runs the new version and the other still the old one.
    split = sorted([[(MODULE, "1.0.2", ACTIVATED)], [(MODULE, "2.0.0", ACTIVATED)]])
    await kt.wait_for(lambda: _on_bases(real_bases),
                      lambda found: sorted(sorted(f) for f in found) == split,
                      timeout=RELEASE, interval=0.5, what="one base on 2.0.0, one on 1.0.2")
    kubectl(kc, ns, "patch", "mddeploy", "moduledeployment-sample", "--type=merge",
               "-p", '{"spec": {"pause": false}}')
    md = await _wait_md(api, ns, completed(), "Completed at 2.0.0")
    assert md["status"]["updatedAvailableReplicas"] == 2
    for pod in real_bases.pods:
        await wait_bizzes(pod, {(MODULE, "2.0.0", ACTIVATED)}, "only 2.0.0 left")
    for module in await kt.list_modules(api, ns):
        assert module["status"]["installedVersion"] == "2.0.0"

    # Offline: in groups like the release, confirmed like it; then the bases are empty.
    kubectl(kc, ns, "delete", "mddeploy", "moduledeployment-sample", "--wait=false")
    await _wait_md(api, ns, lambda m: m is not None and m["metadata"].get("deletionTimestamp")
                   and paused_at(1)(m), "offline paused after group 1")
    kubectl(kc, ns, "patch", "mddeploy", "moduledeployment-sample", "--type=merge",
               "-p", '{"spec": {"pause": false}}')
    await _wait_md(api, ns, lambda m: m is None, "gone")
    assert await kt.list_modules(api, ns) == []
    for pod in real_bases.pods:
        await wait_bizzes(pod, set(), "empty after the offline")


def _module(name: str, pod: client.V1Pod, version: str, url: str, app: str) -> dict:
    body = kt.module_body(name, version=version, app=app, labels={
        c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
        c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip})
    body["spec"]["module"]["url"] = url
    return body


async def _patch_module(api, namespace: str, name: str, module: dict) -> None:
    await kt.patch_module(api, namespace, name, {"spec": {"module": module}})


async def _remove(api, namespace: str, name: str, pod: client.V1Pod) -> None:
    await kt.delete_module(api, namespace, name)
    await kt.wait_module_gone(api, namespace, name, timeout=RELEASE)
    await wait_bizzes(pod, set(), "empty after the Module is deleted")


async def test_version_mismatch_on_a_real_base(api, real_bases, real_controller):
    ns, pod = real_bases.namespace, real_bases.pods[0]
    # Says 3.0.0, serves the 2.0.0 jar: the real Arklet installs provider:2.0.0.
    await kt.create_module(api, ns, _module("mismatch", pod, "3.0.0", real_bases.url("2.0.0"),
                                            "dynamic-stock"))
    failed = await kt.wait_module_phase(api, ns, "mismatch", "Failed", timeout=RELEASE)
    assert failed["status"]["reason"] == "VersionMismatch", failed["status"]
    assert "provider:2.0.0" in failed["status"]["message"]
    await wait_bizzes(pod, set(), "the stray provider:2.0.0 uninstalled again")
    # Events are posted in the background: wait for it, within the deadline.
    await kt.wait_for(lambda: kt.events_for(api, ns, "mismatch"),
                      lambda events: any(e.type == "Warning" and e.reason == "VersionMismatch"
                                         for e in events),
                      timeout=RELEASE, what="a Warning Event VersionMismatch")

    # Saying what the package is (a new generation) installs it.
    await _patch_module(api, ns, "mismatch", {"version": "2.0.0"})
    available = await kt.wait_module_phase(api, ns, "mismatch", "Available", timeout=RELEASE)
    assert available["status"]["installedVersion"] == "2.0.0"
    assert await bizzes(pod) == {(MODULE, "2.0.0", ACTIVATED)}
    await _remove(api, ns, "mismatch", pod)


async def test_undownloadable_url_fails_then_recovers(api, real_bases, real_controller):
    ns, pod = real_bases.namespace, real_bases.pods[1]
    await kt.create_module(api, ns, _module("missing", pod, "1.0.2",
                                            f"{real_bases.repo}/missing/provider.jar",
                                            "dynamic-stock"))
    failed = await kt.wait_module_phase(api, ns, "missing", "Failed", timeout=RELEASE)
    assert failed["status"]["reason"] == "InstallFailed"
    assert "FileNotFoundException" in failed["status"]["message"]
    assert await bizzes(pod) == set()

    await _patch_module(api, ns, "missing", {"url": real_bases.url("1.0.2")})
    await kt.wait_module_phase(api, ns, "missing", "Available", timeout=RELEASE)
    assert await bizzes(pod) == {(MODULE, "1.0.2", ACTIVATED)}
    await _remove(api, ns, "missing", pod)


async def test_install_upgrade_uninstall_on_a_2023_base(api, real_bases, real_controller):
    ns, pod = real_bases.namespace, real_bases.pod23
    await kt.create_module(api, ns, _module("gen23", pod, "1.0.2", real_bases.url("1.0.2", "2023"),
                                            "base-2023"))
    await kt.wait_module_phase(api, ns, "gen23", "Available", timeout=RELEASE)
    assert await bizzes(pod) == {(MODULE, "1.0.2", ACTIVATED)}

    await _patch_module(api, ns, "gen23", {"version": "2.0.0",
                                           "url": real_bases.url("2.0.0", "2023")})
    module = await kt.wait_for(lambda: kt.get_module(api, ns, "gen23"),
                               lambda m: kt.phase(m) == "Available"
                               and m["status"].get("installedVersion") == "2.0.0",
                               timeout=RELEASE, what="gen23 Available at 2.0.0")
    assert module["status"]["observedGeneration"] == module["metadata"]["generation"]
    await wait_bizzes(pod, {(MODULE, "2.0.0", ACTIVATED)}, "only 2.0.0 after the upgrade")
    await _remove(api, ns, "gen23", pod)

"""The ModuleDeployment controller end to end, driven with kubectl as the seed manual does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl, kubectl_patch as patch

from helpers.controller_args import MODULE_STEP
from helpers.cluster import bases

pytestmark = pytest.mark.cluster
SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
SELECTOR = "app=dynamic-stock"
MD = "moduledeployment-sample"


async def versions_on_bases(arklets, pods) -> list[list[str]]:
    out = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        out.append(sorted(f"{b['bizName']}:{b['bizVersion']}"
                          for b in await arklets.bizzes(pod.status.pod_ip)))
    return out


def replica_counts(replicasets: list[dict]) -> dict[str, tuple[int, int]]:
    return {r["metadata"]["name"]: (r["spec"]["replicas"],
                                    (r.get("status") or {}).get("availableReplicas", 0))
            for r in replicasets}


async def test_seed_003_release_confirm_and_upgrade(api, namespace, arklets, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    pods = await bases(api, namespace, 2)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "seed003_moduledeployment.yaml"))
    # batchCount 2 + needConfirm: the first group is one instance, then the controller pauses.
    md = await kt.wait_progress(api, namespace, MD, "Paused", batch=1)
    assert md["spec"]["pause"] is True
    assert md["status"]["releaseStatus"]["realBatchCount"] == 2
    patch(kc, namespace, "mddeploy", MD, {"spec": {"pause": False}})
    md = await kt.wait_progress(api, namespace, MD, "Completed")
    assert md["status"]["availableReplicas"] == 2
    assert await versions_on_bases(arklets, pods) == [["provider:1.0.2"], ["provider:1.0.2"]]

    # Version change: grouped release, paused after group 1 with the counts split 1/1.
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "seed003_moduledeployment_upgrade.yaml"))
    md = await kt.wait_progress(api, namespace, MD, "Paused", batch=1)
    assert md["spec"]["pause"] is True
    counts = replica_counts(await kt.list_replicasets(api, namespace))
    assert counts == {f"{MD}-replicas-1": (1, 1), f"{MD}-replicas-2": (1, 1)}, counts
    patch(kc, namespace, "mddeploy", MD, {"spec": {"pause": False}})
    md = await kt.wait_progress(api, namespace, MD, "Completed")
    assert md["spec"]["pause"] is False
    assert md["status"]["updatedAvailableReplicas"] == 2
    assert await versions_on_bases(arklets, pods) == [["provider:2.0.0"], ["provider:2.0.0"]]
    # The Service label follows the module on both bases.
    live = await kt.list_pods(api, namespace, SELECTOR)
    assert all(p.metadata.labels.get(c.module_label_key("provider")) == "true" for p in live)


async def test_confirm_batch_num_is_idempotent(api, namespace, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 3)
    body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
    body["spec"]["replicas"] = 3
    body["spec"]["operationStrategy"]["batchCount"] = 3
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    await kt.wait_progress(api, namespace, MD, "Paused", batch=1)
    patch(kc, namespace, "mddeploy", MD, {"spec": {"confirmBatchNum": 1}})
    md = await kt.wait_progress(api, namespace, MD, "Paused", batch=2)
    assert md["status"]["availableReplicas"] == 2
    # A stale repeat of the same confirmation does nothing.
    patch(kc, namespace, "mddeploy", MD, {"spec": {"confirmBatchNum": 1}})
    md = await kt.wait_progress(api, namespace, MD, "Paused", batch=2)
    modules = await kt.list_modules(api, namespace)
    assert len(modules) == 2, [m["metadata"]["name"] for m in modules]
    patch(kc, namespace, "mddeploy", MD, {"spec": {"confirmBatchNum": 2}})
    md = await kt.wait_progress(api, namespace, MD, "Completed")
    assert md["status"]["availableReplicas"] == 3
    assert md["spec"]["confirmBatchNum"] == 0 and md["spec"]["pause"] is False


async def test_delete_takes_modules_offline_in_groups(api, namespace, arklets, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    pods = await bases(api, namespace, 2)
    body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
    body["spec"]["operationStrategy"]["needConfirm"] = False
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    await kt.wait_progress(api, namespace, MD, "Completed")
    patch(kc, namespace, "mddeploy", MD, {"spec": {"operationStrategy": {"needConfirm": True}}})
    kubectl(kc, namespace, "delete", "mddeploy", MD, "--wait=false")
    await kt.wait_progress(api, namespace, MD, "Paused", batch=1)
    assert len([m for m in await kt.list_modules(api, namespace)
                if not m["metadata"].get("deletionTimestamp")]) == 1
    patch(kc, namespace, "mddeploy", MD, {"spec": {"pause": False}})
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, MD), lambda m: m is None,
                      timeout=60, what="the ModuleDeployment to be gone")
    assert await kt.list_replicasets(api, namespace) == []
    assert await kt.list_modules(api, namespace) == []
    assert await versions_on_bases(arklets, pods) == [[], []]


async def test_peer_mode_follows_the_ready_bases(api, namespace, arklets, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduledeployment_peer.yaml"))
    await kt.wait_for(lambda: kt.modules_per_pod(api, namespace), lambda p: len(p) == 2,
                      timeout=60, what="the module on both bases")
    await client.AppsV1Api(api).patch_namespaced_deployment_scale(
        "dynamic-stock-deployment", namespace, {"spec": {"replicas": 3}})
    per = await kt.wait_for(lambda: kt.modules_per_pod(api, namespace), lambda p: len(p) == 3,
                            timeout=60, what="the new base to get the module")
    assert set(per.values()) == {1}
    md = await kt.get_deployment(api, namespace, "provider-peer")
    assert md["spec"]["replicas"] == -1, "peer mode never writes the resolved number into spec"
    assert md["status"]["desiredReplicas"] == 3


async def test_module_service_follows_the_strategy(api, namespace, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 1)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "seed003_moduledeployment_provider.yaml"))
    core = client.CoreV1Api(api)

    async def service():
        return await core.read_namespaced_service("provider-service", namespace)

    svc = await kt.wait_for(service, timeout=30, what="the module Service")
    assert svc.spec.type == "NodePort"
    assert svc.spec.selector == {c.module_label_key("provider"): "true"}
    assert [(p.name, p.protocol, p.port, p.target_port) for p in svc.spec.ports] == \
        [("http", "TCP", 8080, 8080)]
    patch(kc, namespace, "mddeploy", "moduledeployment-sample-provider",
          {"spec": {"operationStrategy": {"serviceStrategy": {"port": 9090}}}})
    await kt.wait_for(service, lambda s: s.spec.ports[0].port == 9090, what="the port change")

    async def names():
        services = await core.list_namespaced_service(namespace)
        return sorted(s.metadata.name for s in services.items)

    # Renaming the module replaces the Service: the old name's Service does not stay behind.
    patch(kc, namespace, "mddeploy", "moduledeployment-sample-provider",
          {"spec": {"template": {"spec": {"module": {
              "name": "stock", "url": "http://repo.example/stock-1.0.2-ark-biz.jar"}}}}})
    await kt.wait_for(names, lambda found: found == ["stock-service"], timeout=MODULE_STEP,
                      what="the Service of the new name only")
    svc = await core.read_namespaced_service("stock-service", namespace)
    assert svc.spec.selector == {c.module_label_key("stock"): "true"}
    patch(kc, namespace, "mddeploy", "moduledeployment-sample-provider",
          {"spec": {"operationStrategy": {"serviceStrategy": {"enableModuleService": False}}}})
    await kt.wait_for(names, lambda found: found == [], what="Service removed")


async def test_service_conflict_is_reported_and_clears_when_the_name_is_free(
        api, namespace, controller, dev_cluster):
    """A Service of the wanted name that is someone else's: ReplicaFailure ServiceConflict and a
    Warning Event; once it is deleted (Services are not watched: the controller looks again
    with its retry backoff) the Service is made and owned, and the condition goes."""
    kc = dev_cluster.kubeconfig
    name = "moduledeployment-sample-provider"
    await bases(api, namespace, 1)
    core = client.CoreV1Api(api)
    await core.create_namespaced_service(namespace, {
        "metadata": {"name": "provider-service"},
        "spec": {"selector": {"app": "someone-else"}, "ports": [{"port": 80}]}})
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "seed003_moduledeployment_provider.yaml"))

    def failure(md: dict | None) -> dict | None:
        return next((x for x in ((md or {}).get("status") or {}).get("conditions") or []
                     if x["type"] == c.CONDITION_REPLICA_FAILURE), None)

    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, name),
                           lambda m: (failure(m) or {}).get("reason") == c.REASON_SERVICE_CONFLICT,
                           timeout=MODULE_STEP, what="ReplicaFailure ServiceConflict")
    assert failure(md)["status"] == "True"
    assert "provider-service" in failure(md)["message"]
    await kt.wait_for(lambda: kt.events_for(api, namespace, name),
                      lambda events: any(e.type == "Warning" and e.reason == c.REASON_SERVICE_CONFLICT
                                         for e in events),
                      timeout=MODULE_STEP, what="a Warning Event ServiceConflict")
    await kt.wait_progress(api, namespace, name, "Completed", timeout=MODULE_STEP)
    md = await kt.get_deployment(api, namespace, name)
    assert (failure(md) or {}).get("reason") == c.REASON_SERVICE_CONFLICT, \
        "the release's status writes leave the conflict standing"

    await core.delete_namespaced_service("provider-service", namespace)
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, name),
                           lambda m: m is not None and failure(m) is None,
                           timeout=MODULE_STEP, what="the ServiceConflict condition cleared")
    svc = await core.read_namespaced_service("provider-service", namespace)
    assert [r.uid for r in svc.metadata.owner_references or []] == [md["metadata"]["uid"]]
    assert svc.spec.selector == {c.module_label_key("provider"): "true"}
    await kt.wait_for(lambda: kt.events_for(api, namespace, name),
                      lambda events: any(e.type == "Normal" and e.reason == "ServiceConflictResolved"
                                         for e in events),
                      timeout=MODULE_STEP, what="a Normal Event ServiceConflictResolved")


async def test_template_records_which_module_deployments_use_it(api, namespace, controller,
                                                                 dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduletemplate.yaml"))

    async def used_by():
        template = await kt.get_custom(api, c.MODULE_TEMPLATE.plural, namespace,
                                       "provider-template")
        return ((template or {}).get("status") or {}).get("usedBy")

    await kt.wait_for(used_by, lambda users: users == [], timeout=MODULE_STEP,
                      what="usedBy [] for a template nobody uses")
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduledeployment_template_ref.yaml"))
    await kt.wait_for(used_by, lambda users: users == ["provider-template-ref"],
                      timeout=MODULE_STEP, what="usedBy naming the ModuleDeployment")
    kubectl(kc, namespace, "delete", "mddeploy", "provider-template-ref", "--wait=false")
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "provider-template-ref"),
                      lambda found: found is None, timeout=MODULE_STEP,
                      what="the ModuleDeployment to be gone")
    await kt.wait_for(used_by, lambda users: users == [], timeout=MODULE_STEP,
                      what="usedBy empty again")


async def test_template_ref_and_missing_template(api, namespace, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduletemplate.yaml"))
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduledeployment_template_ref.yaml"))
    await kt.wait_progress(api, namespace, "provider-template-ref", "Completed")
    patch(kc, namespace, "mdtpl", "provider-template",
          {"template": {"spec": {"module": {
              "version": "1.0.3", "url": "http://repo.example/provider-1.0.3-ark-biz.jar"}}}})

    async def versions():
        return {m["spec"]["module"]["version"] for m in await kt.list_modules(api, namespace)
                if kt.phase(m) == "Available"}

    await kt.wait_for(versions, lambda v: v == {"1.0.3"}, timeout=60, what="release of 1.0.3")
    await kt.wait_progress(api, namespace, "provider-template-ref", "Completed")
    kubectl(kc, namespace, "delete", "mdtpl", "provider-template")
    md = await kt.wait_for(
        lambda: kt.get_deployment(api, namespace, "provider-template-ref"),
        lambda m: any(x["type"] == c.CONDITION_REPLICA_FAILURE and x["reason"] == c.REASON_TEMPLATE_NOT_FOUND
                      for x in (m.get("status") or {}).get("conditions") or []),
        what="TemplateNotFound")
    assert md["status"]["availableReplicas"] == 2, "the modules stay as they are"


async def test_second_deployment_of_the_same_module_conflicts(api, namespace, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    kubectl(kc, namespace, "apply", "-f", str(SAMPLES / "moduledeployment_basic.yaml"))
    first = yaml.safe_load((SAMPLES / "moduledeployment_basic.yaml").read_text())["metadata"]["name"]
    await kt.wait_progress(api, namespace, first, "Completed")
    second = yaml.safe_load((SAMPLES / "moduledeployment_basic.yaml").read_text())
    second["metadata"]["name"] = "the-same-module-again"
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(second))
    md = await kt.wait_for(
        lambda: kt.get_deployment(api, namespace, "the-same-module-again"),
        lambda m: any(x["type"] == c.CONDITION_REPLICA_FAILURE
                      and x["reason"] == c.REASON_MODULE_NAME_CONFLICT
                      for x in (m.get("status") or {}).get("conditions") or []),
        what="ModuleNameConflict")
    assert kt.progress(md) is None
    assert [r["metadata"]["name"] for r in await kt.list_replicasets(api, namespace)] == \
        [f"{first}-replicas-1"]


async def test_controller_killed_mid_release_resumes(api, namespace, arklets, controller, dev_cluster):
    kc = dev_cluster.kubeconfig
    pods = await bases(api, namespace, 3)
    body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
    body["spec"]["replicas"] = 3
    body["spec"]["operationStrategy"].update({"needConfirm": False, "batchCount": 3,
                                              "grayTimeBetweenBatchSeconds": 2})
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    await kt.wait_progress(api, namespace, MD, "Executing", batch=2)
    controller.kill()
    controller.start()
    md = await kt.wait_progress(api, namespace, MD, "Completed", timeout=90)
    assert md["status"]["availableReplicas"] == 3
    assert await versions_on_bases(arklets, pods) == [["provider:1.0.2"]] * 3
    installs = 0
    for pod in pods:
        log = (await arklets.requests(pod.status.pod_ip))["requests"]
        installs += sum(1 for r in log if r["command"] == "installBiz" and r["code"] == "SUCCESS")
    assert installs == 3


async def test_scaleup_then_scaledown_replaces_the_old_bases(api, namespace, arklets, controller,
                                                            dev_cluster):
    kc = dev_cluster.kubeconfig
    await bases(api, namespace, 3)
    body = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())
    body["spec"]["operationStrategy"].update({"needConfirm": False,
                                              "upgradePolicy": "scaleup_then_scaledown"})
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    await kt.wait_progress(api, namespace, MD, "Completed")
    old_pods = set(await kt.modules_per_pod(api, namespace))
    assert len(old_pods) == 2

    body["spec"]["template"]["spec"]["module"].update(
        version="2.0.0", url="http://repo.example/provider-2.0.0-ark-biz.jar")
    kubectl(kc, namespace, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, MD),
                           lambda m: kt.progress(m) == "Completed"
                           and m["status"]["releaseStatus"]["updateRevision"] == 2
                           and m["status"].get("updatedAvailableReplicas") == 2,
                           timeout=90, what="the scaleup_then_scaledown release to complete")
    assert md["status"]["availableReplicas"] == 2
    live = {p.metadata.name for p in await kt.list_pods(api, namespace, SELECTOR)
            if not p.metadata.deletion_timestamp}
    assert not old_pods & live, "the bases that hosted the old version were recreated"
    modules = await kt.list_modules(api, namespace)
    assert sorted(m["spec"]["module"]["version"] for m in modules) == ["2.0.0", "2.0.0"]
    for pod in await kt.list_pods(api, namespace, SELECTOR):
        # A pod without an IP is one the Deployment has just created in place of a retired
        # base: nothing can be installed on it yet, so it holds no old version.
        if pod.metadata.deletion_timestamp or not pod.status.pod_ip:
            continue
        versions = [b["bizVersion"] for b in await arklets.bizzes(pod.status.pod_ip)]
        assert versions in ([], ["2.0.0"]), versions

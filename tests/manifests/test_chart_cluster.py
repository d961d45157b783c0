"""`helm install` of the chart against the dev cluster's real API server.

The dev cluster has no kubelet, so the controller's pod is never started: the test checks what
Helm made and the API server accepted (validation, defaulting, admission), then that `helm
uninstall` takes it away. Namespaced mode: its objects all live in the test's namespace, so no
cluster-scoped object of another test is touched (cluster mode is compared object by object with
the rendered set in test_chart.py, whose objects test_manifests_cluster.py dry-runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from helm_testkit import CHART, REPO

pytestmark = pytest.mark.cluster

OBJECTS = {("ServiceAccount", "module-controller"), ("Role", "module-controller"),
           ("RoleBinding", "module-controller"), ("Deployment", "module-controller"),
           ("Service", "module-controller-metrics"),
           ("PodDisruptionBudget", "module-controller")}


def helm(helm_bin, kubeconfig, home, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), HELM_CACHE_HOME=str(home / "cache"),
               HELM_CONFIG_HOME=str(home / "config"), HELM_DATA_HOME=str(home / "data"))
    return subprocess.run([str(helm_bin), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def installed(kubectl, namespace: str) -> set[tuple[str, str]]:
    listing = kubectl.get_json("serviceaccounts,roles,rolebindings,deployments,services,"
                               "poddisruptionbudgets", "-n", namespace,
                               "-l", "app.kubernetes.io/part-of=module-controller")
    found = {(item["kind"], item["metadata"]["name"]) for item in listing["items"]}
    # The ServiceAccount and the RBAC objects come from rbac/ and carry no labels of ours.
    for kind, resource in (("ServiceAccount", "serviceaccount"), ("Role", "role"),
                           ("RoleBinding", "rolebinding")):
        proc = kubectl.run("get", resource, "module-controller", "-n", namespace, "-o", "name",
                           check=False)
        if proc.returncode == 0:
            found.add((kind, "module-controller"))
    return found


def test_helm_install_creates_the_objects_the_api_server_accepts(helm_bin, kubectl, namespace,
                                                                  tmp_path):
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"mode": "namespaced", "replicas": 1,
                                  "image": {"repository": "module-controller", "tag": "test"},
                                  "podDeletion": False}))
    proc = helm(helm_bin, kubectl.kubeconfig, tmp_path, "install", "mc", str(CHART), "--namespace",
                namespace, "-f", str(values))
    assert proc.returncode == 0, proc.stderr
    assert OBJECTS <= installed(kubectl, namespace)

    deployment = kubectl.get_json("deployment", "module-controller", "-n", namespace)
    assert deployment["metadata"]["annotations"]["meta.helm.sh/release-name"] == "mc"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "module-controller:test"
    assert f"--namespace={namespace}" in container["args"]
    assert "--no-pod-deletion" in container["args"]
    assert deployment["spec"]["replicas"] == 1

    status = helm(helm_bin, kubectl.kubeconfig, tmp_path, "status", "mc", "--namespace", namespace,
                  "-o", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["info"]["status"] == "deployed"

    proc = helm(helm_bin, kubectl.kubeconfig, tmp_path, "uninstall", "mc", "--namespace", namespace)
    assert proc.returncode == 0, proc.stderr
    # Deletion is asynchronous in the API server (foreground propagation of a Deployment, say):
    # poll, within the same bound kubectl's own calls have.
    deadline = time.monotonic() + 60
    while (left := installed(kubectl, namespace) & OBJECTS) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left


def can_i(kubectl, user: str, namespace: str, verb: str, resource: str,
          *extra: str) -> bool:
    proc = kubectl.run("auth", "can-i", verb, resource, f"--as={user}", "-n", namespace,
                       *extra, check=False, timeout=30)
    assert proc.stdout.strip() in ("yes", "no"), proc.stderr
    return proc.stdout.strip() == "yes"


def test_view_and_edit_reach_the_four_kinds_by_aggregation(kubectl, namespace):
    """kube-controller-manager's clusterrole-aggregation folds the aggregate roles of
    rbac/cluster into the default view/edit/admin roles: people bound to them get our kinds."""
    roles = REPO / "rbac" / "cluster" / "aggregate_roles.yaml"
    kubectl.run("apply", "-f", str(roles))
    viewer, editor = f"viewer-{namespace}", f"editor-{namespace}"
    for user, role in ((viewer, "view"), (editor, "edit")):
        kubectl.run("create", "rolebinding", f"{role}-{user}", f"--clusterrole={role}",
                    f"--user={user}", "-n", namespace)
    checks = {
        (viewer, "list", "moduledeployments.serverless.alipay.com"): True,
        (viewer, "get", "modules.serverless.alipay.com"): True,
        (viewer, "patch", "moduledeployments.serverless.alipay.com"): False,
        (editor, "patch", "moduledeployments.serverless.alipay.com"): True,
        (editor, "create", "moduletemplates.serverless.alipay.com"): True,
        (editor, "delete", "modulereplicasets.serverless.alipay.com"): True,
    }
    # The aggregation and the authorizer's informers take a moment: poll.
    deadline = time.monotonic() + 60
    while True:
        answers = {check: can_i(kubectl, check[0], namespace, check[1], check[2])
                   for check in checks}
        if answers == checks or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answers == checks
    # Status stays the controller's, even for edit.
    assert not can_i(kubectl, editor, namespace, "patch",
                     "moduledeployments.serverless.alipay.com", "--subresource=status")
    assert can_i(kubectl, viewer, namespace, "get",
                 "moduledeployments.serverless.alipay.com", "--subresource=status")

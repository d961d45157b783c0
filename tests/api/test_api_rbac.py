"""rbac/ on a real API server: the controller's ServiceAccount can do what the controller needs
and nothing it does not (no Secrets, no writes to user workloads beyond labels), checked with
`kubectl auth can-i --as=system:serviceaccount:<ns>:module-controller`."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api_cases import RBAC
from api_kubectl import Kubectl

pytestmark = pytest.mark.cluster

SA = "module-controller"
CRS = ("moduledeployments", "modulereplicasets", "modules", "moduletemplates")
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")

# (verb, resource, subresource) the controller needs in the namespaces it serves.
NAMESPACED_NEEDS = [
    *[(verb, f"{cr}.serverless.alipay.com", None) for cr in CRS for verb in ALL_VERBS],
    *[(verb, f"{cr}.serverless.alipay.com", "status") for cr in CRS for verb in ("update", "patch")],
    *[("update", f"{cr}.serverless.alipay.com", "finalizers")
      for cr in ("moduledeployments", "modulereplicasets")],
    *[(verb, "pods", None) for verb in ("get", "list", "watch", "patch", "delete")],
    *[(verb, "deployments.apps", None) for verb in ("get", "list", "watch", "patch")],
    *[(verb, "services", None) for verb in ALL_VERBS],
    *[(verb, "events", None) for verb in ("create", "patch")],
    *[(verb, "events.events.k8s.io", None) for verb in ("create", "patch")],
]
LEASES = [(verb, "leases.coordination.k8s.io", None) for verb in ("get", "create", "update")]
CRD_READ = [(verb, "customresourcedefinitions.apiextensions.k8s.io", None)
            for verb in ("get", "list", "watch")]
NAMESPACES_READ = [(verb, "namespaces", None) for verb in ("get", "list", "watch")]
# Never granted, anywhere.
FORBIDDEN = [
    ("get", "secrets", None), ("list", "secrets", None), ("watch", "secrets", None),
    ("get", "configmaps", None),
    ("create", "pods", None), ("update", "pods", None), ("create", "pods", "exec"),
    ("create", "deployments.apps", None), ("update", "deployments.apps", None),
    ("delete", "deployments.apps", None), ("patch", "deployments.apps", "scale"),
    ("delete", "leases.coordination.k8s.io", None),
    ("delete", "events", None),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("create", "namespaces", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("*", "*", None),
]


def overlay(variant: str, namespace: str, directory: Path) -> Path:
    """A kustomize overlay that installs ``rbac/<variant>`` into ``namespace`` (what a user does
    to change the namespace without editing the repository)."""
    directory.mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(RBAC / variant, directory)  # kustomize refuses absolute paths
    (directory / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace}\nresources:\n- {base}\n")
    return directory


class CanI:
    """Answers `kubectl auth can-i` as the controller's ServiceAccount in ``sa_namespace``."""

    def __init__(self, kubectl: Kubectl, sa_namespace: str):
        self.kubectl = kubectl
        self.user = f"system:serviceaccount:{sa_namespace}:{SA}"

    def __call__(self, check: tuple[str, str, str | None], namespace: str | None) -> bool:
        verb, resource, sub = check
        args = ["auth", "can-i", verb, resource, f"--as={self.user}"]
        if sub:
            args.append(f"--subresource={sub}")
        args += ["-n", namespace] if namespace else ["--all-namespaces"]
        result = self.kubectl.run(*args, check=False, timeout=30)
        answer = result.stdout.strip()
        assert answer in ("yes", "no"), result.stderr
        return answer == "yes"

    def many(self, checks, namespace: str | None) -> dict:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda check: self(check, namespace), checks))
        return dict(zip(checks, answers))

    def wait_all(self, checks, namespace: str | None, timeout: float = 30.0) -> None:
        """RBAC objects reach the authorizer through informers: poll until all are granted."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            missing = [check for check, ok in self.many(checks, namespace).items() if not ok]
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"not granted in {namespace or 'the cluster'} after "
                                     f"{timeout:.0f}s: {missing}")
            time.sleep(0.2)

    def assert_denied(self, checks, namespace: str | None) -> None:
        granted = [check for check, ok in self.many(checks, namespace).items() if ok]
        assert not granted, f"granted in {namespace or 'all namespaces'}: {granted}"


@pytest.fixture
def kubectl(dev_cluster) -> Kubectl:
    return Kubectl(dev_cluster.kubeconfig)


@pytest.fixture
def other_namespace(kubectl):
    name = f"t-other-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


def install(kubectl: Kubectl, variant: str, namespace: str, tmp_path: Path):
    directory = overlay(variant, namespace, tmp_path / variant)
    rendered = kubectl.run("kustomize", str(directory)).stdout
    assert "module-controller-system" not in rendered  # the namespace really was rewritten
    kubectl.run("apply", "-k", str(directory))
    return directory


def uninstall(kubectl: Kubectl, directory: Path) -> None:
    # Cluster-scoped objects outlive the test namespace: remove them explicitly.
    kubectl.run("delete", "-k", str(directory), "--ignore-not-found", "--wait=false", check=False)


def test_cluster_wide_variant(kubectl, namespace, other_namespace, tmp_path):
    directory = install(kubectl, "cluster", namespace, tmp_path)
    try:
        can = CanI(kubectl, namespace)
        # Everywhere: the workloads, the CRs, events; cluster-wide: CRDs and namespaces.
        can.wait_all(NAMESPACED_NEEDS, namespace)
        can.wait_all(NAMESPACED_NEEDS, other_namespace)
        can.wait_all(NAMESPACED_NEEDS, None)
        can.wait_all(CRD_READ + NAMESPACES_READ, None)
        # Leases only where the controller runs.
        can.wait_all(LEASES, namespace)
        can.assert_denied(LEASES, other_namespace)
        for where in (namespace, other_namespace, None):
            can.assert_denied(FORBIDDEN, where)
    finally:
        uninstall(kubectl, directory)


def test_namespaced_variant(kubectl, namespace, other_namespace, tmp_path):
    directory = install(kubectl, "namespaced", namespace, tmp_path)
    try:
        can = CanI(kubectl, namespace)
        can.wait_all(NAMESPACED_NEEDS + LEASES, namespace)
        can.wait_all(CRD_READ, None)  # the one thing that must stay cluster-scoped
        can.assert_denied(NAMESPACED_NEEDS + LEASES, other_namespace)
        can.assert_denied(NAMESPACES_READ, None)
        for where in (namespace, other_namespace):
            can.assert_denied(FORBIDDEN, where)
    finally:
        uninstall(kubectl, directory)

"""rbac/ on a real API server: the controller's ServiceAccount can do exactly what the controller
needs (every verb of NEEDS_BY_RESOURCE) and every other verb on the same resources is denied, as
are Secrets, CRDs and namespaces; checked with
`kubectl auth can-i --as=system:serviceaccount:<ns>:module-controller`.
tests/controllers/test_minimal_rbac.py runs the real controller with only these permissions."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from module_controller_dev.devcluster.kubectl import Kubectl

from api_cases import RBAC

pytestmark = pytest.mark.cluster

SA = "module-controller"
CRS = ("moduledeployments", "modulereplicasets", "modules", "moduletemplates")
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")

# (verb, resource, subresource) the controller needs in the namespaces it serves: exactly the calls
# the code makes (docs/security.md, "RBAC: every verb and the code that uses it").
GROUP = "serverless.alipay.com"
NEEDS_BY_RESOURCE: dict[tuple[str, str | None], tuple[str, ...]] = {
    (f"moduledeployments.{GROUP}", None): ("list", "watch", "patch"),
    (f"modulereplicasets.{GROUP}", None): ("list", "watch", "create", "patch", "delete"),
    (f"modules.{GROUP}", None): ("list", "watch", "create", "patch", "delete"),
    (f"moduletemplates.{GROUP}", None): ("list", "watch"),
    (f"moduledeployments.{GROUP}", "status"): ("patch",),
    (f"modulereplicasets.{GROUP}", "status"): ("patch",),
    (f"modules.{GROUP}", "status"): ("patch",),
    (f"moduletemplates.{GROUP}", "status"): ("patch",),
    (f"moduledeployments.{GROUP}", "finalizers"): ("update",),
    (f"modulereplicasets.{GROUP}", "finalizers"): ("update",),
    ("pods", None): ("get", "list", "watch", "patch", "delete"),
    ("deployments.apps", None): ("list", "watch", "patch"),
    ("replicasets.apps", None): ("list", "watch"),
    ("services", None): ("get", "list", "create", "patch", "delete"),
    ("events", None): ("create", "patch"),
    ("events.events.k8s.io", None): (),
}
NAMESPACED_NEEDS = [(verb, resource, sub) for (resource, sub), verbs in NEEDS_BY_RESOURCE.items()
                    for verb in verbs]
# Every other verb on the same resources: once granted (update everywhere, create and delete of
# ModuleDeployments, writes to ModuleTemplates, services update/watch, events.k8s.io), now
# denied; events patch is granted because the Events are aggregated.
NAMESPACED_UNUSED = [(verb, resource, sub) for (resource, sub), verbs in NEEDS_BY_RESOURCE.items()
                     for verb in (ALL_VERBS if sub is None else ("update", "patch"))
                     if verb not in verbs and (sub != "finalizers" or verb == "patch")]
LEASES = [(verb, "leases.coordination.k8s.io", None) for verb in ("get", "create", "update")]
CRD_READ = [(verb, "customresourcedefinitions.apiextensions.k8s.io", None)
            for verb in ("get", "list", "watch")]
NAMESPACES_READ = [(verb, "namespaces", None) for verb in ("get", "list", "watch")]
# Never granted, anywhere. The controller does not watch CRDs or namespaces (kopf's scanning is
# off), so neither is readable in either variant.
FORBIDDEN = [
    ("get", "secrets", None), ("list", "secrets", None), ("watch", "secrets", None),
    ("get", "configmaps", None),
    ("create", "pods", None), ("update", "pods", None), ("create", "pods", "exec"),
    ("create", "deployments.apps", None), ("update", "deployments.apps", None),
    ("delete", "deployments.apps", None), ("patch", "deployments.apps", "scale"),
    ("delete", "leases.coordination.k8s.io", None), ("list", "leases.coordination.k8s.io", None),
    ("delete", "events", None),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("create", "namespaces", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("*", "*", None),
    *CRD_READ, *NAMESPACES_READ, *NAMESPACED_UNUSED,
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
def other_namespace(kubectl):
    with kubectl.temporary_namespace("t-other") as name:
        yield name


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
        # Everywhere: the workloads, the CRs, events; nothing on CRDs or namespaces.
        can.wait_all(NAMESPACED_NEEDS, namespace)
        can.wait_all(NAMESPACED_NEEDS, other_namespace)
        can.wait_all(NAMESPACED_NEEDS, None)
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
        can.assert_denied(NAMESPACED_NEEDS + LEASES, other_namespace)
        can.assert_denied(NAMESPACED_NEEDS + CRD_READ + NAMESPACES_READ, None)  # no cluster scope
        for where in (namespace, other_namespace):
            can.assert_denied(FORBIDDEN, where)
    finally:
        uninstall(kubectl, directory)

"""Running the controller as a user installs it: rbac/namespaced in a namespace, and a kubeconfig
with a token of its ServiceAccount, so every call it makes is authorised by that Role alone."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client

from module_controller_dev.devcluster import kubeconfig as kubeconfigs
from module_controller_dev.devcluster.kubectl import Kubectl

REPO = Path(__file__).resolve().parents[2]
SA = "module-controller"


def install_role(admin: Path, namespace: str, directory: Path) -> None:
    """rbac/namespaced into ``namespace`` through a kustomize overlay, as a user installs it."""
    directory.mkdir(parents=True)
    base = os.path.relpath(REPO / "rbac" / "namespaced", directory)  # kustomize wants relative
    (directory / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace}\nresources:\n- {base}\n")
    Kubectl(admin).run("apply", "-k", str(directory))


def can_i(kubeconfig: Path, namespace: str, verb: str, resource: str) -> bool:
    """Asked as the kubeconfig's own user (a SelfSubjectAccessReview, no impersonation)."""
    result = Kubectl(kubeconfig, namespace).run("auth", "can-i", verb, resource, check=False,
                                                timeout=30)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


async def service_account_kubeconfig(api, admin: Path, namespace: str, path: Path) -> Path:
    token = await client.CoreV1Api(api).create_namespaced_service_account_token(
        SA, namespace, {"spec": {"expirationSeconds": 3600}})
    return kubeconfigs.with_token(admin, path, token.status.token,
                                  f"system:serviceaccount:{namespace}:{SA}")

"""Tenants of a multi-team namespace: a ServiceAccount with exactly the rights a test names,
logged in with its own token (TokenRequest API) against the real API server, so every call it
makes is authorised by that Role alone (docs/security.md, threat model)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubernetes_asyncio import client

from module_controller_dev.devcluster import kubeconfig as kubeconfigs
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import Kubectl



async def tenant(api, admin: Path, namespace: str, name: str, rules: list[dict],
                 directory: Path, probe: tuple[str, ...] | None = None) -> Kubectl:
    """kubectl as ServiceAccount ``name`` of ``namespace``, bound to a Role of ``rules`` alone
    (each a PolicyRule as a dict: apiGroups, resources, verbs, resourceNames). ``probe``: the
    arguments of ``kubectl auth can-i`` that say the Role is in force (default: the first
    rule's first verb and resource)."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    await core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    await rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
    await rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    token = await core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 3600}})
    directory.mkdir(parents=True, exist_ok=True)
    config = kubeconfigs.with_token(admin, directory / f"{name}.kubeconfig", token.status.token,
                                    f"system:serviceaccount:{namespace}:{name}")
    if probe is None:
        first = rules[0]
        group = first["apiGroups"][0]
        probe = (first["verbs"][0], first["resources"][0] + (f".{group}" if group else ""))
    # Role bindings reach the authorizer through informers.
    await kt.wait_for(lambda: asyncio.to_thread(_can_i, config, namespace, probe),
                      timeout=30, what=f"the Role of {name} to take effect")
    return Kubectl(config, namespace)


def _can_i(kubeconfig: Path, namespace: str, args: tuple[str, ...]) -> bool:
    result = Kubectl(kubeconfig, namespace).run("auth", "can-i", *args, check=False, timeout=30)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


def rule(group: str, resource: str, *verbs: str, names: tuple[str, ...] = ()) -> dict:
    out = {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
    if names:
        out["resourceNames"] = list(names)
    return out

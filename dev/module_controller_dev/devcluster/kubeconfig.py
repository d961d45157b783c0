"""Kubeconfig files for the dev cluster (client certificates embedded, so the file stands alone)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "module-controller-dev",
            "cluster": {"server": server, "certificate-authority-data": _b64(ca)},
        }],
        "users": [{
            "name": user,
            "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)},
        }],
        "contexts": [{
            "name": "module-controller-dev",
            "context": {"cluster": "module-controller-dev", "user": user, "namespace": "default"},
        }],
        "current-context": "module-controller-dev",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def with_token(admin: Path, path: Path, token: str, user: str) -> Path:
    """A copy of the kubeconfig ``admin`` (same API server and CA) that logs in with a bearer
    token instead of the admin's client certificate: e.g. a ServiceAccount token from the
    TokenRequest API, to act with exactly that account's permissions (tests of rbac/)."""
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": user, "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = user
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path

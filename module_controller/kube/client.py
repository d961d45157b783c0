"""Building the API client: an explicit kubeconfig, $KUBECONFIG, or the in-cluster account."""

from __future__ import annotations

import os

from kubernetes_asyncio import client, config


def cluster_configured() -> bool:
    """True when $KUBECONFIG or an in-cluster service account names a cluster."""
    return bool(os.environ.get("KUBECONFIG") or os.environ.get("KUBERNETES_SERVICE_HOST"))


async def make_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return await config.new_client_from_config(config_file=path)
    config.load_incluster_config()
    return client.ApiClient()

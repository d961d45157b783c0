"""Building the API client: an explicit kubeconfig, $KUBECONFIG, or the in-cluster account.

kubernetes_asyncio sends requests with no timeout at all unless each call passes one; the
client made here gives every request a connect and a read timeout by default.
"""

from __future__ import annotations

import os

import aiohttp
from kubernetes_asyncio import client, config

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5, sock_connect=5, sock_read=30)


def cluster_configured() -> bool:
    """True when $KUBECONFIG or an in-cluster service account names a cluster."""
    return bool(os.environ.get("KUBECONFIG") or os.environ.get("KUBERNETES_SERVICE_HOST"))


def _with_default_timeout(api: client.ApiClient) -> client.ApiClient:
    rest = api.rest_client
    original = rest.request

    async def request(*args, _request_timeout=None, **kwargs):
        return await original(*args, _request_timeout=_request_timeout or DEFAULT_TIMEOUT, **kwargs)

    rest.request = request
    return api


async def make_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return _with_default_timeout(await config.new_client_from_config(config_file=path))
    config.load_incluster_config()
    return _with_default_timeout(client.ApiClient())

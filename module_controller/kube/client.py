"""Building the API client: an explicit kubeconfig, $KUBECONFIG, or the in-cluster account.

kubernetes_asyncio sends requests with no timeout at all unless each call passes one; the
client made here gives every request a connect and a read timeout by default.

It also builds its aiohttp session with ``trust_env=True``, which makes aiohttp look up
``$HTTPS_PROXY``/``$NO_PROXY`` and read ``~/.netrc`` in a worker thread for every single request:
two thread hand-offs per API call, a quarter of the controller's CPU in a 1000-Module release.
A proxy for the API server comes from the kubeconfig (``proxy-url``), which kubernetes_asyncio
passes explicitly, so the environment lookups are switched off.
"""

from __future__ import annotations

import os

import aiohttp
from kubernetes_asyncio import client, config

# sock_connect, not connect: aiohttp's ``connect`` also counts the wait for a free connection of
# the pool (100), which under a burst of reconciles is queueing, not a network failure.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5, sock_read=30)


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


def _without_env_lookups(api: client.ApiClient) -> client.ApiClient:
    session = api.rest_client.pool_manager
    if session.trust_env:
        session._trust_env = False  # no public setter; tests/kube checks it took effect
    return api


async def make_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        api = await config.new_client_from_config(config_file=path)
    else:
        config.load_incluster_config()
        api = client.ApiClient()
    return _without_env_lookups(_with_default_timeout(api))

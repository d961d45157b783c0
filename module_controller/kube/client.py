"""Connecting to the API server the way kubectl does, for the controller's own client and for
kopf's watches alike.

Credentials come from kubernetes_asyncio's config loader: an explicit kubeconfig or
``$KUBECONFIG`` (a ``:``-separated list is merged), else the in-cluster service account; the
loader runs ``exec`` credential plugins (EKS, GKE, AKS, kubelogin), refreshes OIDC tokens and
reads tokens, client certificates and basic auth. :func:`connection_info` hands the result to
kopf as its login (so the watches use the same credentials); :func:`make_api_client` builds the
client the reconcilers write with.

Proxies as kubectl (Go's ``ProxyFromEnvironment``): a kubeconfig's ``proxy-url`` wins; else
``$HTTPS_PROXY`` (``$HTTP_PROXY`` for an ``http://`` server) unless ``$NO_PROXY`` names the host
(a name, a domain suffix, an IP, a CIDR or ``*``) or the host is localhost/loopback. The choice
is made once per client from the environment (:func:`proxy_for`), not by aiohttp per request: its
``trust_env`` would look the environment and ``~/.netrc`` up in a worker thread on every call,
a quarter of the controller's CPU in a 1000-Module release.

Every request gets a connect and a read timeout unless its call passes one (kubernetes_asyncio
sends requests with none at all by default).

Expiry: a kubeconfig's token (an exec plugin's, an OIDC one) is loaded again every
:data:`TOKEN_REFRESH_SECONDS` for the client, and kopf logs in again when the API server answers
401. A client certificate that an exec plugin prints is read once, when the client is built.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client import rest

if TYPE_CHECKING:  # kopf only for the controller's login: `kubectl module` starts without it
    import kopf

# sock_connect, not connect: aiohttp's ``connect`` also counts the wait for a free connection of
# the pool (100), which under a burst of reconciles is queueing, not a network failure.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5, sock_read=30)
#: How often a token from a kubeconfig (an exec plugin's, an OIDC one) is loaded again: a token
#: that expires is replaced before most plugins' lifetimes (5 minutes and more) run out.
TOKEN_REFRESH_SECONDS = 60.0


def cluster_configured() -> bool:
    """True when $KUBECONFIG or an in-cluster service account names a cluster."""
    return bool(os.environ.get("KUBECONFIG") or os.environ.get("KUBERNETES_SERVICE_HOST"))


# ---------------------------------------------------------------------------- proxies

def _no_proxy_matches(host: str, entry: str) -> bool:
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    if "/" in entry:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    if entry.startswith("[") and "]" in entry:  # [::1]:port
        entry = entry[1:entry.index("]")]
    elif entry.count(":") == 1:  # name:port; the port is not compared
        entry = entry.split(":", 1)[0]
    if entry.startswith("."):
        return host.endswith(entry) or host == entry[1:]
    return host == entry or host.endswith("." + entry)


def proxy_for(server: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy kubectl would use to reach ``server`` from the environment, or None."""
    env = os.environ if environ is None else environ
    parts = urlsplit(server or "")
    host = (parts.hostname or "").lower()
    if not host or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass

    def get(name: str) -> str:
        return env.get(name) or env.get(name.lower()) or ""

    no_proxy = get("NO_PROXY")
    if any(_no_proxy_matches(host, entry) for entry in no_proxy.split(",")):
        return None
    proxy = get("HTTPS_PROXY") if parts.scheme == "https" else get("HTTP_PROXY")
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy or None


# ---------------------------------------------------------------------------- configuration

async def load_configuration(kubeconfig: str | None = None, context: str | None = None
                             ) -> client.Configuration:
    """Host, TLS and credentials from the kubeconfig (never written back), or in-cluster."""
    cfg = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        await config.load_kube_config(config_file=path, context=context,
                                      client_configuration=cfg, persist_config=False)
        if cfg.api_key.get("BearerToken") and cfg.refresh_api_key_hook is None:
            cfg.refresh_api_key_hook = _TokenRefresher(path, context)
    else:
        _load_incluster_config(client_configuration=cfg)  # refreshes its token file itself
    if not cfg.proxy:
        cfg.proxy = proxy_for(cfg.host)
    return cfg


#: kubernetes_asyncio's in-cluster loader, which carries no annotations: it fills the
#: configuration it is given and returns nothing.
_load_incluster_config: Callable[..., None] = config.load_incluster_config


class _TokenRefresher:
    """``Configuration.refresh_api_key_hook``: loads the kubeconfig's token again at most every
    :data:`TOKEN_REFRESH_SECONDS` (an exec plugin runs again, an OIDC token is refreshed)."""

    def __init__(self, path: str, context: str | None) -> None:
        self.path = path
        self.context = context
        self.loaded = time.monotonic()

    async def __call__(self, cfg: client.Configuration) -> None:
        if time.monotonic() - self.loaded < TOKEN_REFRESH_SECONDS:
            return
        self.loaded = time.monotonic()
        fresh = client.Configuration()
        await config.load_kube_config(config_file=self.path, context=self.context,
                                      client_configuration=fresh, persist_config=False)
        if fresh.api_key.get("BearerToken"):
            cfg.api_key["BearerToken"] = fresh.api_key["BearerToken"]


# ---------------------------------------------------------------------------- the API client

class RESTClient(rest.RESTClientObject):
    """kubernetes_asyncio's REST client with a default timeout on every request and a session
    that does not consult the environment per request (the proxy is decided once, above)."""

    def __init__(self, configuration: client.Configuration,
                 previous: rest.RESTClientObject | None = None) -> None:
        # Not super().__init__(): that builds a session with trust_env=True. The same TLS set-up.
        ssl_context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        if configuration.cert_file:
            ssl_context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
        if not configuration.verify_ssl:
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        if configuration.disable_strict_ssl_verification:
            ssl_context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        # Unset is "" / {} (the base class's types); it only asks whether they are set.
        self.server_hostname = configuration.tls_server_name or ""
        self.proxy = configuration.proxy or ""
        self.proxy_headers = configuration.proxy_headers or {}
        self.pool_manager = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=configuration.connection_pool_maxsize,
                                           ssl=ssl_context),
            trust_env=False,
            read_bufsize=2**21,  # watch events of large objects (etcd allows 1.5 MiB requests)
        )
        # The client ApiClient made before this one replaced it: closed with this one.
        self._previous = previous

    async def close(self) -> None:
        await self.pool_manager.close()
        if self._previous is not None:
            await self._previous.close()

    async def request(self, method: str, url: str, query_params: Any = None, headers: Any = None,
                      body: Any = None, post_params: Any = None, _preload_content: bool = True,
                      _request_timeout: Any = None) -> Any:
        return await super().request(method, url, query_params=query_params, headers=headers,
                                     body=body, post_params=post_params,
                                     _preload_content=_preload_content,
                                     _request_timeout=_request_timeout or DEFAULT_TIMEOUT)


def with_rest_client(api: client.ApiClient) -> client.ApiClient:
    """``api`` sending through :class:`RESTClient` (its configuration's proxy decided from the
    environment when the kubeconfig names none)."""
    if isinstance(api.rest_client, RESTClient):
        return api
    cfg = api.configuration
    if not cfg.proxy:
        cfg.proxy = proxy_for(cfg.host)
    api.rest_client = RESTClient(cfg, previous=api.rest_client)
    return api


async def make_api_client(kubeconfig: str | None = None, context: str | None = None
                          ) -> client.ApiClient:
    return with_rest_client(client.ApiClient(await load_configuration(kubeconfig, context)))


# ---------------------------------------------------------------------------- kopf's login

async def connection_info(kubeconfig: str | None = None) -> kopf.ConnectionInfo:
    """kopf's credentials for its watches: the same configuration as :func:`make_api_client`."""
    import kopf

    cfg = await load_configuration(kubeconfig)
    if not cfg.host:
        raise ValueError("the Kubernetes configuration names no API server (host)")
    header = await cfg.get_api_key_with_prefix("BearerToken")
    scheme, token = None, None
    if header:
        scheme, _, token = header.partition(" ")
        if not token:  # a bare token
            scheme, token = None, scheme
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        proxy_url=cfg.proxy or None,
        trust_env=False,
    )

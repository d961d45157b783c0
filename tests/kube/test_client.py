"""The API client the controller builds (no cluster needed: nothing is sent)."""

from __future__ import annotations

import pytest
import yaml

from module_controller.kube.client import (
    connection_info, make_api_client, proxy_for,
)


async def test_api_client_skips_environment_lookups(tmp_path, monkeypatch):
    # With trust_env, aiohttp would consult $HTTPS_PROXY and ~/.netrc in a thread per request.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    api = await make_api_client(str(kubeconfig))
    try:
        assert api.rest_client.pool_manager.trust_env is False
    finally:
        await api.close()


def kubeconfig_for(tmp_path, server: str, **cluster) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server,
                                               "insecure-skip-tls-verify": True, **cluster}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    return str(path)


PROXY = "http://proxy.test:3128"


@pytest.mark.parametrize(("server", "env", "expected"), [
    ("https://api.test:6443", {"HTTPS_PROXY": PROXY}, PROXY),
    ("https://api.test:6443", {"https_proxy": PROXY}, PROXY),
    ("https://api.test:6443", {"HTTPS_PROXY": "proxy.test:3128"}, PROXY),
    ("https://api.test:6443", {"HTTP_PROXY": PROXY}, None),  # https uses HTTPS_PROXY only
    ("http://api.test:8080", {"HTTP_PROXY": PROXY}, PROXY),
    ("https://api.test:6443", {}, None),
    # kubectl (Go) never proxies localhost and loopback addresses.
    ("https://127.0.0.1:6443", {"HTTPS_PROXY": PROXY}, None),
    ("https://localhost:6443", {"HTTPS_PROXY": PROXY}, None),
    ("https://[::1]:6443", {"HTTPS_PROXY": PROXY}, None),
    # NO_PROXY: names, domain suffixes with and without a dot, IPs, CIDRs, ports, *.
    ("https://api.test:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "api.test"}, None),
    ("https://api.test:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "other, .test"}, None),
    ("https://a.api.test:6443", {"HTTPS_PROXY": PROXY, "no_proxy": "api.test"}, None),
    ("https://xapi.test:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "api.test"}, PROXY),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.1.2.3"}, None),
    ("https://11.1.2.3:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, PROXY),
    ("https://api.test:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "api.test:6443"}, None),
    ("https://api.test:6443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, None),
])
def test_proxy_from_the_environment_as_kubectl(server, env, expected):
    assert proxy_for(server, env) == expected


async def test_the_environments_proxy_reaches_both_clients(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    path = kubeconfig_for(tmp_path, "https://api.test:6443")
    api = await make_api_client(path)
    try:
        assert api.rest_client.proxy == PROXY
    finally:
        await api.close()
    info = await connection_info(path)
    assert info.proxy_url == PROXY and info.trust_env is False
    assert (info.scheme, info.token) == ("Bearer", "t")


async def test_the_kubeconfigs_proxy_url_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    path = kubeconfig_for(tmp_path, "https://api.test:6443", **{"proxy-url": "http://mine:1"})
    api = await make_api_client(path)
    try:
        assert api.rest_client.proxy == "http://mine:1"
    finally:
        await api.close()
    assert (await connection_info(path)).proxy_url == "http://mine:1"


"""The API client the controller builds (no cluster needed: nothing is sent)."""

from __future__ import annotations

import yaml

from module_controller.kube.client import make_api_client


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

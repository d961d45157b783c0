"""Which cluster and namespace the plugin uses: kubectl's rules (no cluster needed)."""

from __future__ import annotations

import pytest
import yaml

from module_controller.plugin.kube import PluginError, resolve


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}},
                     {"name": "b", "context": {"cluster": "c", "user": "u"}}]}))
    return path


def test_namespace_from_flag_context_or_default(kubeconfig, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert resolve(None, None, None).namespace == "team-a"
    assert resolve(None, None, "x").namespace == "x"
    assert resolve(None, "b", None).namespace == "default"
    assert resolve(str(kubeconfig), "b", None).context == "b"


def test_errors_say_what_is_missing(kubeconfig, monkeypatch, tmp_path):
    with pytest.raises(PluginError, match='context "zzz" not found'):
        resolve(str(kubeconfig), "zzz", None)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(PluginError, match="not found: pass --kubeconfig"):
        resolve(None, None, None)


def test_kubeconfig_list_is_merged(kubeconfig, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{kubeconfig}")
    assert resolve(None, None, None).namespace == "team-a"

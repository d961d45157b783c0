"""In a pod, kopf's watches go to the API server the kubelet names, as the controller's client does.

The real node has no cluster DNS (nor do clusters whose pods use dnsPolicy Default): kopf's
own service-account login named https://kubernetes.default.svc and never connected, while the
Lease was taken through KUBERNETES_SERVICE_HOST, so a leader held the Lease and watched nothing.
"""

from __future__ import annotations

import kopf

from module_controller.controllers.kopf_registry import in_cluster_server

INFO = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t")


def test_the_kubelets_address_wins() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.213.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    assert in_cluster_server(INFO, env).server == "https://10.213.0.1:6443"
    assert in_cluster_server(INFO, env).token == "t"


def test_ipv6_host_is_bracketed() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_server(INFO, env).server == "https://[fd00::1]:443"


def test_without_the_variables_kopfs_default_stays() -> None:
    assert in_cluster_server(INFO, {}).server == "https://kubernetes.default.svc"

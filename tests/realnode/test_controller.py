"""The controller as users deploy it, on a real kubelet, and the seed flow on real bases."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from module_controller_dev.devcluster.kubectl import Kubectl

from . import node

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"


def test_two_replicas_one_leader_read_only_non_root(kubectl: Kubectl, controller: str) -> None:
    pods = node.poll(lambda: node.controller_pods(kubectl),
                     lambda pods: len(pods) == 2 and all(node.ready(p) for p in pods),
                     timeout=node.CONTROLLER_START, what="2 Ready controller pods")
    names = {p["metadata"]["name"] for p in pods}
    assert node.poll(lambda: node.leader(kubectl), lambda h: h in names,
                     timeout=node.LEASE_HANDOVER, what="a controller pod holding the Lease")
    container = pods[0]["spec"]["containers"][0]
    assert container["image"] == controller
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Through the API server and the kubelet (its client certificate, the node's InternalIP):
    probe = ("import os\ntry:\n open('/opt/x', 'w')\nexcept OSError as e:\n print(os.getuid(), e.errno)")
    out = kubectl.run("exec", "-n", node.CONTROLLER_NS, pods[0]["metadata"]["name"], "--",
                      "/opt/venv/bin/python", "-c", probe).stdout.split()
    assert out == ["65532", "30"]  # EROFS: the root filesystem is read-only


def _apply_sample(kubectl: Kubectl, name: str) -> None:
    kubectl.run("apply", "-n", "default", "-f", str(SAMPLES / name))


def test_seed_flow_on_real_bases(kubectl: Kubectl, controller: str) -> None:
    node.wait_bases(kubectl)
    name = yaml.safe_load((SAMPLES / "seed003_moduledeployment.yaml").read_text())["metadata"]["name"]
    _apply_sample(kubectl, "seed003_moduledeployment.yaml")
    deadline = node.release_deadline(2)
    node.poll(lambda: node.progress(kubectl, name), lambda p: p == "Paused", timeout=deadline,
              what="Paused after group 1")
    assert [v for _, v in node.instances(kubectl)] == ["1.0.2"]

    kubectl.run("patch", "moduledeployment", "-n", "default", name, "--type=merge",
                "-p", json.dumps({"spec": {"pause": False}}))
    node.poll(lambda: node.progress(kubectl, name), lambda p: p == "Completed", timeout=deadline,
              what="Completed")
    found = node.instances(kubectl)
    assert [v for _, v in found] == ["1.0.2", "1.0.2"] and len({pod for pod, _ in found}) == 2

    _apply_sample(kubectl, "seed003_moduledeployment_upgrade.yaml")
    def upgraded() -> list:
        node.confirm(kubectl, name)  # needConfirm: each group waits
        return node.instances(kubectl)
    node.poll(upgraded, lambda found: [v for _, v in found] == ["2.0.0", "2.0.0"],
              timeout=deadline * 2, what="2 instances of 2.0.0 and no 1.0.2 on the bases")
    node.poll(lambda: node.progress(kubectl, name), lambda p: p == "Completed", timeout=deadline,
              what="the upgrade Completed")

    node.delete_release(kubectl, name)
    assert all(not bizzes for bizzes in node.fleet(kubectl).values())

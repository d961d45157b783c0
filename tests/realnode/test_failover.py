"""The controller pods go away mid-release: the release still ends exactly, with no duplicate."""

from __future__ import annotations

from module_controller_dev.devcluster.kubectl import Kubectl

from . import node

REPLICAS = node.BASES
# Seconds between groups: the controller pods go away while the release waits to go on.
GRAY = 10


def _one_group_done(kubectl: Kubectl, name: str) -> None:
    """Start a release of one instance per base in three groups; return once group 1 is done."""
    node.wait_bases(kubectl)
    kubectl.apply(node.md_body(name, REPLICAS, batches=3, gray=GRAY), namespace="default")
    node.poll(lambda: node.instances(kubectl), lambda found: len(found) >= 1,
              timeout=node.release_deadline(1), what=f"{name}: group 1 on a base")


def _exactly_done(kubectl: Kubectl, name: str) -> None:
    node.poll(lambda: node.progress(kubectl, name), lambda p: p == "Completed",
              timeout=node.LEASE_HANDOVER + node.release_deadline(REPLICAS) + 2 * GRAY,
              what=f"{name} Completed")
    found = node.instances(kubectl)
    assert len(found) == REPLICAS and len({pod for pod, _ in found}) == REPLICAS, found
    for bizzes in node.fleet(kubectl).values():
        assert len(bizzes) == 1, bizzes  # one provider per base, never two
    node.delete_release(kubectl, name)


def test_leader_pod_deleted_mid_release(kubectl: Kubectl, controller: str) -> None:
    node.poll(lambda: node.controller_pods(kubectl),
              lambda pods: len(pods) == 2 and all(node.ready(p) for p in pods),
              timeout=node.CONTROLLER_START, what="2 Ready controller pods")
    _one_group_done(kubectl, "failover")
    old = node.leader(kubectl)
    kubectl.run("delete", "pod", "-n", node.CONTROLLER_NS, old, "--wait=false")
    node.poll(lambda: node.leader(kubectl), lambda h: h and h != old,
              timeout=node.LEASE_HANDOVER, what="another replica leading")
    _exactly_done(kubectl, "failover")


def test_rolling_update_of_the_controller_mid_release(kubectl: Kubectl, controller: str,
                                                      controller_images: tuple[str, str]) -> None:
    _one_group_done(kubectl, "rolling")
    kubectl.run("set", "image", "-n", node.CONTROLLER_NS, "deployment/module-controller",
                f"controller={controller_images[1]}")
    kubectl.run("-n", node.CONTROLLER_NS, "rollout", "status", "deployment/module-controller",
                f"--timeout={int(node.CONTROLLER_START * 4)}s", timeout=node.CONTROLLER_START * 4 + 10)
    _exactly_done(kubectl, "rolling")
    pods = node.controller_pods(kubectl)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {controller_images[1]}

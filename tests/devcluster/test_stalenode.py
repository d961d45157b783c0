"""The live/dead decision about a real node, from observed facts (no machine state read)."""

from __future__ import annotations

import pytest

from module_controller_dev.devcluster.stalenode import STALE_COMMAND, NodeFacts, judge

LEFT = ("bridge mcbr0", "/run/module-controller-node", "3 mounts",
        "2 network namespaces cni-*", "cgroups k8s.io")


def test_nothing_there_is_no_node() -> None:
    assert judge(NodeFacts()).state == "none"


def test_leftovers_without_processes_are_a_dead_node_and_name_the_command() -> None:
    verdict = judge(NodeFacts(leftovers=LEFT))
    assert verdict.state == "dead"
    assert STALE_COMMAND in verdict.reason and "mcbr0" in verdict.reason


def test_orphan_shims_alone_do_not_make_a_node_live() -> None:
    # The kubelet and containerd were killed; their shims and pods outlive them.
    verdict = judge(NodeFacts(leftovers=(*LEFT, "process 4242 containerd-shim-runc-v2")))
    assert verdict.state == "dead"


@pytest.mark.parametrize("facts, sign", [
    (NodeFacts(node_processes=("101 kubelet",), leftovers=LEFT), "101 kubelet"),
    (NodeFacts(node_processes=("102 containerd",), leftovers=LEFT), "102 containerd"),
    (NodeFacts(socket_answers=True, leftovers=LEFT), "answers"),
    (NodeFacts(lock_held=True, leftovers=LEFT), "held by another session"),
    # A session holding the lock may be about to create the node: nothing exists yet.
    (NodeFacts(lock_held=True), "held by another session"),
])
def test_any_sign_of_life_makes_the_node_live(facts: NodeFacts, sign: str) -> None:
    verdict = judge(facts)
    assert verdict.state == "live"
    assert sign in verdict.reason
    assert STALE_COMMAND not in verdict.reason


def test_a_live_node_names_the_down_command_of_its_cluster() -> None:
    verdict = judge(NodeFacts(node_processes=("7 kubelet",), leftovers=LEFT,
                              cluster_dir="/tmp/pytest-of-root/pytest-9/realnode0"))
    assert "module-controller-dev down --dir /tmp/pytest-of-root/pytest-9/realnode0" in verdict.reason

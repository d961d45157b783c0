"""Scale-down order and counts of the ModuleReplicaSet planner (no cluster)."""

from __future__ import annotations

from module_controller.api.common import SchedulingPolicy as S
from module_controller.planning.bases import count_labels
from module_controller.planning.replicaset import Instance, counts, delta, scale_down_order

LOAD = {"p1": 1, "p2": 2, "p3": 3}
INSTANCES = [Instance("a", "p1", True), Instance("b", "p2", True), Instance("c", "p3", True)]


def test_scatter_removes_from_the_most_loaded_pod_first():
    assert [i.name for i in scale_down_order(INSTANCES, LOAD, S.SCATTER)] == ["c", "b", "a"]


def test_stacking_removes_from_the_least_loaded_pod_first():
    assert [i.name for i in scale_down_order(INSTANCES, LOAD, S.STACKING)] == ["a", "b", "c"]


def test_not_available_goes_first_and_deleting_is_skipped():
    items = INSTANCES + [Instance("d", "p1", False), Instance("e", "p3", True, deleting=True)]
    order = [i.name for i in scale_down_order(items, LOAD, S.SCATTER)]
    assert order[0] == "d" and "e" not in order


def test_instances_on_leaving_bases_go_first():
    """Peer mode, base Deployment scaled 4 -> 1: the three instances on the pods being deleted
    go, not the one on the surviving base (whose name sorts first)."""
    items = [Instance(n, p, True) for n, p in (("a", "pod-a"), ("b", "pod-b"), ("c", "pod-c"),
                                               ("d", "pod-d"))]
    load = {p: 1 for p in ("pod-a", "pod-b", "pod-c", "pod-d")}
    for policy in (S.SCATTER, S.STACKING):
        order = [i.name for i in scale_down_order(items, load, policy, leaving={"b", "c", "d"})]
        assert order[:3] == ["b", "c", "d"]
    # Before superseded and not-Available ones too.
    items.append(Instance("e", "pod-a", False))
    order = scale_down_order(items, load | {"pod-a": 2}, S.SCATTER, superseded={"a"},
                             leaving={"d"})
    assert [i.name for i in order][:3] == ["d", "a", "e"]


def test_ties_by_pod_then_name():
    items = [Instance("z", "p1", True), Instance("y", "p2", True), Instance("x", "p2", True)]
    assert [i.name for i in scale_down_order(items, {"p1": 1, "p2": 1}, S.SCATTER)] == ["z", "x", "y"]


def test_counts_and_delta():
    items = [Instance("a", "p1", True, version="2", url="u"),
             Instance("b", "p2", False, version="1", url="u"),
             Instance("c", "p3", True, deleting=True, version="2", url="u")]
    got = counts(items, "2", "u", ready_names={"b"})
    assert (got.replicas, got.available, got.ready, got.updated) == (2, 1, 2, 1)
    assert delta(3, items) == 1 and delta(0, items) == -2


def test_count_labels():
    labels = count_labels([2, 1, 0])
    assert list(labels.values()) == ["2", "0", "1.00"]
    assert list(count_labels([]).values()) == ["0", "0", "0.00"]

"""Scale-down order and counts of the ModuleReplicaSet planner (no cluster)."""

from __future__ import annotations

from module_controller.api import ModuleReplicaSet
from module_controller.api import constants as c
from module_controller.api.common import SchedulingPolicy as S
from module_controller.api.common import UpgradePolicy as U
from module_controller.planning import replicaset as rs
from module_controller.planning.base_pod_rules import count_labels
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


# ----------------------------------------------------------------- replacement, bodies, status


def test_in_place_policies_may_replace_the_other_revisions_instances():
    assert rs.replaceable_for(U.INSTALL_THEN_UNINSTALL, "md", "md-2") == ("md", "md-2")
    assert rs.replaceable_for(U.UNINSTALL_THEN_INSTALL, "md", "md-2") == ("md", "md-2")
    assert rs.replaceable_for(U.SCALEUP_THEN_SCALEDOWN, "md", "md-2") is None
    assert rs.replaceable_for(U.INSTALL_THEN_UNINSTALL, None, "hand-made") is None


def test_only_an_old_revision_under_scaleup_then_scaledown_replaces_bases():
    assert rs.replaces_bases(U.SCALEUP_THEN_SCALEDOWN, True, 2, "1")
    assert not rs.replaces_bases(U.SCALEUP_THEN_SCALEDOWN, True, 2, "2"), "the target revision"
    assert not rs.replaces_bases(U.SCALEUP_THEN_SCALEDOWN, False, 2, "1"), "pod deletion off"
    assert not rs.replaces_bases(U.SCALEUP_THEN_SCALEDOWN, True, None, "1"), "no release"
    assert not rs.replaces_bases(U.INSTALL_THEN_UNINSTALL, True, 2, "1")


def test_replaced_in_place_when_a_higher_ranked_namesake_is_available_on_the_pod():
    old = rs.PodModule("old", "m", (False, "t1", "old"), True)
    new = rs.PodModule("new", "m", (True, "t2", "new"), True)
    other = rs.PodModule("x", "other", (True, "t3", "x"), True)
    starting = rs.PodModule("new", "m", (True, "t2", "new"), False)
    assert rs.replaced_in_place([(old, "p1")], {"p1": [old, new, other]}) == {"old"}
    assert rs.replaced_in_place([(new, "p1")], {"p1": [old, new]}) == set(), "ranks below"
    assert rs.replaced_in_place([(old, "p1")], {"p1": [old, starting]}) == set(), "not Available"
    assert rs.replaced_in_place([(old, None)], {}) == set()


def _owner() -> tuple[dict, ModuleReplicaSet]:
    obj = {"metadata": {"name": "md-1", "namespace": "ns", "uid": "u-rs", "labels": {
               c.LABEL_MODULE_DEPLOYMENT: "md", "unrelated": "x"}},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "base"}},
                    "template": {"metadata": {"labels": {"team": "a"}}, "spec": {
                        "module": {"name": "m", "version": "1.0", "url": "http://x/m.jar"}}}}}
    return obj, ModuleReplicaSet.from_api({"apiVersion": c.API_VERSION,
                                           "kind": c.MODULE_REPLICA_SET.kind, **obj})


def test_a_new_module_is_bound_owned_and_labelled_in_its_create():
    obj, model = _owner()
    body = rs.module_body(obj, model, "pod-a", "10.0.0.1", "u-pod")
    labels = body["metadata"]["labels"]
    assert labels[c.LABEL_BASE_INSTANCE_NAME] == "pod-a" and labels["team"] == "a"
    assert labels[c.LABEL_MODULE_DEPLOYMENT] == "md" and "unrelated" not in labels
    owners = body["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"], o["controller"]) for o in owners] == [
        (c.MODULE_REPLICA_SET.kind, "u-rs", True), ("Pod", "u-pod", False)]
    assert body["metadata"]["finalizers"] == [c.FINALIZER_ALLOCATE_POD]


def test_status_reports_bases_short_once_and_all_placed_after():
    some = rs.Counts(replicas=1, available=1, ready=1, updated=1)
    short = rs.replicaset_status({}, some, 1, 2, False, None, 3)
    assert short.status["conditions"][0]["reason"] == c.REASON_INSUFFICIENT_BASES
    assert [e[1] for e in short.events] == [c.REASON_INSUFFICIENT_BASES]
    again = rs.replicaset_status(short.status, some, 1, 2, False, None, 3)
    assert again.status is None and again.events == []
    missing = rs.replicaset_status(short.status, some, 1, 2, False, "base", 3)
    assert [e[1] for e in missing.events] == [c.REASON_BASE_NOT_FOUND]
    all_ = rs.Counts(replicas=2, available=2, ready=2, updated=2)
    done = rs.replicaset_status(short.status, all_, 2, 2, True, None, 3)
    assert done.status["conditions"][0]["status"] == "False" and done.status["replicas"] == 2
    assert [e[1] for e in done.events] == ["AllPlaced"]

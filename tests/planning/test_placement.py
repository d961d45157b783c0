"""Placement rules (behaviour §3): eligibility, scatter, stacking, capacity, ties (no cluster)."""

from __future__ import annotations

import pytest

from module_controller.api.common import SchedulingPolicy as S
from module_controller.planning.placement import (Base, choose, eligible, parse_max_module_count,
                                                  place, selector_matches)

SEL = {"matchLabels": {"app": "base"}}


def base(name, count=0, modules=(), max_modules=3, **kw):
    kw.setdefault("labels", {"app": "base"})
    return Base(name=name, ip=kw.pop("ip", f"127.0.0.{len(name) + 1}"), ready=kw.pop("ready", True),
                module_count=count, modules=frozenset(modules), max_modules=max_modules, **kw)


# Pods carrying 0/1/2/3 modules with max 3, and one pod already hosting the module.
PODS = [base("p0", 0), base("p1", 1), base("p2", 2), base("p3", 3), base("host", 1, ["provider"])]


def test_scatter_picks_least_loaded_free_pod():
    assert choose(PODS, "provider", SEL, S.SCATTER).name == "p0"


def test_stacking_picks_most_loaded_non_full_pod():
    assert choose(PODS, "provider", SEL, S.STACKING).name == "p2"


def test_ties_are_broken_by_name_whatever_the_order():
    a, b = base("b-pod", 1), base("a-pod", 1)
    for pods in ([a, b], [b, a]):
        assert choose(pods, "m", SEL, S.SCATTER).name == "a-pod"
        assert choose(pods, "m", SEL, S.STACKING).name == "a-pod"


@pytest.mark.parametrize("candidate, ok", [
    (base("x"), True),
    (base("x", ready=False), False),
    (base("x", ip=None), False),
    (base("x", deleting=True), False),
    (base("x", 3), False),
    (base("x", 5, max_modules=None), True),
    (base("x", 0, max_modules=0), False),
    (base("x", modules=["m"]), False),
    (base("x", labels={"app": "other"}), False),
])
def test_eligibility(candidate, ok):
    assert eligible(candidate, "m", SEL) is ok


def test_place_counts_its_own_placements():
    pods = [base("a", 0), base("b", 0), base("c", 2)]
    # one instance per pod at most; c has room (2 < 3), so three of the five fit
    assert [b.name for b in place(pods, "m", SEL, S.SCATTER, 5)] == ["a", "b", "c"]
    assert [b.name for b in place([base("a"), base("b")], "m", SEL, S.SCATTER, 1)] == ["a"]
    assert place([], "m", SEL, S.SCATTER, 2) == []


def test_max_module_count_sources():
    assert parse_max_module_count("2", "5") == (2, None)
    assert parse_max_module_count(None, "5") == (5, None)
    assert parse_max_module_count(None, None) == (None, None)
    # An invalid limit is 0, never unlimited: a typo must not lift the limit.
    for bad in ("lots", "abc", "-1", "1.5", ""):
        value, problem = parse_max_module_count(bad, None)
        assert value == 0 and "invalid" in problem and "treated as 0" in problem, bad
    value, problem = parse_max_module_count(None, "abc")
    assert value == 0 and "on the deployment" in problem
    # The pod's label decides when it has one, valid or not.
    assert parse_max_module_count("3", "abc") == (3, None)


def test_selector_expressions():
    labels = {"app": "base", "tier": "gold"}
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In",
                                                   "values": ["gold"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                       "values": ["gold"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)
    assert selector_matches(None, labels)


# ----------------------------------------------------------------- ownership

def test_only_pods_of_the_named_deployment_are_candidates():
    # Same labels, same load: the pod of the other Deployment (and a bare pod) would win on
    # name; ownership keeps them out.
    pods = [base("a-other", deployment="other"), base("b-bare"), base("c-mine", deployment="mine")]
    assert [b.name for b in place(pods, "m", SEL, S.SCATTER, 3, deployment="mine")] == ["c-mine"]
    assert choose(pods, "m", SEL, S.SCATTER, deployment="missing") is None
    # A ModuleReplicaSet made by hand without a named Deployment goes by its selector alone.
    assert choose(pods, "m", SEL, S.SCATTER).name == "a-other"


@pytest.mark.parametrize("owner, named, expected", [
    ("mine", "mine", False),
    ("old", "mine", True),   # baseDeploymentName changed
    (None, "mine", True),    # a bare pod carrying the base labels
    ("any", None, False),    # made by hand, no Deployment named: the selector decides
])
def test_misplaced(owner, named, expected):
    from module_controller.planning.placement import misplaced, on_base_deployment
    assert misplaced(owner, named) is expected
    assert on_base_deployment(owner, named) is (not expected)


def _place_one_by_one(bases, name, selector, policy, count, deployment=None):
    """The definition place() must keep: choose() per instance, counting each placement."""
    from dataclasses import replace
    pool = {b.name: b for b in bases}
    chosen = []
    for _ in range(count):
        pick = choose(pool.values(), name, selector, policy, deployment)
        if pick is None:
            break
        chosen.append(pick)
        pool[pick.name] = replace(pick, module_count=pick.module_count + 1,
                                  modules=pick.modules | {name},
                                  replaceable=pick.replaceable - {name})
    return chosen


@pytest.mark.parametrize("seed", range(40))
def test_place_equals_choosing_one_instance_at_a_time(seed):
    import random
    rnd = random.Random(seed)
    names = ["a", "b", "c"]
    bases = []
    for i in range(rnd.randint(0, 30)):
        hosted = frozenset(n for n in names if rnd.random() < 0.3)
        bases.append(Base(
            name=f"pod-{i:02d}", ip=None if rnd.random() < 0.1 else f"10.0.0.{i}",
            ready=rnd.random() > 0.1, deleting=rnd.random() < 0.1,
            labels={"app": rnd.choice(["x", "y"])},
            module_count=len(hosted) + rnd.randint(0, 3), modules=hosted,
            max_modules=rnd.choice([None, 1, 2, 4]),
            replaceable=frozenset(n for n in hosted if rnd.random() < 0.5),
            deployment=rnd.choice(["base", "other", None])))
    rnd.shuffle(bases)
    selector = rnd.choice([None, {"matchLabels": {"app": "x"}}])
    deployment = rnd.choice([None, "base"])
    for policy in (S.SCATTER, S.STACKING):
        count = rnd.randint(0, 35)
        assert place(bases, "a", selector, policy, count, deployment) == \
            _place_one_by_one(bases, "a", selector, policy, count, deployment)

"""Unit tests of FaultPlan's pure decisions."""

from __future__ import annotations

import pytest

from module_controller_dev.fakearklet.faults import FAIL_CODES, FaultDecision, FaultPlan


def test_empty_plan_changes_nothing() -> None:
    decision = FaultPlan(seed=1).decide("installBiz")
    assert decision == FaultDecision()
    assert decision.note == ""


def test_latency_of_exact_and_wildcard_rules_add_up() -> None:
    plan = FaultPlan()
    plan.set("*", latency=0.25)
    plan.set("installBiz", latency=0.5)
    assert plan.decide("installBiz").latency == 0.75
    assert plan.decide("health").latency == 0.25
    assert plan.decide("installBiz").action is None


def test_fail_count_fails_the_next_n_calls_then_behaves() -> None:
    plan = FaultPlan()
    plan.set("installBiz", fail_count=2, fail_code="FAILED")
    actions = [plan.decide("installBiz").action for _ in range(4)]
    assert actions == ["FAILED", "FAILED", None, None]
    assert plan.decide("health").action is None
    assert plan.rules["installBiz"].fail_count == 0


def test_fail_rate_is_reproducible_with_a_seed() -> None:
    def pattern(seed: int) -> list[str | None]:
        plan = FaultPlan(seed=seed)
        plan.set("*", fail_rate=0.5, fail_code="close")
        return [plan.decide("health").action for _ in range(40)]

    first = pattern(7)
    assert first == pattern(7)
    assert set(first) == {"close", None}  # both outcomes occur at rate 0.5 over 40 draws
    assert first != pattern(8)


def test_fail_rate_extremes() -> None:
    plan = FaultPlan(seed=3)
    plan.set("health", fail_rate=1.0)
    assert all(plan.decide("health").action == "http500" for _ in range(20))
    plan.set("health", fail_rate=0.0)
    assert all(plan.decide("health").action is None for _ in range(20))


def test_reseed_restarts_the_sequence() -> None:
    plan = FaultPlan(seed=5)
    plan.set("*", fail_rate=0.5)
    first = [plan.decide("x").action for _ in range(20)]
    plan.reseed(5)
    assert [plan.decide("x").action for _ in range(20)] == first


def test_hang_shortcut_wins_over_counts() -> None:
    plan = FaultPlan()
    plan.set("installBiz", hang=True, fail_count=1, fail_code="FAILED")
    assert [plan.decide("installBiz").action for _ in range(3)] == ["hang"] * 3


def test_exact_rule_is_asked_before_the_wildcard_which_keeps_its_count() -> None:
    plan = FaultPlan()
    plan.set("installBiz", fail_count=1, fail_code="FAILED")
    plan.set("*", fail_count=1, fail_code="http500")
    first = plan.decide("installBiz")
    assert (first.action, first.rule) == ("FAILED", "installBiz")
    assert "fault[installBiz]: FAILED" in first.note
    second = plan.decide("installBiz")
    assert (second.action, second.rule) == ("http500", "*")
    assert plan.decide("installBiz").action is None


def test_set_replaces_and_clear_removes() -> None:
    plan = FaultPlan()
    plan.set("health", latency=1.0, fail_count=3)
    plan.set("health", latency=0.5)
    assert plan.to_dict() == {"health": {"latency": 0.5, "failRate": 0.0, "failCount": 0,
                                         "failCode": "http500", "hang": False}}
    plan.set("installBiz", hang=True)
    plan.clear("health")
    assert list(plan.rules) == ["installBiz"]
    plan.clear()
    assert plan.rules == {}


@pytest.mark.parametrize("kwargs", [
    {"latency": -1},
    {"fail_rate": 1.5},
    {"fail_rate": -0.1},
    {"fail_count": -1},
    {"fail_count": 1.5},
    {"fail_code": "boom"},
    {"hang": "yes"},
])
def test_invalid_rules_are_rejected(kwargs: dict) -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError):
        plan.set("health", **kwargs)
    assert plan.rules == {}


def test_every_fail_code_is_accepted() -> None:
    plan = FaultPlan()
    for code in FAIL_CODES:
        command = "installBiz" if code == "unlisted" else "health"  # unlisted: installs only
        plan.set(command, fail_count=1, fail_code=code)
        assert plan.decide(command).action == code


def test_unlisted_is_for_installs_only() -> None:
    plan = FaultPlan()
    plan.set("installBiz", fail_count=1, fail_code="unlisted")
    assert [plan.decide("installBiz").action for _ in range(2)] == ["unlisted", None]
    for command in ("*", "queryAllBiz", "uninstallBiz"):
        with pytest.raises(ValueError, match="installBiz only"):
            plan.set(command, fail_count=1, fail_code="unlisted")

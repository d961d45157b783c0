"""The Module lifecycle planner: every step from what the pod and Arklet say (no cluster)."""

from __future__ import annotations

import datetime as dt

import pytest

from module_controller.api import constants as c
from module_controller.api.common import SchedulingPolicy
from module_controller.api.common import UpgradePolicy as P
from module_controller.api.module import ModulePhase
from module_controller.planning.module_lifecycle import (INSTALLS_PER_GENERATION, Kind, MinReady,
                                                         PodView, gave_up, installs_so_far,
                                                         last_install, may_install, min_ready,
                                                         next_step, pod_labels, removal_step,
                                                         restarted_since, scheduling_policy,
                                                         serving, supersedes)

READY = PodView(exists=True, ready=True, ip="127.0.0.2")


@pytest.mark.parametrize("pod, kind", [
    (PodView(exists=False), Kind.BASE_GONE),
    (PodView(exists=True, ready=True, ip="127.0.0.2", deleting=True), Kind.BASE_GONE),
    (PodView(exists=True, ready=False, ip="127.0.0.2"), Kind.WAIT_BASE),
    (PodView(exists=True, ready=True, ip=None), Kind.WAIT_BASE),
])
def test_pod_state_comes_first(pod, kind):
    assert next_step("2", P.INSTALL_THEN_UNINSTALL, pod, {"2": "ACTIVATED"}).kind is kind


@pytest.mark.parametrize("policy, bizzes, expected", [
    # fresh base
    (P.INSTALL_THEN_UNINSTALL, {}, (Kind.INSTALL, "2")),
    # installed and active: done
    (P.INSTALL_THEN_UNINSTALL, {"2": "ACTIVATED"}, (Kind.AVAILABLE, None)),
    # Arklet left the new version DEACTIVATED beside the old one: switch, then drop the old
    (P.INSTALL_THEN_UNINSTALL, {"1": "ACTIVATED"}, (Kind.INSTALL, "2")),
    (P.INSTALL_THEN_UNINSTALL, {"1": "ACTIVATED", "2": "DEACTIVATED"}, (Kind.SWITCH, "2")),
    (P.INSTALL_THEN_UNINSTALL, {"1": "DEACTIVATED", "2": "ACTIVATED"}, (Kind.UNINSTALL, "1")),
    # uninstall_then_install removes the old one first
    (P.UNINSTALL_THEN_INSTALL, {"1": "ACTIVATED"}, (Kind.UNINSTALL, "1")),
    (P.UNINSTALL_THEN_INSTALL, {}, (Kind.INSTALL, "2")),
    (P.SCALEUP_THEN_SCALEDOWN, {"1": "ACTIVATED"}, (Kind.INSTALL, "2")),
    # a broken start is cleared and retried
    (P.INSTALL_THEN_UNINSTALL, {"2": "BROKEN"}, (Kind.UNINSTALL, "2")),
    (P.INSTALL_THEN_UNINSTALL, {"2": "RESOLVED"}, (Kind.SWITCH, "2")),
])
def test_steps(policy, bizzes, expected):
    step = next_step("2", policy, READY, bizzes)
    assert (step.kind, step.version) == expected


def test_upgrade_walks_to_available():
    """Apply the planner's steps to a simulated base until it says AVAILABLE."""
    for policy in P:
        bizzes = {"1": "ACTIVATED"}
        seen = []
        for _ in range(10):
            step = next_step("2", policy, READY, bizzes)
            seen.append(step.kind)
            if step.kind is Kind.AVAILABLE:
                break
            if step.kind is Kind.INSTALL:
                bizzes["2"] = "DEACTIVATED" if "ACTIVATED" in bizzes.values() else "ACTIVATED"
            elif step.kind is Kind.SWITCH:
                bizzes = {v: ("ACTIVATED" if v == "2" else "DEACTIVATED") for v in bizzes}
            elif step.kind is Kind.UNINSTALL:
                bizzes.pop(step.version)
        assert seen[-1] is Kind.AVAILABLE, (policy, seen)
        assert bizzes == {"2": "ACTIVATED"}


def test_removal():
    assert removal_step(PodView(exists=False), None).kind is Kind.REMOVED
    assert removal_step(READY, None).kind is Kind.REMOVED
    assert removal_step(READY, {}).kind is Kind.REMOVED
    step = removal_step(READY, {"2": "ACTIVATED", "1": "DEACTIVATED"})
    assert (step.kind, step.version) == (Kind.UNINSTALL, "1")


def _module(name: str, phase: str | None) -> dict:
    return {"spec": {"module": {"name": name, "version": "1"}},
            "status": {"status": phase} if phase else {}}


@pytest.mark.parametrize("modules, routed", [
    ([], False),
    ([_module("a", "Available")], True),
    ([_module("a", "Upgrading")], False),
    # an in-place upgrade: the new revision installing beside the old, still Available one
    ([_module("a", "Available"), _module("a", "Upgrading")], True),
    ([_module("b", "Available")], False),
])
def test_pod_labels_route_while_any_module_of_the_name_is_available(modules, routed):
    from module_controller.api import constants as c
    from module_controller.planning.module_lifecycle import pod_labels

    labels = pod_labels("a", modules)
    assert labels[c.module_label_key("a")] == (c.LABEL_TRUE if routed else None)
    assert labels[c.LABEL_MODULE_INSTANCE_COUNT] == str(len(modules))


# --- the install bound, minReadySeconds, superseded, placement policy, removal ---------------


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("seconds, phase, since, now, expected", [
    (0, None, None, T0, MinReady()),  # no minReadySeconds: Available at once
    (5, ModulePhase.UPGRADING, T0, T0, MinReady(completing=True, wait=5.0)),
    (5, None, None, T0, MinReady(completing=True, wait=5.0)),
    (5, ModulePhase.COMPLETING, None, T0, MinReady(completing=True, wait=5.0)),
    (5, ModulePhase.COMPLETING, T0, T0 + dt.timedelta(seconds=2), MinReady(wait=3.0)),
    (5, ModulePhase.COMPLETING, T0, T0 + dt.timedelta(seconds=5), MinReady()),
    (5, ModulePhase.AVAILABLE, T0, T0, MinReady()),  # already Available: stays so
])
def test_min_ready(seconds, phase, since, now, expected) -> None:
    assert min_ready(seconds, phase, since, now) == expected


@pytest.mark.parametrize("newer, older, expected", [
    ((True, "2026-01-01T00:00:00Z", "a"), (False, "2026-01-02T00:00:00Z", "b"), True),  # target
    ((False, "2026-01-02T00:00:00Z", "b"), (False, "2026-01-01T00:00:00Z", "a"), True),  # later
    ((False, "2026-01-01T00:00:00Z", "b"), (False, "2026-01-01T00:00:00Z", "a"), True),  # name
    ((False, "2026-01-01T00:00:00Z", "a"), (True, "2026-01-01T00:00:00Z", "a"), False),
])
def test_supersedes(newer, older, expected) -> None:
    assert supersedes(newer, older) is expected


@pytest.mark.parametrize("label, policy", [
    (None, SchedulingPolicy.SCATTER), ("scatter", SchedulingPolicy.SCATTER),
    ("stacking", SchedulingPolicy.STACKING), ("scater", SchedulingPolicy.SCATTER),
])
def test_scheduling_policy_of_a_hand_made_module(label, policy) -> None:
    assert scheduling_policy(label) is policy


@pytest.mark.parametrize("status, generation, expected", [
    ({"status": "Failed", "reason": "VersionMismatch", "observedGeneration": 2}, 2, True),
    ({"status": "Failed", "reason": "MasterBiz", "observedGeneration": 2}, 2, True),
    ({"status": "Failed", "reason": "InstallNotKept", "observedGeneration": 2}, 2, True),
    ({"status": "Failed", "reason": "InstallNotKept", "observedGeneration": 2}, 3, False),
    ({"status": "Failed", "reason": "InstallNotVerified", "observedGeneration": 2}, 2, False),
    ({"status": "Failed", "reason": "VersionMismatch", "observedGeneration": 2}, 3, False),
    ({"status": "Failed", "reason": "InstallFailed", "observedGeneration": 2}, 2, False),
    ({"status": "Available", "reason": "Installed", "observedGeneration": 2}, 2, False),
    (None, 1, False),
])
def test_gave_up_only_for_the_spec_it_failed(status, generation, expected) -> None:
    assert gave_up(status, generation) is expected


@pytest.mark.parametrize("status, generation, expected", [
    ({"installs": 3, "observedGeneration": 2}, 2, 3),
    ({"installs": 3, "observedGeneration": 2}, 3, 0),  # a new spec starts from nothing
    ({"observedGeneration": 2}, 2, 0),
    ({"installs": 3, "observedGeneration": 2}, None, 0),
    (None, 1, 0),
])
def test_installs_are_counted_per_generation(status, generation, expected) -> None:
    assert installs_so_far(status, generation) == expected


def test_installs_per_generation_are_bounded() -> None:
    allowed = [n for n in range(INSTALLS_PER_GENERATION + 3) if may_install(n)]
    assert allowed == list(range(INSTALLS_PER_GENERATION))
    assert INSTALLS_PER_GENERATION >= 2  # the install, and at least one reinstall after drift


def _observed_module(name: str, phase: str | None, observed: int | None, generation: int = 2) -> dict:
    return {"metadata": {"name": name, "generation": generation},
            "spec": {"module": {"name": "a", "version": "2.0.0"}},
            "status": {"status": phase, "observedGeneration": observed} if phase else None}


@pytest.mark.parametrize("module, expected", [
    (_observed_module("m", "Available", 2), True),
    (_observed_module("m", "Available", 1), False),   # Available for the spec before the last change
    (_observed_module("m", "Upgrading", 2), False),
    (_observed_module("m", None, None), False),
])
def test_serving_follows_observed_generation(module: dict, expected: bool) -> None:
    assert serving(module) is expected


def test_the_module_about_to_be_available_is_routed_before_its_status_says_so() -> None:
    installing = _observed_module("m", "Upgrading", 2)
    assert pod_labels("a", [installing])[c.module_label_key("a")] is None
    assert pod_labels("a", [installing], serving_now="m")[c.module_label_key("a")] == "true"
    assert pod_labels("a", [installing], serving_now="other")[c.module_label_key("a")] is None


# ----------------------------------------------------------------- one bound per base incarnation

INSTALLED = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("run_time, asked_after, restarted", [
    (5.0, 60.0, True),      # up 5 s, asked a minute after the install: started after it
    (59.0, 60.0, True),
    (60.0, 60.0, False),    # may have started at the very moment of the install: not sure
    (3600.0, 60.0, False),  # up an hour: the biz went missing without a restart (the bound stays)
    (None, 60.0, False),    # no uptime reported: not judged a restart
    (1e300, 60.0, False),   # a hostile uptime overflows nothing
])
def test_restarted_since_the_last_install(run_time, asked_after, restarted):
    asked = INSTALLED + dt.timedelta(seconds=asked_after)
    assert restarted_since(run_time, asked, INSTALLED) is restarted


def test_no_install_time_means_no_restart_is_judged():
    assert not restarted_since(1.0, INSTALLED, None)


@pytest.mark.parametrize("status, generation, expected", [
    ({"observedGeneration": 2, "lastInstallTime": "2026-01-01T12:00:00Z"}, 2, INSTALLED),
    ({"observedGeneration": 1, "lastInstallTime": "2026-01-01T12:00:00Z"}, 2, None),
    ({"observedGeneration": 2, "lastInstallTime": "yesterday"}, 2, None),
    ({"observedGeneration": 2, "lastInstallTime": 17}, 2, None),
    (None, 2, None),
])
def test_last_install_of_the_generation(status, generation, expected):
    assert last_install(status, generation) == expected

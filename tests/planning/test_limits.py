"""planning.limits: which parts of a spec the operator's switches refuse, and the condition."""

from module_controller.planning import limits
from module_controller.planning.conditions import get_condition

ALLOW = {"module_services": "nodeport", "pod_deletion": True}


def test_nothing_refused_with_the_defaults():
    assert limits.refusals(wants_service=True, replaces_bases=True, **ALLOW) == []


def test_a_service_refused_only_when_services_are_disabled():
    for setting in ("nodeport", "clusterip"):
        assert limits.refusals(wants_service=True, replaces_bases=False,
                               module_services=setting, pod_deletion=True) == []
    [refusal] = limits.refusals(wants_service=True, replaces_bases=False,
                                module_services="disabled", pod_deletion=True)
    assert refusal.reason == limits.REASON_SERVICE_DISABLED
    assert "spec.operationStrategy.serviceStrategy.enableModuleService" in refusal.message
    assert limits.refusals(wants_service=False, replaces_bases=False,
                           module_services="disabled", pod_deletion=True) == []


def test_scaleup_then_scaledown_refused_without_pod_deletion():
    [refusal] = limits.refusals(wants_service=False, replaces_bases=True,
                                module_services="nodeport", pod_deletion=False)
    assert refusal.reason == limits.REASON_POD_DELETION_DISABLED
    assert "spec.operationStrategy.upgradePolicy" in refusal.message
    assert limits.refusals(wants_service=False, replaces_bases=False,
                           module_services="nodeport", pod_deletion=False) == []


def test_condition_names_every_refusal_and_goes_when_none_is_left():
    both = limits.refusals(wants_service=True, replaces_bases=True,
                           module_services="disabled", pod_deletion=False)
    other = {"type": "Available", "status": "True", "reason": "x", "message": "y",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}
    conditions = limits.restricted([other], both)
    cond = get_condition(conditions, limits.CONDITION_RESTRICTED)
    assert cond["status"] == "True" and cond["reason"] == limits.REASON_SEVERAL
    assert "enableModuleService" in cond["message"] and "upgradePolicy" in cond["message"]
    one = get_condition(limits.restricted(conditions, both[:1]), limits.CONDITION_RESTRICTED)
    assert one["reason"] == limits.REASON_SERVICE_DISABLED
    assert limits.restricted(conditions, []) == [other]
    assert limits.restricted(None, []) == []

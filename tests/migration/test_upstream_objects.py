"""Upstream's v1 objects as stored: they parse, an invalid one is told field by field, and the
release they record reads as ours (Completed; Paused at group 1) and goes on from there."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from module_controller.api import Module, ModuleDeployment, ModuleReplicaSet
from module_controller.api.errors import describe
from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning import adoption, release_machine
from module_controller.planning import moduledeployment_rules as md_rules
from module_controller.planning.release import Observed, Revision

from migration_data import COMPLETED, PAUSED, objects, of_kind, served

MODELS = {"ModuleDeployment": ModuleDeployment, "ModuleReplicaSet": ModuleReplicaSet,
          "Module": Module}
NOW = dt.datetime(2026, 12, 7, 21, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("recording", [COMPLETED, PAUSED])
def test_every_recorded_object_parses(recording):
    for obj in objects(recording):
        model = MODELS[obj["kind"]].from_api(obj)
        strategy = getattr(model.spec, "operation_strategy", None)
        if strategy is not None:  # targetPort 0 is "not set"
            assert strategy.service_strategy.target_port is None


def test_an_invalid_stored_object_names_field_and_value():
    md = of_kind(COMPLETED, "ModuleDeployment")[0]
    md["spec"]["operationStrategy"]["serviceStrategy"]["targetPort"] = 70000
    md["spec"]["operationStrategy"]["batchCount"] = 0
    with pytest.raises(ValidationError) as caught:
        ModuleDeployment.from_api(md)
    text = describe(caught.value)
    assert "validation error" not in text
    assert "spec.operationStrategy.serviceStrategy.targetPort: 70000: targetPort must be" in text
    assert "spec.operationStrategy.batchCount: 0: " in text
    del md["spec"]["baseDeploymentName"]
    with pytest.raises(ValidationError) as caught:
        ModuleDeployment.from_api(md)
    assert "spec.baseDeploymentName: required field is missing" in describe(caught.value)


def _observed(recording: str, pause: bool) -> tuple[Observed, str]:
    md = ModuleDeployment.from_api(of_kind(recording, "ModuleDeployment")[0])
    mrs = of_kind(recording, "ModuleReplicaSet")[0]
    modules = len(of_kind(recording, "Module"))
    name = mrs["metadata"]["name"]
    rev = Revision(number=1, name=name, replicas=mrs["spec"]["replicas"], instances=modules,
                   available=modules)
    return Observed(desired=md.spec.replicas, update_revision=1, revisions=(rev,),
                    strategy=md_rules.strategy(md, md.spec.replicas), pause=pause,
                    confirm_batch_num=0), name


def _adopted(recording: str):
    md = of_kind(recording, "ModuleDeployment")[0]
    assert adoption.needs_release_adoption(md["status"])
    return adoption.adopted_release(md["status"]["releaseStatus"], [1], md["spec"]["replicas"],
                                    md["spec"].get("pause", False))


def test_completed_release_is_adopted_as_completed_and_moves_nothing():
    state = _adopted(COMPLETED)
    assert (state.update_revision, state.progress, state.current_batch,
            state.real_batch_count, state.stable_revision) == (1, P.COMPLETED, 1, 1, 1)
    observed, name = _observed(COMPLETED, pause=False)
    decision = release_machine.plan(observed, state, NOW)
    assert decision.state.progress is P.COMPLETED
    assert decision.replicas.get(name, 2) == 2 and decision.set_pause is None


def test_paused_release_stays_paused_at_group_1_then_goes_on():
    state = _adopted(PAUSED)
    assert (state.update_revision, state.progress, state.current_batch,
            state.real_batch_count) == (1, P.PAUSED, 1, 2)
    observed, name = _observed(PAUSED, pause=True)
    held = release_machine.plan(observed, state, NOW)
    assert (held.state.progress, held.state.current_batch) == (P.PAUSED, 1)
    assert held.replicas.get(name, 1) == 1
    observed, name = _observed(PAUSED, pause=False)
    resumed = release_machine.plan(observed, state, NOW)
    assert resumed.state.current_batch == 2 and resumed.replicas[name] == 2


def test_status_and_conditions_are_rewritten_into_our_shape():
    # As served after the switch: upstream's snake-case condition times are pruned by then, so
    # the adoption can only date the conditions to itself.
    md = served(COMPLETED, "ModuleDeployment")[0]
    assert all("last_transition_time" not in cond for cond in md["status"]["conditions"])
    state = _adopted(COMPLETED)
    status = adoption.adopted_status(md["status"], state, 3, "2026-12-07T21:00:00Z")
    assert status["observedGeneration"] == 3
    assert status["releaseStatus"]["updateRevision"] == 1
    assert status["releaseStatus"]["batchProgress"] == "1/1"
    for cond in status["conditions"]:
        assert cond["lastTransitionTime"] == "2026-12-07T21:00:00Z" and cond["reason"]


def test_a_module_is_adopted_by_its_replicaset_and_no_longer_blocks_its_pod():
    mrs = of_kind(COMPLETED, "ModuleReplicaSet")[0]
    module = of_kind(COMPLETED, "Module")[0]
    patch = adoption.module_adoption(module, mrs)
    refs = patch["metadata"]["ownerReferences"]
    assert [(r["kind"], r.get("controller", False), r["blockOwnerDeletion"]) for r in refs] == [
        ("Pod", False, False), ("ModuleReplicaSet", True, True)]
    module["metadata"]["ownerReferences"] = refs
    assert adoption.module_adoption(module, mrs) is None  # adopted once
    other = of_kind(COMPLETED, "Module")[1]
    other["metadata"]["labels"]["serverless.alipay.com/module-replicaset"] = "another"
    assert adoption.module_adoption(other, mrs) is None  # not its Module


def test_a_replicaset_this_controller_has_reconciled_adopts_nothing():
    """Once its status carries observedGeneration (written by this controller after it adopted
    what upstream left), a labelled Module nobody controls is someone's forgery, not upstream's."""
    mrs = of_kind(COMPLETED, "ModuleReplicaSet")[0]
    module = of_kind(COMPLETED, "Module")[0]
    assert adoption.module_adoption(module, mrs) is not None
    mrs["status"] = {**(mrs.get("status") or {}), "observedGeneration": 1}
    assert adoption.module_adoption(module, mrs) is None


def test_a_replicaset_being_deleted_adopts_nothing():
    mrs = of_kind(COMPLETED, "ModuleReplicaSet")[0]
    mrs["metadata"]["deletionTimestamp"] = "2026-12-07T20:00:00Z"
    assert adoption.module_adoption(of_kind(COMPLETED, "Module")[0], mrs) is None


def test_base_deployment_owner_reference_of_upstream_goes():
    md = of_kind(COMPLETED, "ModuleDeployment")[0]
    md["metadata"]["resourceVersion"] = "1"
    patch = md_rules.metadata_patch(md["metadata"], md["spec"]["baseDeploymentName"])
    assert patch is not None and patch["ownerReferences"] == []
    assert "finalizers" not in patch  # upstream's finalizers are this project's names


def test_the_adopted_revision_is_brought_to_the_spec_once():
    """upstream's copied strategy (targetPort 0, no maxUnavailable) is replaced, not merged
    into: after the patch the revision compares equal, so it is not patched on every reconcile."""
    md = ModuleDeployment.from_api(of_kind(COMPLETED, "ModuleDeployment")[0])
    mrs = of_kind(COMPLETED, "ModuleReplicaSet")[0]
    wanted = md_rules.revision_spec(md, md.spec.template, mrs["spec"]["selector"])
    patch = md_rules.revision_update(mrs, wanted, md.spec.base_deployment_name)
    assert patch["spec"]["operationStrategy"]["serviceStrategy"]["targetPort"] is None
    assert patch["spec"]["template"]["spec"]["selector"] is None
    applied = _merge(mrs["spec"], patch["spec"])
    mrs = {**mrs, "spec": applied, "metadata": {**mrs["metadata"], **patch["metadata"]}}
    assert md_rules.revision_update(mrs, wanted, md.spec.base_deployment_name) is None


def _merge(target, patch):
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def test_the_wait_for_unread_modules_is_bounded_by_the_grace():
    hold = adoption.hold_for_unread(2, None, 100.0, 48.8)
    assert hold == adoption.Hold(100.0, 48.8)  # starts now
    assert adoption.hold_for_unread(1, 100.0, 130.0, 48.8).left == 48.8 - 30.0
    assert adoption.hold_for_unread(1, 100.0, 148.8, 48.8) == adoption.Hold(100.0, None)
    assert adoption.hold_for_unread(0, 100.0, 110.0, 48.8) == adoption.Hold(None, None)


def test_our_own_status_before_any_release_is_not_taken_for_upstreams():
    from module_controller.planning.deployment_status import release_status
    from module_controller.planning.release import ReleaseState
    ours = release_status(ReleaseState())
    assert "updateRevision" not in ours and ours  # what makes the marker needed
    assert not adoption.needs_release_adoption({"releaseStatus": ours})
    upstream = {"currentBatch": 2, "batchProgress": "Executing", "progress": "Executing"}
    assert adoption.needs_release_adoption({"releaseStatus": upstream})

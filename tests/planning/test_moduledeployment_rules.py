"""The ModuleDeployment controller's decisions besides the release (planning.moduledeployment_rules) and
its status (planning.deployment_status), without a cluster."""

from __future__ import annotations

import datetime as dt

from module_controller.api import ModuleDeployment
from module_controller.api import constants as c
from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning import deployment_status as report
from module_controller.planning import moduledeployment_rules as md_rules
from module_controller.planning.release import Decision, Observed, ReleaseState, Revision, Strategy
from module_controller.planning.rollback import REASON_ABORTED

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _claim(name: str, created: str, base: str = "base", module: str = "m",
           held: bool = False) -> md_rules.Claim:
    return md_rules.Claim(deployment=name, created=created, base=base, module=module, held=held)


def test_the_older_claim_keeps_the_module_name():
    mine = _claim("b", "2026-01-02T00:00:00Z")
    older = _claim("a", "2026-01-01T00:00:00Z")
    assert md_rules.name_conflict(mine, [mine, older]).startswith(
        "module m already belongs to ModuleDeployment a (base base, claimed 2026-01-01")
    assert md_rules.name_conflict(older, [mine, older]) is None


def test_same_age_goes_by_name_and_a_name_is_claimed_namespace_wide():
    same = "2026-01-01T00:00:00Z"
    assert md_rules.name_conflict(_claim("b", same), [_claim("a", same)]) is not None
    assert md_rules.name_conflict(_claim("a", same), [_claim("b", same)]) is None
    # Another base Deployment does not make the same name another's: its Service and the pod
    # label its Service selects are one per namespace.
    assert md_rules.name_conflict(_claim("b", same), [_claim("a", same, base="other")]) \
        is not None
    assert md_rules.name_conflict(_claim("b", same), [_claim("a", same, module="n")]) is None


def test_a_held_name_beats_an_older_moduledeployment_renamed_to_it():
    """The squatter was created first, then renamed its module to the victim's: the victim
    holds the name (it has a revision of it), the squatter only asks."""
    squatter = _claim("teamb", "2026-01-01T00:00:00Z", base="teamb")
    victim = _claim("teama", "2026-01-05T00:00:00Z", base="teama", held=True)
    assert md_rules.name_conflict(squatter, [squatter, victim]) is not None
    assert md_rules.name_conflict(victim, [squatter, victim]) is None
    # Two that hold it (from before names were claimed per namespace): the older revision.
    assert md_rules.name_conflict(_claim("x", "2026-01-02T00:00:00Z", held=True),
                                    [_claim("y", "2026-01-03T00:00:00Z", held=True)]) is None


def _held(name: str, number: int, replicas: int = 0, deleting: bool = False,
          instances: bool = False) -> md_rules.HeldRevision:
    return md_rules.HeldRevision(name, number, replicas, deleting, instances)


def test_pruning_keeps_the_limit_of_idle_revisions_and_never_one_that_holds_something():
    revisions = [_held("r1", 1), _held("r2", 2), _held("r3", 3, instances=True),
                 _held("r4", 4, replicas=1), _held("r5", 5), _held("r6", 6, deleting=True),
                 _held("r7", 7)]
    assert md_rules.to_prune(revisions, "r7", limit=1) == ["r1", "r2"]
    assert md_rules.to_prune(revisions, "r7", limit=0) == ["r1", "r2", "r5"]
    assert md_rules.to_prune(revisions, "r7", limit=5) == []


def test_revision_number_of_a_missing_or_malformed_label_is_zero():
    key = c.LABEL_MODULE_REPLICASET_REVISION
    assert md_rules.revision_number({key: "12"}, key) == 12
    assert md_rules.revision_number({key: "x"}, key) == 0
    assert md_rules.revision_number({}, key) == 0


def test_metadata_patch_adds_finalizers_and_drops_the_base_owner():
    base_ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "base", "uid": "u"}
    users = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mine", "uid": "m"}
    meta = {"resourceVersion": "7", "finalizers": ["other"],
            "ownerReferences": [base_ref, users]}
    patch = md_rules.metadata_patch(meta, "base")
    # Only the base's reference goes: an owner the user chose is not ours to drop.
    assert patch == {"finalizers": ["other", *md_rules.FINALIZERS], "ownerReferences": [users],
                     "resourceVersion": "7"}
    done = {"resourceVersion": "8", "finalizers": list(md_rules.FINALIZERS),
            "ownerReferences": [users]}
    assert md_rules.metadata_patch(done, "base") is None
    assert md_rules.finalizers_left(done) == []
    assert md_rules.finalizers_left({"finalizers": ["other"]}) is None


def _model(**spec) -> tuple[dict, ModuleDeployment]:
    obj = {"apiVersion": c.API_VERSION, "kind": c.MODULE_DEPLOYMENT.kind,
           "metadata": {"name": "md", "namespace": "ns", "uid": "uid-1"},
           "spec": {"baseDeploymentName": "base", "replicas": 2, "template": {"spec": {
               "module": {"name": "m", "version": "1.0", "url": "http://x/m.jar"}}}, **spec}}
    return obj, ModuleDeployment.from_api(obj)


def test_a_new_revision_is_owned_labelled_and_empty():
    obj, model = _model()
    assert model.spec.template is not None
    wanted = md_rules.revision_spec(model, model.spec.template, {"matchLabels": {"a": "b"}})
    body = md_rules.new_revision(obj, model, model.spec.template, wanted, 3)
    assert body["metadata"]["name"] == c.replicaset_name("md", 3)
    assert body["metadata"]["labels"][c.LABEL_MODULE_REPLICASET_REVISION] == "3"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert body["spec"]["replicas"] == 0 and body["spec"]["selector"] == {"matchLabels": {"a": "b"}}
    # The same revision, current: nothing to patch; another base: the label follows.
    existing = {"metadata": {"labels": {c.LABEL_DEPLOYMENT_NAME: "base"}}, "spec": dict(wanted)}
    assert md_rules.revision_update(existing, wanted, "base") is None
    assert md_rules.revision_update(existing, wanted, "other")["metadata"]["labels"] == {
        c.LABEL_DEPLOYMENT_NAME: "other"}


def test_service_only_when_asked():
    obj, model = _model()
    assert md_rules.service_body(obj, model, model.spec.template, "nodeport") is None
    obj, model = _model(operationStrategy={"serviceStrategy": {
        "enableModuleService": True, "port": 8080}})
    body = md_rules.service_body(obj, model, model.spec.template, "clusterip")
    assert body["spec"]["type"] == "ClusterIP"
    assert body["spec"]["ports"][0]["targetPort"] == 8080


# ----------------------------------------------------------------- status

def _observed(desired: int = 3, available: int = 3) -> Observed:
    return Observed(desired=desired, update_revision=2,
                    revisions=(Revision(1, "r1", 0, 0, 0), Revision(2, "r2", 3, 3, available)),
                    strategy=Strategy(max_unavailable=1), pause=False, confirm_batch_num=0)


def _facts(available: int = 3) -> report.Facts:
    return report.Facts(available=available, failing="no instance", rollback_on_failure=False,
                        deadline_seconds=60, generation=4)


def _state(progress: P, **kw) -> ReleaseState:
    return ReleaseState(update_revision=2, current_batch=1, real_batch_count=2, original_delta=3,
                        progress=progress, desired=3, last_transition=T0, **kw)


def test_status_of_a_running_release_and_its_events_once():
    decision = Decision(state=_state(P.EXECUTING))
    out = report.deployment_status({}, decision, _observed(), ReleaseState(), _facts(2))
    st = out.status
    assert st["availableReplicas"] == 2 and st["unavailableReplicas"] == 1
    assert st["updatedReplicas"] == 3 and st["observedGeneration"] == 4
    assert st["releaseStatus"]["batchProgress"] == "1/2"
    assert st["releaseStatus"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    types = {x["type"]: x for x in st["conditions"]}
    assert types[c.CONDITION_AVAILABLE]["status"] == "True", "2 of 3 within maxUnavailable 1"
    assert types[c.CONDITION_PROGRESSING]["reason"] == "ReleaseProgressing"
    assert [e[1] for e in out.events] == ["ReleaseExecuting"]
    again = report.deployment_status(st, decision, _observed(), ReleaseState(), _facts(2))
    assert again.status is None and again.events == [], "unchanged: no write, no Event"


def test_a_cleared_given_up_revision_is_written_as_null():
    """The status is a merge patch: a field left out would stay; the user moved on from the
    given-up revision, so it is written as null (else the next read brings it back)."""
    given_up = _state(P.ABORTED, stable_revision=1, aborted_revision=2, aborted_module="m:2",
                      aborted_generation=3)
    current = report.deployment_status({}, Decision(state=given_up), _observed(),
                                       ReleaseState(), _facts()).status
    moved_on = Decision(state=_state(P.EXECUTING, stable_revision=1))
    out = report.deployment_status(current, moved_on, _observed(), given_up, _facts()).status
    rs = out["releaseStatus"]
    assert (rs["abortedRevision"], rs["abortedModule"], rs["abortedGeneration"]) == \
        (None, None, None)
    assert rs["stableRevision"] == 1 and rs["progress"] == "Executing"


def test_deadline_and_failure_are_told_once_each():
    late = Decision(state=_state(P.EXECUTING), deadline_exceeded=True)
    first = report.deployment_status({}, late, _observed(), ReleaseState(), _facts())
    assert (report.WARNING, c.REASON_PROGRESS_DEADLINE_EXCEEDED) in [e[:2] for e in first.events]
    failed = Decision(state=_state(P.EXECUTING), deadline_exceeded=True, failed=True)
    then = report.deployment_status(first.status, failed, _observed(), ReleaseState(), _facts())
    assert [e[1] for e in then.events] == [c.REASON_PROGRESS_DEADLINE_EXCEEDED]
    assert "rollbackOnFailure is off" in then.events[0][2]


def test_an_abort_sets_rolled_back_and_early_failures_are_cleared():
    decision = Decision(state=_state(P.EXECUTING, stable_revision=1, aborted_revision=2),
                        rolled_back=REASON_ABORTED)
    blocked = report.blocked(None, c.REASON_TEMPLATE_NOT_FOUND, "gone", unavailable=True)
    out = report.deployment_status({"conditions": blocked}, decision, _observed(),
                                   _state(P.EXECUTING), _facts())
    types = {x["type"]: x for x in out.status["conditions"]}
    assert c.CONDITION_REPLICA_FAILURE not in types
    assert types[c.CONDITION_ROLLED_BACK]["reason"] == REASON_ABORTED
    assert (report.WARNING, REASON_ABORTED) == out.events[0][:2]


def test_a_service_conflict_outlives_the_status_write_and_clears_only_itself():
    conflict = report.blocked(None, c.REASON_SERVICE_CONFLICT, "provider-service is not ours")
    decision = Decision(state=_state(P.COMPLETED))
    out = report.deployment_status({"conditions": conflict}, decision, _observed(),
                                   _state(P.COMPLETED), _facts())
    kept = {x["type"]: x for x in out.status["conditions"]}[c.CONDITION_REPLICA_FAILURE]
    assert kept["reason"] == c.REASON_SERVICE_CONFLICT  # the Service step decides, not the status
    cleared = report.service_conflict_cleared(out.status["conditions"])
    assert cleared is not None
    assert c.CONDITION_REPLICA_FAILURE not in {x["type"] for x in cleared}
    assert [x for x in out.status["conditions"] if x["type"] != c.CONDITION_REPLICA_FAILURE] \
        == cleared
    assert report.service_conflict_cleared(cleared) is None  # nothing to write
    assert report.service_conflict_cleared(None) is None
    other = report.blocked(None, c.REASON_TEMPLATE_NOT_FOUND, "gone")
    assert report.service_conflict_cleared(other) is None


def test_release_state_reads_back_what_release_status_writes():
    st = _state(P.PAUSED, stable_revision=1, next_reconcile=T0 + dt.timedelta(seconds=3))
    status = {"releaseStatus": report.release_status(st), "desiredReplicas": 3}
    assert report.release_state(status) == st


def test_failing_message_names_five():
    names = [f"m{i} on pod-{i}" for i in range(7)]
    assert report.failing_message(names).startswith("7 instance(s) (m0 on pod-0, ")
    assert report.failing_message(names).endswith(", ...)")

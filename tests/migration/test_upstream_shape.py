"""The way back, pure: our objects in the shape upstream's Go v1 controller needs. A recorded
upstream release adopted and turned back reads as upstream wrote it."""

from __future__ import annotations

import pytest

from module_controller.migrate import upstream_shape as shape
from module_controller.planning import adoption

from migration_data import COMPLETED, PAUSED, of_kind

BASE = {"metadata": {"name": "dynamic-stock-deployment", "uid": "base-uid"}}
NOW = "2026-12-07T21:00:00Z"


def ours(recording: str) -> dict:
    """The recorded ModuleDeployment as this controller rewrites it on adoption."""
    md = of_kind(recording, "ModuleDeployment")[0]
    state = adoption.adopted_release(md["status"]["releaseStatus"], [1], md["spec"]["replicas"],
                                     md["spec"].get("pause", False))
    patch = adoption.adopted_status(md["status"], state, 1, NOW)
    md["status"] = {k: v for k, v in {**md["status"], **patch}.items()}
    md["status"]["releaseStatus"] = {k: v for k, v in patch["releaseStatus"].items()
                                     if v is not None}
    md["metadata"]["ownerReferences"] = []
    md["metadata"]["resourceVersion"] = "7"
    md["spec"]["operationStrategy"]["maxUnavailable"] = "25%"
    return md


@pytest.mark.parametrize("recording", [COMPLETED, PAUSED])
def test_an_adopted_release_turned_back_reads_as_upstream_wrote_it(recording):
    upstream = of_kind(recording, "ModuleDeployment")[0]["status"]["releaseStatus"]
    patch, status = shape.deployment(ours(recording), BASE)
    back = status["releaseStatus"]
    assert back["updateRevision"] is None and back["stableRevision"] is None
    for key in ("currentBatch", "progress", "batchProgress"):
        assert back[key] == upstream[key], key
    assert all("last_transition_time" in cond and "lastTransitionTime" not in cond
               for cond in status["conditions"])
    assert patch["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "dynamic-stock-deployment",
        "uid": "base-uid", "controller": True, "blockOwnerDeletion": True}]
    assert patch["spec"]["operationStrategy"] == {"maxUnavailable": None}  # not an int32
    # A second run (say after an interrupted one) leaves upstream's release status alone.
    md = ours(recording)
    md["status"]["releaseStatus"] = {k: v for k, v in {**md["status"]["releaseStatus"],
                                                       **back}.items() if v is not None}
    assert "releaseStatus" not in shape.deployment(md, BASE)[1]


def test_a_deployment_without_labels_gets_one_upstream_can_copy():
    md = ours(COMPLETED)
    md["metadata"].pop("labels")
    patch, _ = shape.deployment(md, BASE)
    assert patch["metadata"]["labels"] == {"app.kubernetes.io/name": "moduledeployment"}


@pytest.mark.parametrize("edit, field", [
    ({"spec": {"templateRef": {"name": "t"}}}, "spec.templateRef"),
    ({"status": {"releaseStatus": {"progress": "Terminating"}}}, "progress"),
    ({"status": {"releaseStatus": {"progress": "Executing"}}}, "progress"),
    ({"status": {"releaseStatus": {"progress": "Executing",
                                   "nextReconcileTime": "2026-12-07T20:00:00Z"}}}, "progress"),
])
def test_what_upstream_cannot_go_on_with_is_refused_by_name(edit, field):
    md = ours(COMPLETED)
    for part, values in edit.items():
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(md[part].get(key), dict):
                md[part][key].update(value)
            else:
                md[part][key] = value
    with pytest.raises(shape.NotConvertible, match=field):
        shape.deployment(md, BASE)


def test_a_module_is_owned_by_its_pod_only_again():
    module = of_kind(COMPLETED, "Module")[0]
    mrs = of_kind(COMPLETED, "ModuleReplicaSet")[0]
    module["metadata"]["resourceVersion"] = "3"
    adopted = adoption.module_adoption(module, mrs)
    module["metadata"]["ownerReferences"] = adopted["metadata"]["ownerReferences"]
    back = shape.module(module)
    assert back["metadata"]["ownerReferences"] == [{
        **of_kind(COMPLETED, "Module")[0]["metadata"]["ownerReferences"][0]}]
    module["status"] = {"status": "Available", "lastTransitionTime": NOW, "installs": 1}
    assert shape.module_status(module, "later") == {"last_transition_time": NOW}
    module["status"] = {"status": "Available"}
    assert shape.module_status(module, "later") == {"last_transition_time": "later"}

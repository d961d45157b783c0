"""What the switch to this project's CRDs prunes from upstream's stored objects (the cluster test
checks the API server drops exactly these)."""

from module_controller.api import KINDS
from module_controller.api.crdgen import build_crd
from module_controller.migrate.pruning import pruned_fields

from migration_data import COMPLETED, objects

SCHEMAS = {m.crd.names.kind: build_crd(m)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
           for m in KINDS}


def pruned(obj: dict) -> list[tuple[str, object]]:
    return pruned_fields(SCHEMAS[obj["kind"]], obj)


def test_upstreams_recorded_objects_lose_these_fields():
    got = {(o["kind"], p, str(v)) for o in objects(COMPLETED) for p, v in pruned(o)}
    assert got == {
        ("ModuleDeployment", "spec.template.spec.selector", "{}"),
        ("ModuleDeployment", "status.conditions[0].last_transition_time", "2026-12-07T19:48:36Z"),
        ("ModuleDeployment", "status.conditions[1].last_transition_time", "2026-12-07T19:48:36Z"),
        ("ModuleReplicaSet", "spec.template.spec.selector", "{}"),
        ("Module", "status.last_transition_time", "2026-12-07T19:48:36Z"),
    }


def test_upstreams_other_status_fields_are_listed_with_their_values():
    mrs = next(o for o in objects(COMPLETED) if o["kind"] == "ModuleReplicaSet")
    mrs["status"] = {**(mrs.get("status") or {}), "collisionCount": 1, "upgradingReplicas": 0}
    paths = dict(pruned(mrs))
    assert paths["status.collisionCount"] == 1 and paths["status.upgradingReplicas"] == 0


def test_labels_and_declared_fields_are_kept():
    md = next(o for o in objects(COMPLETED) if o["kind"] == "ModuleDeployment")
    assert all(not p.startswith(("metadata", "spec.replicas")) for p, _ in pruned(md))

"""Typed reads of raw objects (api/objects.py)."""

from __future__ import annotations

import datetime as dt

from module_controller.api import objects as o


def test_phase_of_modules_with_and_without_status() -> None:
    assert o.phase({"status": {"status": "Available"}}) == "Available"
    assert o.phase({}) is None and o.phase({"status": None}) is None
    assert o.phase({"status": {"status": 3}}) is None


def test_owner_references() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b", "uid": "u1"}}
    ref = o.owner_reference(owner, controller=False)
    assert ref == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "b", "uid": "u1",
                   "controller": False, "blockOwnerDeletion": True}
    child = {"metadata": {"ownerReferences": [ref, {"kind": "X"}]}}
    assert o.owner_uids(child) == {"u1"} and o.owned_by(child, "u1")
    assert not o.owned_by({"metadata": {}}, "u1")


def test_owner_ref_by_kind_and_controller() -> None:
    plain = {"kind": "ModuleReplicaSet", "name": "a", "uid": "u1"}
    ruling = {"kind": "ModuleReplicaSet", "name": "b", "uid": "u2", "controller": True}
    obj = {"metadata": {"ownerReferences": [{"kind": "Pod", "name": "p"}, plain, ruling]}}
    assert o.owner_ref(obj, "ModuleReplicaSet") is plain
    assert o.owner_ref(obj, "ModuleReplicaSet", controller=True) is ruling
    assert o.owner_ref(obj, "Deployment") is None
    assert o.owner_ref({"metadata": {}}, "Pod") is None and o.owner_ref({}, "Pod") is None


def test_times_round_trip_in_whole_seconds() -> None:
    when = dt.datetime(2026, 11, 30, 23, 1, 2, 500, tzinfo=dt.timezone.utc)
    assert o.format_time(when) == "2026-11-30T23:01:02Z"
    assert o.format_time(when, ceil=True) == "2026-11-30T23:01:03Z"
    assert o.parse_time("2026-11-30T23:01:02Z") == when.replace(microsecond=0)
    assert o.parse_time(None) is None and o.parse_time("") is None


def test_status_and_update_revision() -> None:
    assert o.status_of({}) == {} and o.status_of({"status": None}) == {}
    assert o.status_of({"status": {"a": 1}}) == {"a": 1}
    assert o.update_revision({"status": {"releaseStatus": {"updateRevision": 3}}}) == 3
    assert o.update_revision({"status": {"releaseStatus": None}}) is None
    assert o.update_revision({}) is None

"""The object cache: label indexes agree with a full scan, and only what readers use is kept."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from module_controller.runtime.store import LAST_APPLIED, Store, slim


def _obj(name: str, ns: str, uid: str, rv: int, labels: dict[str, str]) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
                         "labels": dict(labels)}}


@pytest.mark.parametrize("seed", range(20))
def test_label_index_equals_a_full_scan_after_random_changes(seed):
    rnd = random.Random(seed)
    store = Store("Module", index_labels=("pod", "owner"))
    rv = 0
    uids: dict[tuple[str, str], str] = {}
    for step in range(400):
        ns, name = rnd.choice(["a", "b"]), f"m{rnd.randint(0, 30)}"
        rv += 1
        if rnd.random() < 0.25:
            current = store.get(ns, name)
            if current is not None:
                store.remove(current)
                uids.pop((ns, name), None)
            continue
        uid = uids.setdefault((ns, name), f"{ns}-{name}-{step}")
        labels = {k: rnd.choice(["p1", "p2", "p3"]) for k in ("pod", "owner", "other")
                  if rnd.random() < 0.8}
        store.upsert(_obj(name, ns, uid, rv, labels))
    for label in ("pod", "owner"):
        for ns in ("a", "b"):
            for value in ("p1", "p2", "p3"):
                by_index = sorted(o["metadata"]["name"] for o in store.by_label(ns, label, value))
                by_scan = sorted(o["metadata"]["name"] for o in store.list(ns)
                                 if o["metadata"]["labels"].get(label) == value)
                assert by_index == by_scan, (label, ns, value)


def test_bookkeeping_fields_are_not_cached_and_the_callers_dict_is_untouched():
    store = Store("Module")
    obj = _obj("m", "a", "u", 5, {"x": "1"})
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    obj["metadata"]["annotations"] = {LAST_APPLIED: "{...}", "keep": "me"}
    obj["spec"] = {"module": {"name": "m"}}
    store.upsert(obj)
    cached = store.get("a", "m")
    assert "managedFields" not in cached["metadata"]
    assert cached["metadata"]["annotations"] == {"keep": "me"}
    assert cached["spec"] == obj["spec"] and cached["metadata"]["labels"] == {"x": "1"}
    assert "managedFields" in obj["metadata"] and LAST_APPLIED in obj["metadata"]["annotations"]


def test_slim_keeps_only_the_named_status_fields_and_drops_what_it_is_told():
    store = Store("Pod", trim=slim(drop=("spec",), status=("phase", "podIP")))
    pod = _obj("p", "a", "u", 1, {})
    pod["spec"] = {"containers": [{"name": "base", "image": "x"}]}
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{}]}
    store.upsert(pod)
    cached = store.get("a", "p")
    assert "spec" not in cached and cached["status"] == {"phase": "Running", "podIP": "10.0.0.1"}
    # A trimmed copy still never goes back in time.
    older = _obj("p", "a", "u", 0, {})
    assert store.upsert(older) == (cached, False)


def _owner(obj: dict) -> str | None:
    """An index by a function of the object: the first owner's name, as pods by Deployment."""
    refs = obj["metadata"].get("ownerReferences") or []
    return refs[0]["name"] if refs else None


@pytest.mark.parametrize("seed", range(20))
def test_function_index_equals_a_full_scan_after_random_upserts_and_deletes(seed):
    rnd = random.Random(seed)
    store = Store("Pod", indexes={"owner": _owner}, trim=slim(drop=("spec",)))
    rv = 0
    uids: dict[tuple[str, str], str] = {}
    for step in range(400):
        ns, name = rnd.choice(["a", "b"]), f"p{rnd.randint(0, 30)}"
        rv += 1
        current = store.get(ns, name)
        if rnd.random() < 0.25:
            if current is not None:
                store.remove(current)
                uids.pop((ns, name), None)
            continue
        # Now and then an old copy or a namesake (another uid) arrives: neither may leave a
        # stale entry behind.
        uid = uids.setdefault((ns, name), f"{ns}-{name}-{step}")
        if rnd.random() < 0.1:
            uid = f"{ns}-{name}-namesake-{step}"
        obj = _obj(name, ns, uid, rv - rnd.choice([0, 0, 0, 5]), {})
        if rnd.random() < 0.8:
            obj["metadata"]["ownerReferences"] = [{"name": rnd.choice(["d1", "d2", "d3"])}]
        obj["spec"] = {"nodeName": "n"}
        store.upsert(obj)
    for ns in ("a", "b"):
        for value in ("d1", "d2", "d3"):
            by_index = sorted(o["metadata"]["name"] for o in store.by_index("owner", ns, value))
            by_scan = sorted(o["metadata"]["name"] for o in store.list(ns) if _owner(o) == value)
            assert by_index == by_scan, (ns, value)
            assert store.count("owner", ns, value) == len(by_scan)


def _state(obj: dict) -> str:
    return (obj.get("status") or {}).get("phase", "none")


@pytest.mark.parametrize("seed", range(20))
def test_tally_equals_a_count_over_a_full_scan_after_random_upserts_and_deletes(seed):
    rnd = random.Random(seed)
    store = Store("Module", tallies={"owner": (lambda o: o["metadata"]["labels"].get("owner"),
                                               _state)})
    rv = 0
    for step in range(400):
        ns, name = rnd.choice(["a", "b"]), f"m{rnd.randint(0, 30)}"
        rv += 1
        current = store.get(ns, name)
        if rnd.random() < 0.25:
            if current is not None:
                store.remove(current)
            continue
        uid = current["metadata"]["uid"] if current is not None and rnd.random() < 0.9 \
            else f"{ns}-{name}-{step}"
        obj = _obj(name, ns, uid, rv - rnd.choice([0, 0, 0, 5]),
                   {"owner": rnd.choice(["r1", "r2"])} if rnd.random() < 0.8 else {})
        if rnd.random() < 0.7:
            obj["status"] = {"phase": rnd.choice(["Available", "Failed", "Installing"])}
        store.upsert(obj)
    for ns in ("a", "b"):
        for owner in ("r1", "r2"):
            scanned = Counter(_state(o) for o in store.list(ns)
                              if o["metadata"]["labels"].get("owner") == owner)
            assert store.tally("owner", ns, owner) == scanned, (ns, owner)


def test_cached_copies_share_their_keys_and_short_strings_and_equal_what_was_stored():
    store = Store("Module")
    for name in ("m1", "m2"):
        # Decoded separately, as the API client does: equal strings, distinct objects.
        store.upsert(json.loads(json.dumps(_obj(name, "a", "uid-" + name, 1,
                                                {"example.com/module-replicaset": "rs-1"}))))
    one, two = store.get("a", "m1"), store.get("a", "m2")
    (k1, v1), = one["metadata"]["labels"].items()
    (k2, v2), = two["metadata"]["labels"].items()
    assert k1 is k2 and v1 is v2
    assert one == _obj("m1", "a", "uid-m1", 1, {"example.com/module-replicaset": "rs-1"})


def test_the_same_version_again_is_not_copied_and_keeps_a_local_mark():
    store = Store("Module", index_labels=("pod",))
    store.upsert(_obj("m", "a", "u", 5, {"pod": "p1"}))
    cached = store.get("a", "m")
    marked = {**cached, "metadata": {**cached["metadata"], "deletionTimestamp": "pending"}}
    store.mark(marked)
    assert store.get("a", "m")["metadata"]["deletionTimestamp"] == "pending"
    # The watch's echo of that version: stored (news to nobody), the mark stays.
    assert store.upsert(_obj("m", "a", "u", 5, {"pod": "p1"})) == (store.get("a", "m"), True)
    assert store.get("a", "m")["metadata"]["deletionTimestamp"] == "pending"
    # A newer version replaces it, and the indexes follow.
    store.upsert(_obj("m", "a", "u", 6, {"pod": "p2"}))
    assert "deletionTimestamp" not in store.get("a", "m")["metadata"]
    assert store.by_label("a", "pod", "p1") == [] and len(store.by_label("a", "pod", "p2")) == 1

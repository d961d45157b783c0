"""The object cache: label indexes agree with a full scan, and only what readers use is kept."""

from __future__ import annotations

import random

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

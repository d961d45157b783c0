"""A release's Modules report their ordinary transitions once per revision and group on the
ModuleDeployment, counted; their failures stay on the Module (behaviour
§8.2). Real controller, real API server, fake Arklets."""

from __future__ import annotations

import pytest

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.kubectl import kubectl_apply as apply

from helpers.controller_args import MODULE_STEP
from helpers.bodies import INSTALL_LATENCY, md_body
from helpers.cluster import bases, wait_md

pytestmark = pytest.mark.cluster


def _completed(md: dict | None) -> bool:
    return kt.release_status(md).get("progress") == "Completed" and \
        (md or {}).get("status", {}).get("availableReplicas") == 6


async def test_a_release_posts_one_installed_event_per_group(api, namespace, arklets, controller,
                                                             dev_cluster):
    await bases(api, namespace, 6, annotations={INSTALL_LATENCY: "0.1"})
    apply(dev_cluster.kubeconfig, namespace, md_body("grouped", 6, batchCount=3,
                                                     needConfirm=False))
    await wait_md(api, namespace, "grouped", _completed, "Completed with 6 available",
                  timeout=3 * MODULE_STEP)

    def installed(events) -> dict[str, int]:
        return {e.message.split(":", 1)[0]: e.count for e in events if e.reason == "Installed"}

    # Posted in the background: wait for the three groups' counts to arrive.
    events = await kt.wait_for(
        lambda: kt.events_for(api, namespace, "grouped"),
        lambda es: installed(es) == {f"revision 1, group {g}/3": 2 for g in (1, 2, 3)},
        timeout=MODULE_STEP, what="one Installed Event per group, each of count 2")
    for event in events:
        if event.reason == "Installed":
            assert event.type == "Normal" and " 2 Modules Installed; latest " in event.message

    # The Modules themselves carry none of those; nothing was dropped on the way.
    for module in await kt.list_modules(api, namespace):
        own = await kt.events_for(api, namespace, module["metadata"]["name"])
        assert [e.reason for e in own if e.type == "Normal"] == [], module["metadata"]["name"]
    assert "dropped" not in controller.log_text()

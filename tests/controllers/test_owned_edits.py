"""A hand edit of an owned Module's spec is reverted by its owner before anything is installed
from it: the Module controller installs nothing from a spec that differs
from its ModuleReplicaSet's template, and the ModuleReplicaSet writes the template back."""

from __future__ import annotations

import pytest

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.controller_args import MODULE_STEP
from helpers.arklet_log import log_marks, request_log
from helpers.cluster import bases

pytestmark = pytest.mark.cluster
MRS = f"{c.LABEL_MODULE_REPLICASET}=rs"


async def test_hand_edit_of_an_owned_module_is_reverted_not_installed(
        api, namespace, arklets, controller):
    (pod,) = await bases(api, namespace, 1)
    await kt.create_replicaset(api, namespace, kt.replicaset_body("rs", 1))
    (module,) = await kt.wait_for(lambda: kt.list_modules(api, namespace, MRS),
                                  lambda ms: len(ms) == 1 and kt.phase(ms[0]) == "Available",
                                  timeout=MODULE_STEP, what="one Available instance")
    template = module["spec"]["module"]
    ip = pod.status.pod_ip
    marks = await log_marks(arklets, [ip])

    edited = await kt.patch_module(api, namespace, module["metadata"]["name"], {"spec": {
        "module": {"version": "9.9.9", "url": "http://evil.example/provider-9.9.9-ark-biz.jar"}}})
    reverted = await kt.wait_for(
        lambda: kt.get_module(api, namespace, module["metadata"]["name"]),
        lambda m: m["metadata"]["generation"] > edited["metadata"]["generation"]
        and m["spec"]["module"] == template and kt.phase(m) == "Available"
        and m["status"].get("observedGeneration") == m["metadata"]["generation"],
        timeout=MODULE_STEP, what="the template written back and the Module Available for it")
    assert reverted["status"]["installedVersion"] == template["version"]
    log = await request_log(arklets, ip, since=marks[ip])
    changes = [r for r in log if r["command"] in ("installBiz", "switchBiz", "uninstallBiz")]
    assert changes == [], "nothing is installed, switched or uninstalled for a hand edit"

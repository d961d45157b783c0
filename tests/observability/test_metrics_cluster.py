"""/metrics of the real controller process after a release on the dev cluster: the series of
docs/metrics.md are there with the values the cluster shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess, free_port
from module_controller_dev.devcluster.kubectl import kubectl_apply

from helpers.cluster import bases
from helpers.controller_args import FAST, MODULE_STEP

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
MD = "moduledeployment-sample"
START_TIMEOUT = 60.0


async def scrape(port: int) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_the_controller_exposes_release_queue_arklet_and_process_series(
        api, namespace, arklets, dev_cluster, tmp_path):
    await bases(api, namespace, 2)
    port = free_port()
    proc = ControllerProcess(dev_cluster.kubeconfig, tmp_path / "controller.log",
                             namespaces=[namespace], extra_args=FAST, probe_port=port).start()
    try:
        await asyncio.to_thread(proc.wait_ready, START_TIMEOUT)
        body = yaml.safe_load((REPO / "config" / "samples" /
                               "seed003_moduledeployment.yaml").read_text())
        body["metadata"]["namespace"] = namespace
        body["spec"]["operationStrategy"]["needConfirm"] = False
        kubectl_apply(dev_cluster.kubeconfig, namespace, body)
        md = await kt.wait_progress(api, namespace, MD, "Completed", timeout=2 * MODULE_STEP)
        revision = md["status"]["releaseStatus"]["updateRevision"]
        key = (("name", MD), ("namespace", namespace))

        def complete(s: dict) -> bool:  # the store may lag the API by a watch event
            return s.get(("module_controller_moduledeployment_info",
                          (*key, ("paused", "false"), ("progress", "Completed")))) == 1
        s = await kt.wait_for(lambda: scrape(port), complete, timeout=MODULE_STEP,
                              what="the info series to say Completed")
    finally:
        proc.stop()
    p = "module_controller_moduledeployment"
    assert s[(f"{p}_revision", key)] == revision
    assert s[(f"{p}_replicas", (*key, ("state", "available")))] == 2
    assert s[(f"{p}_replicas", (*key, ("state", "desired")))] == 2
    names = {name for name, _ in s}
    assert {"module_controller_workqueue_depth", "module_controller_workqueue_adds_total",
            "module_controller_workqueue_queue_duration_seconds_count",
            "process_resident_memory_bytes", "python_gc_collections_total"} <= names
    installs = [v for (name, labels), v in s.items()
                if name == "module_controller_arklet_call_duration_seconds_count"
                and dict(labels) == {"command": "installBiz", "outcome": "success"}]
    assert installs and installs[0] >= 2

"""The per-ModuleDeployment series, the work-queue metrics fed by a real WorkQueue, Arklet call
outcomes, the standard collectors, and the Grafana dashboard's queries against the metric names
the registry really has."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from module_controller.observability import Metrics, start_probe_server
from module_controller.observability.metrics import arklet_outcome
from module_controller.observability.releases import release_samples
from module_controller.runtime.backoff import CappedJitterBackoff
from module_controller.runtime.queue import WorkQueue

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "config" / "grafana" / "module-controller.json"

MD = {
    "metadata": {"namespace": "team-a", "name": "provider"},
    "spec": {"replicas": 4, "pause": False},
    "status": {
        "replicas": 4, "readyReplicas": 3, "availableReplicas": 3, "unavailableReplicas": 1,
        "updatedReplicas": 2, "updatedAvailableReplicas": 2,
        "conditions": [{"type": "Progressing", "status": "False",
                        "reason": "ProgressDeadlineExceeded"},
                       {"type": "Available", "status": "True"}],
        "releaseStatus": {"progress": "Executing", "updateRevision": 7, "stableRevision": 6,
                          "currentBatch": 2, "realBatchCount": 3,
                          "lastTransitionTime": "2026-12-07T10:00:00Z"},
    },
}
NEW = {"metadata": {"namespace": "team-b", "name": "fresh"}, "spec": {"replicas": 1}}


def samples(metrics: Metrics) -> dict:
    body, _ = metrics.render()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def test_one_set_of_series_per_moduledeployment():
    m = Metrics()
    mds = [MD, NEW]
    m.set_release_provider(lambda: release_samples(mds))
    s = samples(m)
    key = (("name", "provider"), ("namespace", "team-a"))
    p = "module_controller_moduledeployment"
    assert s[(f"{p}_info", (*key[:1], key[1], ("paused", "false"), ("progress", "Executing")))] == 1
    assert s[(f"{p}_revision", key)] == 7
    assert s[(f"{p}_stable_revision", key)] == 6
    assert s[(f"{p}_release_batch", key)] == 2
    assert s[(f"{p}_release_batches", key)] == 3
    assert s[(f"{p}_progress_transition_timestamp_seconds", key)] == 1796637600.0
    replicas = {dict(labels)["state"]: value for (name, labels), value in s.items()
                if name == f"{p}_replicas" and dict(labels)["name"] == "provider"}
    assert replicas == {"desired": 4, "total": 4, "ready": 3, "available": 3, "unavailable": 1,
                        "updated": 2, "updated_available": 2}
    assert s[(f"{p}_condition", (("name", "provider"), ("namespace", "team-a"),
                                  ("reason", "ProgressDeadlineExceeded"), ("status", "False"),
                                  ("type", "Progressing")))] == 1
    # A ModuleDeployment without a status yet: its info and desired count, nothing invented.
    fresh = {name for (name, labels), _ in s.items() if dict(labels).get("name") == "fresh"}
    assert fresh == {f"{p}_info", f"{p}_replicas"}
    # Gone from the store, gone from the next scrape.
    mds.remove(MD)
    assert not [k for k in samples(m) if dict(k[1]).get("name") == "provider"]


def test_a_broken_release_provider_costs_only_its_series():
    m = Metrics()
    m.set_release_provider(lambda: 1 / 0)
    m.observe_reconcile("Module", "ok", 0.1)
    s = samples(m)
    assert not [k for k in s if k[0].startswith("module_controller_moduledeployment")]
    assert s[("module_controller_reconciles_total", (("kind", "Module"), ("result", "ok")))] == 1


def test_arklet_outcomes():
    assert arklet_outcome("SUCCESS") == "success"
    for refused in ("REPEAT_BIZ", "FAILED", "NOT_FOUND_BIZ", "INTERNAL_ERROR"):
        assert arklet_outcome(refused) == "refused"
    for error in ("timeout", "connect_error", "protocol_error", "http_500", "http_503", ""):
        assert arklet_outcome(error) == "error"


async def test_a_real_work_queue_feeds_the_queue_metrics():
    m = Metrics()
    failed: set[str] = set()
    done = asyncio.Event()

    async def handler(key: str) -> None:
        if key == "b" and key not in failed:
            failed.add(key)
            raise RuntimeError("first try fails")
        if key == "b":
            done.set()

    queue: WorkQueue[str] = WorkQueue("Module", handler, workers=1,
                                      backoff=CappedJitterBackoff(0.01, 0.02),
                                      observer=m.queue_observer)
    queue.start()
    try:
        queue.add("a")
        queue.add("b")
        queue.add("a")  # already waiting: not added again
        await asyncio.wait_for(done.wait(), timeout=30)
        await asyncio.wait_for(queue.wait_idle(), timeout=30)
    finally:
        await queue.stop()
    s = samples(m)
    label = (("name", "Module"),)
    assert s[("module_controller_workqueue_adds_total", label)] == 3  # a, b, b's retry
    assert s[("module_controller_workqueue_retries_total", label)] == 1
    assert s[("module_controller_workqueue_work_duration_seconds_count", label)] == 3
    assert s[("module_controller_workqueue_queue_duration_seconds_count", label)] == 3
    assert s[("module_controller_workqueue_depth", label)] == 0


async def test_metrics_are_gzipped_when_the_scraper_asks():
    m = Metrics()
    runner = await start_probe_server("127.0.0.1", 0, m, lambda: (True, "ok"))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                                         auto_decompress=False) as session:
            async with session.get(runner.url + "/metrics",
                                   headers={"Accept-Encoding": "gzip"}) as response:
                assert response.status == 200
                assert response.headers.get("Content-Encoding") == "gzip"
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------ the Grafana dashboard

_METRIC = re.compile(r"\b((?:module_controller|process|python)_[a-z_]+)\b")
_FUNCTIONS = {"histogram_quantile", "label_values"}


def exposed_names() -> set[str]:
    """Every sample name the controller's registry can expose (families with no sample yet
    included: a counter's _total, a histogram's _bucket/_sum/_count)."""
    m = Metrics()
    m.set_phase_provider(lambda: {})
    m.set_progress_provider(lambda: {})
    m.set_release_provider(lambda: release_samples([MD]))
    names = set()
    for family in m.registry.collect():
        kind = family.type
        if kind == "counter":
            names |= {family.name + "_total"}
        elif kind == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
        names |= {sample.name for sample in family.samples}
    return names


def dashboard_queries() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"]
              if isinstance(v.get("query"), dict)]
    return exprs


def test_the_dashboards_queries_use_only_metrics_the_controller_exposes():
    queries = dashboard_queries()
    assert len(queries) >= 15
    used = {name for expr in queries for name in _METRIC.findall(expr)} - _FUNCTIONS
    assert used, "no metric found in the dashboard"
    unknown = used - exposed_names()
    assert not unknown, f"the dashboard queries metrics the controller does not expose: {unknown}"


def test_the_dashboard_check_would_catch_a_misspelt_metric():
    assert "module_controller_workqueue_depthh" not in exposed_names()
    assert {"module_controller_workqueue_depth", "process_resident_memory_bytes",
            "module_controller_arklet_call_duration_seconds_bucket",
            "module_controller_moduledeployment_info"} <= exposed_names()


def test_the_alert_rules_use_only_exposed_metrics():
    text = (REPO / "module_controller" / "manifests" / "templates" /
            "prometheusrule.yaml.j2").read_text()
    used = set(_METRIC.findall(text))
    assert used and not used - exposed_names(), used - exposed_names()

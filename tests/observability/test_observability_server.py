"""The probe server over real HTTP on loopback: /metrics, /healthz, /readyz, port 0, shutdown."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from module_controller.observability import Metrics, ProbeRunner, Readiness, start_probe_server

TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture
async def serve():
    """``await serve(metrics, ready, port=0)`` -> a started runner, always cleaned up."""
    runners: list[ProbeRunner] = []

    async def start(metrics: Metrics, ready, port: int = 0) -> ProbeRunner:
        runner = await start_probe_server("127.0.0.1", port, metrics, ready)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        await runner.cleanup()


async def get(url: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.get(url, headers=headers) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.get(url) as response:
            return response.status, await response.json()


async def test_port_0_binds_a_free_port_and_says_which(serve):
    a = await serve(Metrics(), lambda: (True, "ok"))
    b = await serve(Metrics(), lambda: (True, "ok"))
    assert a.port > 0 and b.port > 0 and a.port != b.port
    assert a.url == f"http://127.0.0.1:{a.port}"
    status, body = await get_json(a.url + "/healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_metrics_endpoint_serves_the_private_registry_in_text_format(serve):
    m = Metrics()
    m.observe_reconcile("ModuleReplicaSet", "ok", 0.05)
    m.arklet_call("installBiz", "REPEAT_BIZ", 0.2)
    m.arklet_call("installBiz", "timeout", 2.0)
    m.set_phase_provider(lambda: {"Available": 7})
    runner = await serve(m, lambda: (True, "ok"))
    status, content_type, text = await get(runner.url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples}
    assert values[("module_controller_reconciles_total",
                   (("kind", "ModuleReplicaSet"), ("result", "ok")))] == 1
    assert values[("module_controller_arklet_calls_total",
                   (("command", "installBiz"), ("result", "REPEAT_BIZ")))] == 1
    assert values[("module_controller_arklet_calls_total",
                   (("command", "installBiz"), ("result", "timeout")))] == 1
    assert values[("module_controller_arklet_call_duration_seconds_count",
                   (("command", "installBiz"), ("outcome", "refused")))] == 1
    assert values[("module_controller_arklet_call_duration_seconds_count",
                   (("command", "installBiz"), ("outcome", "error")))] == 1
    assert values[("module_controller_modules", (("phase", "Available"),))] == 7
    # The standard process, platform and GC collectors, registered on the private registry;
    # nothing else of the process-global one leaks in.
    others = {name for name, _ in values if not name.startswith("module_controller_")}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total",
            "python_gc_collections_total", "python_info"} <= others
    assert all(name.startswith(("process_", "python_gc_", "python_info")) for name in others)


async def test_metrics_negotiates_openmetrics(serve):
    m = Metrics()
    m.observe_reconcile("Module", "ok", 0.01)
    runner = await serve(m, lambda: (True, "ok"))
    status, content_type, text = await get(
        runner.url + "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")


async def test_gauges_follow_the_provider_between_scrapes(serve):
    m = Metrics()
    counts = {"Executing": 1}
    m.set_progress_provider(lambda: counts)
    runner = await serve(m, lambda: (True, "ok"))
    _, _, first = await get(runner.url + "/metrics")
    counts["Executing"] = 0
    counts["Completed"] = 4
    _, _, second = await get(runner.url + "/metrics")
    assert 'module_controller_releases{progress="Executing"} 1.0' in first
    assert 'module_controller_releases{progress="Executing"} 0.0' in second
    assert 'module_controller_releases{progress="Completed"} 4.0' in second


async def test_readyz_follows_the_check_and_says_why(serve):
    state = {"answer": (False, "not watching yet")}
    runner = await serve(Metrics(), lambda: state["answer"])
    assert await get_json(runner.url + "/readyz") == (
        503, {"ready": False, "reason": "not watching yet"})
    # Liveness does not depend on readiness: the loop runs, so /healthz says so.
    assert (await get_json(runner.url + "/healthz"))[0] == 200
    state["answer"] = (True, "watching; standby")
    assert await get_json(runner.url + "/readyz") == (
        200, {"ready": True, "reason": "watching; standby"})


async def test_a_failing_readiness_check_is_a_503_not_a_500(serve):
    def broken():
        raise RuntimeError("lease lookup failed")

    runner = await serve(Metrics(), broken)
    status, body = await get_json(runner.url + "/readyz")
    assert status == 503 and body["ready"] is False
    assert "lease lookup failed" in body["reason"]


async def test_readiness_helper_through_the_server(serve):
    readiness = Readiness(leader_election=True)
    runner = await serve(Metrics(), readiness)

    async def readyz():
        return await get_json(runner.url + "/readyz")

    assert await readyz() == (503, {"ready": False, "reason": "not watching yet"})
    readiness.set_watching(True)
    status, body = await readyz()
    assert status == 503 and "leader election" in body["reason"]
    readiness.set_role("standby")
    assert await readyz() == (200, {"ready": True, "reason": "watching; standby"})
    readiness.set_role("leader")
    assert await readyz() == (200, {"ready": True, "reason": "watching; leader"})
    readiness.set_problem("lost the API server")
    assert await readyz() == (503, {"ready": False, "reason": "lost the API server"})
    readiness.set_problem()
    readiness.set_watching(False)
    assert (await readyz())[0] == 503


def test_readiness_without_leader_election_needs_only_watching():
    readiness = Readiness(leader_election=False)
    assert readiness() == (False, "not watching yet")
    readiness.set_watching()
    assert readiness() == (True, "watching")
    with pytest.raises(ValueError):
        readiness.set_role("follower")  # type: ignore[arg-type]


async def test_other_paths_and_methods(serve):
    runner = await serve(Metrics(), lambda: (True, "ok"))
    assert (await get(runner.url + "/"))[0] == 404
    assert (await get(runner.url + "/metricz"))[0] == 404
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.post(runner.url + "/healthz") as response:
            assert response.status == 405
        async with session.head(runner.url + "/healthz") as response:
            assert response.status == 200


async def test_cleanup_closes_the_port(serve):
    runner = await start_probe_server("127.0.0.1", 0, Metrics(), lambda: (True, "ok"))
    port = runner.port
    assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    await runner.cleanup()
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(f"http://127.0.0.1:{port}/healthz")
    # The port is free again: a new server can take it.
    again = await serve(Metrics(), lambda: (True, "ok"), port=port)
    assert again.port == port


async def test_a_taken_port_raises_oserror():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(OSError):
            await start_probe_server("127.0.0.1", port, Metrics(), lambda: (True, "ok"))

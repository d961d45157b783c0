"""module_controller.observability.metrics: private registry, labels, gauges counted at scrape
time, and the Arklet client's on_call hook feeding it for real."""

from __future__ import annotations

import asyncio
import socket

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from module_controller.arklet import ArkletClient, ArkletSettings, ArkletUnavailable
from module_controller_dev.fakearklet import FakeArklet
from module_controller.observability import MODULE_PHASES, RELEASE_PROGRESSES, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, keyed by (sample name, sorted labels)."""
    body, _ = metrics.render()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def test_metrics_live_on_a_private_registry():
    a, b = Metrics(), Metrics()
    a.observe_reconcile("Module", "ok", 0.1)
    assert value(a, "module_controller_reconciles_total", kind="Module", result="ok") == 1
    assert value(b, "module_controller_reconciles_total", kind="Module", result="ok") is None
    global_names = {family.name for family in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("module_controller") for name in global_names)
    assert a.registry is not prometheus_client.REGISTRY


def test_reconciles_are_counted_and_timed_by_kind_and_result():
    m = Metrics()
    m.observe_reconcile("Module", "ok", 0.02)
    m.observe_reconcile("Module", "ok", 3.0)
    m.observe_reconcile("Module", "requeue", 0.001)
    m.observe_reconcile("ModuleDeployment", "error", 0.4)
    s = samples(m)
    key = lambda name, **labels: (name, tuple(sorted(labels.items())))  # noqa: E731
    assert s[key("module_controller_reconciles_total", kind="Module", result="ok")] == 2
    assert s[key("module_controller_reconciles_total", kind="Module", result="requeue")] == 1
    assert s[key("module_controller_reconciles_total", kind="ModuleDeployment", result="error")] == 1
    h = "module_controller_reconcile_duration_seconds"
    assert s[key(h + "_count", kind="Module", result="ok")] == 2
    assert s[key(h + "_sum", kind="Module", result="ok")] == pytest.approx(3.02)
    assert s[key(h + "_bucket", kind="Module", result="ok", le="0.025")] == 1
    assert s[key(h + "_bucket", kind="Module", result="ok", le="2.5")] == 1
    assert s[key(h + "_bucket", kind="Module", result="ok", le="5.0")] == 2


@pytest.mark.parametrize("result", ["OK", "failed", "", "retry"])
def test_an_unknown_reconcile_result_is_refused_and_not_recorded(result):
    m = Metrics()
    with pytest.raises(ValueError):
        m.observe_reconcile("Module", result, 0.1)
    assert not any(name == "module_controller_reconciles_total" for name, _ in samples(m))


def test_time_reconcile_reports_ok_requeue_error_and_ignores_cancellation():
    m = Metrics()
    with m.time_reconcile("Module"):
        pass
    with m.time_reconcile("Module") as timer:
        timer.result = "requeue"
    with pytest.raises(RuntimeError, match="boom"):
        with m.time_reconcile("Module"):
            raise RuntimeError("boom")
    with pytest.raises(asyncio.CancelledError):
        with m.time_reconcile("Module"):
            raise asyncio.CancelledError()
    name = "module_controller_reconciles_total"
    assert value(m, name, kind="Module", result="ok") == 1
    assert value(m, name, kind="Module", result="requeue") == 1
    assert value(m, name, kind="Module", result="error") == 1
    total = sum(v for (n, _), v in samples(m).items() if n == name)
    assert total == 3  # the cancelled one is not counted anywhere


def test_gauges_are_asked_for_at_every_scrape():
    m = Metrics()
    counts = {"Available": 3, "Pending": 1}
    calls = []

    def phases():
        calls.append(1)
        return dict(counts)

    m.set_phase_provider(phases)
    assert calls == []  # registering asks nothing; only a scrape does
    first = samples(m)
    assert len(calls) == 1
    gauge = lambda s, phase: s[("module_controller_modules", (("phase", phase),))]  # noqa: E731
    assert gauge(first, "Available") == 3
    assert gauge(first, "Pending") == 1
    # Phases without Modules are exported as 0, so their series do not vanish.
    for phase in set(MODULE_PHASES) - set(counts):
        assert gauge(first, phase) == 0
    counts.clear()
    counts["Available"] = 5
    second = samples(m)
    assert len(calls) == 2
    assert gauge(second, "Available") == 5
    assert gauge(second, "Pending") == 0

def test_release_progress_gauge_and_unknown_values():
    m = Metrics()
    m.set_progress_provider(lambda: {"Executing": 2, "": 1, "SomethingNew": 4})
    assert value(m, "module_controller_releases", progress="Executing") == 2
    assert value(m, "module_controller_releases", progress="Unknown") == 1
    assert value(m, "module_controller_releases", progress="SomethingNew") == 4
    for progress in set(RELEASE_PROGRESSES) - {"Executing"}:
        assert value(m, "module_controller_releases", progress=progress) == 0


def test_no_provider_means_no_gauge_and_a_failing_provider_spoils_only_its_gauge(caplog):
    m = Metrics()
    assert not any(name == "module_controller_modules" for name, _ in samples(m))

    def broken():
        raise KeyError("store not ready")

    m.set_phase_provider(broken)
    m.set_progress_provider(lambda: {"Completed": 1})
    m.arklet_call("health", "SUCCESS", 0.01)
    s = samples(m)
    assert not any(name == "module_controller_modules" for name, _ in s)
    assert s[("module_controller_releases", (("progress", "Completed"),))] == 1
    assert s[("module_controller_arklet_calls_total", (("command", "health"),
                                                       ("result", "SUCCESS")))] == 1
    assert "store not ready" in caplog.text
    m.set_phase_provider(None)
    assert not any(name == "module_controller_modules" for name, _ in samples(m))


def test_api_writes_by_verb_and_resource():
    m = Metrics()
    m.api_write("patch", "modules/status")
    m.api_write("patch", "modules/status")
    m.api_write("create", "modulereplicasets")
    assert value(m, "module_controller_api_writes_total", verb="patch",
                 resource="modules/status") == 2
    assert value(m, "module_controller_api_writes_total", verb="create",
                 resource="modulereplicasets") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_arklet_client_feeds_the_metrics_through_on_call():
    """The real client, a real fake Arklet: ``on_call=metrics.arklet_call`` fits the hook."""
    m = Metrics()
    arklet = FakeArklet("127.0.0.1", 0, seed=1)
    await arklet.start()
    settings = ArkletSettings(port=arklet.port, connect_timeout=0.5, timeout=1.0,
                              install_timeout=2.0, attempts=2, backoff_initial=0.01,
                              backoff_max=0.02)
    try:
        async with ArkletClient(settings, on_call=m.arklet_call) as client:
            await client.health("127.0.0.1")
            await client.query_all("127.0.0.1")
            with pytest.raises(ArkletUnavailable):  # nothing listens there: connect_error x2
                await client.health("127.0.0.1", port=_free_port())
    finally:
        await arklet.stop()
    calls = "module_controller_arklet_calls_total"
    assert value(m, calls, command="health", result="SUCCESS") == 1
    assert value(m, calls, command="queryAllBiz", result="SUCCESS") == 1
    assert value(m, calls, command="health", result="connect_error") == settings.attempts
    latency = "module_controller_arklet_call_duration_seconds_count"
    assert value(m, latency, command="health", outcome="success") == 1
    assert value(m, latency, command="health", outcome="error") == settings.attempts
    assert value(m, latency, command="queryAllBiz", outcome="success") == 1


"""A client built without settings, as ``observability/metrics.py`` documents its use, works."""

from __future__ import annotations

from module_controller.arklet import ArkletClient, ArkletSettings
from module_controller_dev.fakearklet import FakeArklet
from module_controller.observability.metrics import Metrics


async def test_client_without_settings_uses_the_defaults_and_reports_its_calls(
        arklet: FakeArklet) -> None:
    metrics = Metrics()
    async with ArkletClient(on_call=metrics.arklet_call) as client:
        assert client.settings == ArkletSettings()
        assert client.slots.per_base == ArkletSettings().per_base
        assert await client.query_all("127.0.0.1", port=arklet.port) == []
    calls = metrics.registry.get_sample_value(
        "module_controller_arklet_calls_total", {"command": "queryAllBiz", "result": "SUCCESS"})
    assert calls == 1

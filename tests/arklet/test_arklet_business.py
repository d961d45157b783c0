"""Business answers against the fake Arklet over HTTP: typed, never retried, both generations."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from arklet_testkit import MakeArklet, MakeClient

from module_controller.arklet import (
    ArkletClient, ArkletError, ArkletSettings, BizInfo, BizRef, Outcome,
)
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import wait_until
from module_controller_dev.modulerepo import build_biz_jar

BIZ = BizRef("provider", "1.0.2", "http://repo/provider-1.0.2-ark-biz.jar")


def _log(arklet: FakeArklet, command: str) -> list:
    return [r for r in arklet.requests if r.command == command]


def _ref(name: str, version: str) -> BizRef:
    return BizRef(name, version, f"http://repo/{version}/{name}-{version}-ark-biz.jar")


# --- typed business answers, each from exactly one request ------------------------------------


async def test_repeat_biz_is_typed_and_not_retried(arklet: FakeArklet,
                                                   make_client: MakeClient) -> None:
    client, calls = make_client()
    first = await client.install("127.0.0.1", BIZ, port=arklet.port)
    assert first.ok and first.biz_infos == (BizInfo("provider", "1.0.2", "ACTIVATED"),)

    again = await client.install("127.0.0.1", BIZ, port=arklet.port)

    assert again.outcome is Outcome.REPEAT_BIZ and not again.ok
    assert (again.code, again.data_code) == ("FAILED", "REPEAT_BIZ")
    assert "has been installed" in again.message  # the real reason, not "install biz not success!"
    assert len(_log(arklet, "installBiz")) == 2  # one request per call
    assert calls.labels() == ["SUCCESS", "REPEAT_BIZ"]


@pytest.mark.parametrize(("fail_code", "outcome"), [
    ("FAILED", Outcome.FAILED),
    ("CMD_PROCESS_INTERNAL_ERROR", Outcome.INTERNAL_ERROR),
])
async def test_failed_answers_are_not_retried(arklet: FakeArklet, make_client: MakeClient,
                                              fail_code: str, outcome: Outcome) -> None:
    client, calls = make_client()
    arklet.faults.set("installBiz", fail_count=1, fail_code=fail_code)

    result = await client.install("127.0.0.1", BIZ, port=arklet.port)

    assert result.outcome is outcome and not result.ok
    assert "injected fault" in result.message
    assert len(_log(arklet, "installBiz")) == 1
    assert calls.labels() == [outcome.name]
    assert arklet.bizzes() == []


async def test_invalid_install_is_an_internal_error_not_a_retry(
        arklet: FakeArklet, make_client: MakeClient) -> None:
    client, _ = make_client()
    result = await client.install("127.0.0.1", BizRef("a", "1", "ftp://nope/a.jar"),
                                  port=arklet.port)
    assert result.outcome is Outcome.INTERNAL_ERROR
    assert result.message.startswith("Internal Error:")
    assert len(_log(arklet, "installBiz")) == 1


async def test_uninstall_of_a_missing_biz_is_ok(arklet: FakeArklet,
                                                make_client: MakeClient) -> None:
    client, _ = make_client()
    missing = await client.uninstall("127.0.0.1", "provider", "9.9.9", port=arklet.port)
    assert missing.outcome is Outcome.NOT_FOUND_BIZ and missing.ok
    assert missing.message == "Uninstall biz: provider:9.9.9 not found."

    await client.install("127.0.0.1", BIZ, port=arklet.port)
    removed = await client.uninstall("127.0.0.1", "provider", "1.0.2", port=arklet.port)
    assert removed.outcome is Outcome.SUCCESS and removed.ok
    assert arklet.bizzes() == []
    assert len(_log(arklet, "uninstallBiz")) == 2


async def test_conflict_is_typed(make_arklet: MakeArklet, make_client: MakeClient) -> None:
    # Without the fake's per-base serialisation, Arklet's own name:version guard is visible.
    arklet = await make_arklet(serialize_requests=False, install_latency=0.5)
    ours, _ = make_client()
    other, other_calls = make_client()  # e.g. a second controller replica: no shared locks
    slow = asyncio.create_task(ours.install("127.0.0.1", BIZ, port=arklet.port))
    await wait_until(lambda: "provider:1.0.2" in arklet.core.busy_keys(), timeout=2,
                     what="first install in progress")

    clash = await other.install("127.0.0.1", BIZ, port=arklet.port)

    assert clash.outcome is Outcome.CONFLICT and not clash.ok
    assert "conflict, exist unfinished command" in clash.message
    assert other_calls.labels() == ["CONFLICT"]  # not retried
    assert (await slow).outcome is Outcome.SUCCESS
    assert len(_log(arklet, "installBiz")) == 2


async def test_switch_outcomes(arklet: FakeArklet, make_client: MakeClient) -> None:
    client, _ = make_client()
    missing = await client.switch("127.0.0.1", "provider", "1.0.2", port=arklet.port)
    assert missing.outcome is Outcome.NOT_FOUND_BIZ and not missing.ok

    await client.install("127.0.0.1", BIZ, port=arklet.port)
    arklet.set_biz_state("provider", "1.0.2", "BROKEN")
    broken = await client.switch("127.0.0.1", "provider", "1.0.2", port=arklet.port)
    assert broken.outcome is Outcome.ILLEGAL_STATE_BIZ and not broken.ok
    assert len(_log(arklet, "switchBiz")) == 2


async def test_query_all_raises_arklet_error_on_a_business_failure(
        arklet: FakeArklet, make_client: MakeClient) -> None:
    client, calls = make_client()
    arklet.faults.set("queryAllBiz", fail_count=1, fail_code="CMD_PROCESS_INTERNAL_ERROR")
    with pytest.raises(ArkletError) as caught:
        await client.query_all("127.0.0.1", port=arklet.port)
    assert caught.value.result.outcome is Outcome.INTERNAL_ERROR
    assert caught.value.host == "127.0.0.1"
    assert calls.labels() == ["INTERNAL_ERROR"]


# --- names and states ------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["2023", "2025"])
async def test_awkward_module_names_reach_arklet_intact(make_arklet: MakeArklet,
                                                        make_client: MakeClient,
                                                        flavour: str, tmp_path: Path) -> None:
    arklet = await make_arklet(flavour=flavour)
    client, _ = make_client()
    name = 'pro"vider-模块\\{x}'
    # The base takes the identity from the jar's manifest: a jar file that names this biz.
    jar = tmp_path / "awkward-1.0.0-ark-biz.jar"
    jar.write_bytes(build_biz_jar(name, "1.0.0"))
    url = jar.as_uri()

    result = await client.install("127.0.0.1", BizRef(name, "1.0.0", url), port=arklet.port)

    assert result.ok
    body = _log(arklet, "installBiz")[0].body
    assert body == {"bizName": name, "bizVersion": "1.0.0", "bizUrl": url}
    assert await client.query_all("127.0.0.1", port=arklet.port) == [
        BizInfo(name, "1.0.0", "ACTIVATED")]
    assert (await client.uninstall("127.0.0.1", name, "1.0.0", port=arklet.port)).outcome \
        is Outcome.SUCCESS
    assert _log(arklet, "uninstallBiz")[0].body == {"bizName": name, "bizVersion": "1.0.0"}


@pytest.mark.parametrize("flavour", ["2023", "2025"])
async def test_states_normalise_for_both_generations(make_arklet: MakeArklet,
                                                     make_client: MakeClient,
                                                     flavour: str) -> None:
    arklet = await make_arklet(flavour=flavour)
    client, _ = make_client()
    await client.install("127.0.0.1", _ref("provider", "1.0.1"), port=arklet.port)
    await client.install("127.0.0.1", _ref("provider", "1.0.2"), port=arklet.port)
    written = {b["bizState"] for b in arklet.bizzes()}
    assert written == ({"ACTIVATED", "DEACTIVATED"} if flavour == "2023"
                       else {"activated", "deactivated"})

    assert await client.query_all("127.0.0.1", port=arklet.port) == [  # by hash bin
        BizInfo("provider", "1.0.1", "ACTIVATED"), BizInfo("provider", "1.0.2", "DEACTIVATED")]

    switched = await client.switch("127.0.0.1", "provider", "1.0.2", port=arklet.port)
    assert switched.ok
    assert await client.query_all("127.0.0.1", port=arklet.port) == [
        BizInfo("provider", "1.0.1", "DEACTIVATED"), BizInfo("provider", "1.0.2", "ACTIVATED")]


# --- health ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("flavour", "ready", "master", "readiness"), [
    ("2023", True, "ACTIVATED", "ACCEPTING_TRAFFIC"),
    # Start-up as recorded: 2023 answers ACTIVATED but REFUSING_TRAFFIC for ~0.2 s; a 2025
    # base has no such state (its first answer is already the ready one).
    ("2023", False, "ACTIVATED", "REFUSING_TRAFFIC"),
    ("2025", True, "ACTIVATED", None),
])
async def test_health_both_generations(make_arklet: MakeArklet, make_client: MakeClient,
                                       flavour: str, ready: bool, master: str,
                                       readiness: str | None) -> None:
    arklet = await make_arklet(flavour=flavour)
    arklet.set_base_ready(ready)
    client, _ = make_client()

    health = await client.health("127.0.0.1", port=arklet.port)

    assert (health.ready, health.master_state, health.readiness) == (ready, master, readiness)
    assert health.raw["code"] == "SUCCESS"
    assert _log(arklet, "health")[0].body == {}


async def test_health_with_a_failed_answer_is_not_ready(arklet: FakeArklet,
                                                        make_client: MakeClient) -> None:
    client, calls = make_client()
    arklet.faults.set("health", fail_count=1, fail_code="CMD_PROCESS_INTERNAL_ERROR")
    health = await client.health("127.0.0.1", port=arklet.port)
    assert not health.ready and health.raw["code"] == "CMD_PROCESS_INTERNAL_ERROR"
    assert calls.labels() == ["INTERNAL_ERROR"]


# --- addressing and lifecycle ----------------------------------------------------------------


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback_available(),
                    reason="IPv6 loopback ::1 cannot be bound on this machine")
@pytest.mark.parametrize("host", ["::1", "[::1]"])
async def test_real_call_over_ipv6(make_arklet: MakeArklet, make_client: MakeClient,
                                   host: str) -> None:
    arklet = await make_arklet("::1", flavour="2025")
    client, _ = make_client()
    assert (await client.install(host, BIZ, port=arklet.port)).ok
    assert await client.query_all(host, port=arklet.port) == [
        BizInfo("provider", "1.0.2", "ACTIVATED")]
    assert (await client.health(host, port=arklet.port)).ready


async def test_port_comes_from_settings_unless_given(arklet: FakeArklet,
                                                     make_client: MakeClient) -> None:
    client, _ = make_client(port=arklet.port)
    assert (await client.health("127.0.0.1")).ready
    assert len(_log(arklet, "health")) == 1


async def test_client_without_context_manager_and_after_close(arklet: FakeArklet) -> None:
    client = ArkletClient(ArkletSettings(port=arklet.port, timeout=1.0))
    assert (await client.health("127.0.0.1")).ready  # session created on first use
    await client.close()
    with pytest.raises(RuntimeError):
        await client.health("127.0.0.1")
    async with ArkletClient(ArkletSettings(port=arklet.port)) as managed:
        assert (await managed.query_all("127.0.0.1")) == []


async def test_bad_arguments_fail_before_any_request(arklet: FakeArklet,
                                                     make_client: MakeClient) -> None:
    client, calls = make_client()
    with pytest.raises(ValueError):
        await client.install("127.0.0.1", BizRef("a", "1"), port=arklet.port)  # no URL
    with pytest.raises(ValueError):
        await client.uninstall("127.0.0.1", "", "1", port=arklet.port)
    with pytest.raises(ValueError):
        await client.health("127.0.0.1", port=0)
    assert arklet.requests == [] and calls.attempts == [] and client.lock_count == 0

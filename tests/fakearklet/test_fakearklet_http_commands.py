"""The fake Arklet's commands over real HTTP, per flavour (2023 / 2025): install, switch,
uninstall, queryAllBiz, health, async installs and queryBizOps, help. The byte-level transport
quirks, concurrency and lifecycle are in test_fakearklet_http.py; faults in
test_fakearklet_http_faults.py."""

from __future__ import annotations


import pytest

from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import (
    ArkletHttp,
    MakeArklet,
    build_request,
    raw_exchange,
    wait_until,
)

from fake_http_testkit import JAR, install_body, states


@pytest.mark.parametrize(("flavour", "state"), [("2023", "ACTIVATED"), ("2025", "activated")])
async def test_install_success_with_biz_infos(make_arklet: MakeArklet, http: ArkletHttp,
                                              flavour: str, state: str) -> None:
    arklet = await make_arklet(flavour=flavour)
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "SUCCESS"
    assert "message" not in env and "errorStackTrace" not in env
    assert env["data"]["code"] == "SUCCESS"
    assert [(i["bizName"], i["bizVersion"], i["bizState"]) for i in env["data"]["bizInfos"]] == [
        ("provider", "1.0.2", state)]
    assert "baseIdentity" not in env


async def test_install_without_name_derives_it_from_the_jar(arklet: FakeArklet,
                                                            http: ArkletHttp) -> None:
    env = await http.ok(arklet, "installBiz", {"bizUrl": JAR})
    assert env["data"]["bizInfos"][0]["bizName"] == "provider"
    assert states(arklet) == {("provider", "1.0.2"): "ACTIVATED"}


async def test_repeat_install_is_repeat_biz(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    env = await http.ok(arklet, "installBiz", install_body())
    assert env["code"] == "FAILED"
    assert env["message"] == "install biz not success!"
    assert env["data"]["code"] == "REPEAT_BIZ"


async def test_new_version_of_active_name_starts_deactivated(arklet: FakeArklet,
                                                             http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body(version="1.0.1"))
    env = await http.ok(arklet, "installBiz", install_body(version="1.0.2"))
    assert env["data"]["bizInfos"][0]["bizState"] == "DEACTIVATED"
    assert states(arklet) == {("provider", "1.0.1"): "ACTIVATED",
                              ("provider", "1.0.2"): "DEACTIVATED"}


async def test_switch_biz_flips_active_version(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body(version="1.0.1"))
    await http.ok(arklet, "installBiz", install_body(version="1.0.2"))
    env = await http.ok(arklet, "switchBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert env["code"] == "SUCCESS"
    assert states(arklet) == {("provider", "1.0.1"): "DEACTIVATED",
                              ("provider", "1.0.2"): "ACTIVATED"}


async def test_switch_to_broken_biz_is_illegal_state(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    arklet.set_biz_state("provider", "1.0.2", "BROKEN")
    env = await http.ok(arklet, "switchBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert (env["code"], env["data"]["code"]) == ("FAILED", "ILLEGAL_STATE_BIZ")


@pytest.mark.parametrize("command", ["uninstallBiz", "switchBiz"])
async def test_absent_biz_is_not_found_biz(arklet: FakeArklet, http: ArkletHttp,
                                           command: str) -> None:
    env = await http.ok(arklet, command, {"bizName": "provider", "bizVersion": "1.0.1"})
    assert env["code"] == "FAILED"
    assert env["message"].endswith("biz not success!")
    assert env["data"]["code"] == "NOT_FOUND_BIZ"


async def test_uninstall_removes_biz(arklet: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet, "installBiz", install_body())
    env = await http.ok(arklet, "uninstallBiz", {"bizName": "provider", "bizVersion": "1.0.2"})
    assert (env["code"], env["data"]["code"]) == ("SUCCESS", "SUCCESS")
    assert arklet.bizzes() == []


async def test_query_all_biz_lists_modules_but_not_the_base(make_arklet: MakeArklet,
                                                            http: ArkletHttp) -> None:
    arklet = await make_arklet(base_name="mybase")
    await http.ok(arklet, "installBiz", install_body("a", "1.0"))
    await http.ok(arklet, "installBiz", install_body("b", "2.0"))
    env = await http.ok(arklet, "queryAllBiz")
    assert [(i["bizName"], i["bizVersion"], i["bizState"]) for i in env["data"]] == [
        ("a", "1.0", "ACTIVATED"), ("b", "2.0", "ACTIVATED")]  # by hash bin of the name
    assert all({"mainClass", "webContextPath"} <= set(i) for i in env["data"])
    assert "mybase" not in [i["bizName"] for i in env["data"]]


async def test_query_all_biz_2025_has_lower_case_states_and_records(arklet25: FakeArklet,
                                                                    http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body())
    [item] = (await http.ok(arklet25, "queryAllBiz"))["data"]
    assert item["bizState"] == "activated"
    assert item["bizStateRecords"] == [{}, {}]  # 2.1.6 renders its records as empty objects


async def test_health_2023_shape(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(flavour="2023", base_name="base-a", base_version="3.1")
    env = await http.ok(arklet, "health")
    assert env["code"] == "SUCCESS" and "baseIdentity" not in env
    health = env["data"]["healthData"]
    assert health["masterBizInfo"]["bizName"] == "base-a"
    assert health["masterBizInfo"]["bizVersion"] == "3.1"
    assert health["masterBizInfo"]["bizState"] == "ACTIVATED"
    assert health["masterBizHealth"]["readinessState"] == "ACCEPTING_TRAFFIC"
    assert {"cpu", "jvm", "bizListInfo", "pluginListInfo"} <= set(health)
    arklet.set_base_ready(False)
    health = (await http.ok(arklet, "health"))["data"]["healthData"]
    assert health["masterBizHealth"]["readinessState"] == "REFUSING_TRAFFIC"


async def test_health_2025_shape(arklet25: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body())
    env = await http.ok(arklet25, "health", {"type": "system"})
    assert "baseIdentity" not in env
    health = env["data"]["healthData"]
    assert "masterBizHealth" not in health
    assert health["masterBizInfo"]["bizState"] == "activated"
    full = (await http.ok(arklet25, "health"))["data"]["healthData"]
    assert full["bizListInfo"][0]["bizState"] == "activated"


async def test_uninstall_then_install_strategy_2025(arklet25: FakeArklet,
                                                    http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body(version="1.0.1"))
    env = await http.ok(arklet25, "installBiz",
                        install_body(version="1.0.2", installStrategy="uninstallThenInstall"))
    assert env["data"]["bizInfos"][0]["bizState"] == "activated"
    assert states(arklet25) == {("provider", "1.0.2"): "activated"}


async def test_async_install_and_query_biz_ops(make_arklet: MakeArklet, http: ArkletHttp) -> None:
    arklet = await make_arklet(flavour="2025", install_latency=30.0)
    env = await http.ok(arklet, "installBiz", install_body(**{"async": True, "requestId": "r1"}))
    assert env["code"] == "SUCCESS" and env["data"]["requestId"] == "r1"
    await wait_until(lambda: _op_status(arklet, "r1") == "EXECUTING", what="EXECUTING")
    ops = await http.ok(arklet, "queryBizOps", {"requestId": "r1"})
    assert ops["data"]["status"] == "EXECUTING"
    # The name:version lock is held by the background install: a second one conflicts even
    # though requests are serialised.
    clash = await http.ok(arklet, "installBiz", install_body())
    assert clash["code"] == "FAILED"
    assert "conflict, exist unfinished command" in clash["message"]
    missing = await http.ok(arklet, "queryBizOps", {"requestId": "nope"})
    assert missing["code"] == "FAILED"


def _op_status(arklet: FakeArklet, request_id: str) -> str | None:
    reply = arklet.core.handle("queryBizOps", {"requestId": request_id})
    return reply.data.get("status") if reply.code == "SUCCESS" else None  # type: ignore[union-attr]


async def test_async_install_completes(arklet25: FakeArklet, http: ArkletHttp) -> None:
    await http.ok(arklet25, "installBiz", install_body(**{"async": True, "requestId": "r2"}))

    async def done() -> bool:
        env = await http.ok(arklet25, "queryBizOps", {"requestId": "r2"})
        return env["data"]["status"] == "SUCCEEDED"

    await wait_until(done, what="async install SUCCEEDED")
    assert states(arklet25) == {("provider", "1.0.2"): "activated"}


async def test_help_lists_commands(arklet: FakeArklet, http: ArkletHttp) -> None:
    ids = {d["id"] for d in (await http.ok(arklet, "help"))["data"]}
    assert {"installBiz", "uninstallBiz", "switchBiz", "queryAllBiz", "health"} <= ids


async def test_quotes_and_non_ascii_round_trip(arklet: FakeArklet, http: ArkletHttp) -> None:
    name = 'pro"vider-模块'
    env = await http.ok(arklet, "installBiz", install_body(name=name, version="1.0.0"))
    assert env["data"]["bizInfos"][0]["bizName"] == name
    raw = await raw_exchange(arklet.host, arklet.port, build_request("queryAllBiz", {}))
    assert "模块".encode("utf-8") in raw.body
    assert raw.json()["data"][0]["bizName"] == name
    env = await http.ok(arklet, "uninstallBiz", {"bizName": name, "bizVersion": "1.0.0"})
    assert env["code"] == "SUCCESS"

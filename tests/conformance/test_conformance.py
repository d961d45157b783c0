"""One set of Arklet protocol assertions, run against the fake (2023 and 2025 flavours) and the
real koupleless bases (2023 and 2025 generations) alike.

Every test talks to its partner through the controller's own :class:`ArkletClient` over real
HTTP, and through a raw socket where the client hides the shape (unknown commands, GET). Where
the recorded real bases differ by generation the test says so with ``partner.generation``;
everything else must hold for all four. A fake that disagrees with a real base is wrong.
"""

from __future__ import annotations

import json

from module_controller.arklet import ArkletClient
from module_controller.arklet.protocol import (ACCEPTING_TRAFFIC, ACTIVATED, DEACTIVATED,
                                               INSTALL, QUERY_ALL, BizRef, Outcome,
                                               installed_identity, parse_envelope)
from module_controller_dev.fakearklet.testing import build_request, raw_exchange

from conformance_kit import Cleanup, Partner

PROVIDER = "provider"
V1, V2 = "1.0.2", "2.0.0"
RAW_TIMEOUT = 15.0
MAIN_CLASS = "dev.realbase.provider.ProviderApplication"  # of the Maven-built provider module


async def listed(client: ArkletClient, p: Partner) -> dict[tuple[str, str], str]:
    """``queryAllBiz`` as ``{(name, version): STATE}``."""
    return {(b.name, b.version): b.state for b in await client.query_all(p.host, port=p.port)}


async def install_ok(client: ArkletClient, p: Partner, biz: BizRef) -> None:
    result = await client.install(p.host, biz, port=p.port)
    assert result.outcome is Outcome.SUCCESS, result


async def master_of(client: ArkletClient, p: Partner) -> dict:
    health = await client.health(p.host, port=p.port)
    return health.raw["data"]["healthData"]["masterBizInfo"]


def raw_state(state: str, generation: str) -> str:
    """How a generation writes a biz state on the wire: 2023 ``ACTIVATED``, 2025 ``activated``."""
    return state.upper() if generation == "2023" else state.lower()


# ---------------------------------------------------------------- read-only


async def test_health_says_ready(client: ArkletClient, partner: Partner) -> None:
    health = await client.health(partner.host, port=partner.port)
    assert health.ready, health
    assert health.master_state == ACTIVATED
    # Only the 2023 generation reports readiness; 2025 has no such field.
    expected = ACCEPTING_TRAFFIC if partner.generation == "2023" else None
    assert health.readiness == expected
    data = health.raw["data"]["healthData"]
    master = data["masterBizInfo"]
    assert master["bizState"] == raw_state(ACTIVATED, partner.generation)
    assert isinstance(master["bizName"], str) and master["bizName"]
    assert isinstance(master["bizVersion"], str) and master["bizVersion"]
    # bizListInfo includes the base itself, last (here: the only one).
    assert data["bizListInfo"] == [master]


async def test_query_all_is_empty(client: ArkletClient, partner: Partner) -> None:
    assert await client.query_all(partner.host, port=partner.port) == []


# ---------------------------------------------------------------- install, switch, uninstall


async def test_install_activates(client: ArkletClient, partner: Partner,
                                 cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)
    result = await client.install(partner.host, partner.provider(V1), port=partner.port)
    assert result.outcome is Outcome.SUCCESS and result.ok, result
    assert [(b.name, b.version) for b in result.biz_infos] == [(PROVIDER, V1)]
    assert installed_identity(result) == (PROVIDER, V1)
    assert f"Install Biz: {PROVIDER}:{V1} success" in result.message
    (info,) = result.raw["data"]["bizInfos"]
    assert info["bizState"] == raw_state(ACTIVATED, partner.generation)
    assert await listed(client, partner) == {(PROVIDER, V1): ACTIVATED}


async def test_listed_entries_carry_the_manifest(client: ArkletClient, partner: Partner,
                                                 cleanup: Cleanup) -> None:
    """The raw ``queryAllBiz`` entry and ``health``'s ``bizListInfo``: what the client hides."""
    cleanup.add(PROVIDER, V1)
    await install_ok(client, partner, partner.provider(V1))
    reply = await raw_exchange(partner.host, partner.port,
                               build_request(QUERY_ALL, {}, host=partner.host),
                               timeout=RAW_TIMEOUT)
    (entry,) = json.loads(reply.body)["data"]
    keys = {"bizName", "bizState", "bizVersion", "mainClass", "webContextPath"}
    if partner.generation == "2025":
        keys.add("bizStateRecords")  # 2.1.6: empty objects, one per state change
        assert entry["bizStateRecords"] and all(r == {} for r in entry["bizStateRecords"])
    assert set(entry) == keys
    assert entry["mainClass"] == MAIN_CLASS  # read from the Maven-built jar's manifest
    assert entry["webContextPath"] == PROVIDER
    assert entry["bizState"] == raw_state(ACTIVATED, partner.generation)
    health = await client.health(partner.host, port=partner.port)
    data = health.raw["data"]["healthData"]
    provider = {"bizName": PROVIDER, "bizState": raw_state(ACTIVATED, partner.generation),
                "bizVersion": V1, "webContextPath": PROVIDER}
    # the base itself is listed too (in which place: test_listing_order_is_java_hash_order)
    assert sorted(data["bizListInfo"], key=json.dumps) == sorted([provider,
                                                                  data["masterBizInfo"]],
                                                                 key=json.dumps)


def java_bucket(text: str, buckets: int = 16) -> int:
    """The bin of ``text`` in a ``java.util.concurrent.ConcurrentHashMap`` of ``buckets`` bins:
    ``String.hashCode`` over UTF-16 units, spread as ``(h ^ (h >>> 16)) & 0x7fffffff``."""
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return ((h ^ (h >> 16)) & 0x7FFFFFFF) & (buckets - 1)


def java_listing_order(identities: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The order sofa-ark's ``getBizInOrder()`` gives: its registry is a ConcurrentHashMap of
    name → ConcurrentHashMap of version → biz, iterated bin by bin (then a stable sort by
    priority, 100 for all here). Only for small sets without two names, or two versions of one
    name, in one bin (there the order would also depend on insertion)."""
    names = {n for n, _ in identities}
    assert len({java_bucket(n) for n in names}) == len(names), "name bins collide"
    for name in names:
        versions = [v for n, v in identities if n == name]
        assert len({java_bucket(v) for v in versions}) == len(versions), "version bins collide"
    return sorted(identities, key=lambda nv: (java_bucket(nv[0]), java_bucket(nv[1])))


async def test_same_install_again_is_repeat_biz(client: ArkletClient, partner: Partner,
                                                cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)
    await install_ok(client, partner, partner.provider(V1))
    again = await client.install(partner.host, partner.provider(V1), port=partner.port)
    assert again.outcome is Outcome.REPEAT_BIZ and not again.ok, again
    assert again.code == "FAILED" and again.data_code == "REPEAT_BIZ"
    assert installed_identity(again) == (PROVIDER, V1)
    assert "elapsedSpace" in again.raw["data"]
    assert await listed(client, partner) == {(PROVIDER, V1): ACTIVATED}


async def test_second_version_installs_deactivated(client: ArkletClient, partner: Partner,
                                                   cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)
    cleanup.add(PROVIDER, V2)
    await install_ok(client, partner, partner.provider(V1))
    second = await client.install(partner.host, partner.provider(V2), port=partner.port)
    assert second.outcome is Outcome.SUCCESS, second
    assert installed_identity(second) == (PROVIDER, V2)
    assert [b.state for b in second.biz_infos] == [DEACTIVATED]
    assert await listed(client, partner) == {(PROVIDER, V1): ACTIVATED,
                                             (PROVIDER, V2): DEACTIVATED}


async def test_listing_order_is_java_hash_order(client: ArkletClient, partner: Partner,
                                                cleanup: Cleanup) -> None:
    """Neither install order nor "newest first": 2.0.0 installed *before* 1.0.2 is still listed
    first, and ``health`` puts the base itself wherever its name falls (2025's ``base-2025``
    before ``provider``, 2023's ``base-2023`` after it)."""
    cleanup.add(PROVIDER, V1)
    cleanup.add(PROVIDER, V2)
    await install_ok(client, partner, partner.provider(V2))
    await install_ok(client, partner, partner.provider(V1))
    assert await listed(client, partner) == {(PROVIDER, V1): DEACTIVATED,
                                             (PROVIDER, V2): ACTIVATED}
    query = [(b.name, b.version) for b in await client.query_all(partner.host, port=partner.port)]
    assert query == java_listing_order([(PROVIDER, V1), (PROVIDER, V2)]) == [(PROVIDER, V2),
                                                                              (PROVIDER, V1)]
    health = await client.health(partner.host, port=partner.port)
    data = health.raw["data"]["healthData"]
    master = (data["masterBizInfo"]["bizName"], data["masterBizInfo"]["bizVersion"])
    in_health = [(b["bizName"], b["bizVersion"]) for b in data["bizListInfo"]]
    assert in_health == java_listing_order([(PROVIDER, V1), (PROVIDER, V2), master])


async def test_switch_activates_the_other_version(client: ArkletClient, partner: Partner,
                                                  cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)
    cleanup.add(PROVIDER, V2)
    await install_ok(client, partner, partner.provider(V1))
    await install_ok(client, partner, partner.provider(V2))
    result = await client.switch(partner.host, PROVIDER, V2, port=partner.port)
    assert result.outcome is Outcome.SUCCESS and result.ok, result
    assert result.message == f"Switch biz: {PROVIDER}:{V2} is activated."
    assert await listed(client, partner) == {(PROVIDER, V1): DEACTIVATED,
                                             (PROVIDER, V2): ACTIVATED}


async def test_uninstall_of_the_active_version_promotes_nothing(client: ArkletClient,
                                                                partner: Partner,
                                                                cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)
    cleanup.add(PROVIDER, V2)
    await install_ok(client, partner, partner.provider(V1))
    await install_ok(client, partner, partner.provider(V2))
    result = await client.uninstall(partner.host, PROVIDER, V1, port=partner.port)
    assert result.outcome is Outcome.SUCCESS and result.ok, result
    assert await listed(client, partner) == {(PROVIDER, V2): DEACTIVATED}


async def test_uninstall_unknown_is_not_found_biz(client: ArkletClient, partner: Partner) -> None:
    result = await client.uninstall(partner.host, PROVIDER, "9.9.9", port=partner.port)
    assert result.outcome is Outcome.NOT_FOUND_BIZ, result
    assert result.ok  # for uninstall, "not there" is what was asked
    assert result.code == "FAILED"
    assert result.message == f"Uninstall biz: {PROVIDER}:9.9.9 not found."


async def test_switch_unknown_is_not_found_biz(client: ArkletClient, partner: Partner) -> None:
    result = await client.switch(partner.host, PROVIDER, "9.9.9", port=partner.port)
    assert result.outcome is Outcome.NOT_FOUND_BIZ and not result.ok, result
    assert result.message == f"Switch biz: {PROVIDER}:9.9.9 not found."


# ---------------------------------------------------------------- identity and bad urls


async def test_identity_comes_from_the_jar_manifest(client: ArkletClient, partner: Partner,
                                                    cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V2)  # what the jar says
    cleanup.add(PROVIDER, "3.0.0")  # what was asked, should a partner believe the request
    asked = partner.provider("3.0.0", url_version=V2)
    result = await client.install(partner.host, asked, port=partner.port)
    assert result.outcome is Outcome.SUCCESS, result
    assert installed_identity(result) == (PROVIDER, V2)
    assert await listed(client, partner) == {(PROVIDER, V2): ACTIVATED}
    # asked again: REPEAT_BIZ naming what the jar is, not what was asked
    again = await client.install(partner.host, asked, port=partner.port)
    assert again.outcome is Outcome.REPEAT_BIZ, again
    assert installed_identity(again) == (PROVIDER, V2)
    assert await listed(client, partner) == {(PROVIDER, V2): ACTIVATED}


async def test_url_that_answers_404(client: ArkletClient, partner: Partner,
                                    cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)  # should a partner install anyway
    url = f"{partner.repo_url}/missing/no-such-module.jar"
    result = await client.install(partner.host, BizRef(PROVIDER, V1, url), port=partner.port)
    assert result.outcome is Outcome.INTERNAL_ERROR and not result.ok, result
    assert "java.io.FileNotFoundException" in result.message
    assert url in result.message
    assert "data" not in result.raw
    assert await listed(client, partner) == {}


async def test_url_that_is_not_a_jar(client: ArkletClient, partner: Partner,
                                      cleanup: Cleanup) -> None:
    cleanup.add(PROVIDER, V1)  # should a partner install anyway
    url = f"{partner.repo_url}/not-a-jar/dynamic-provider-1.0.2-ark-biz.jar"
    result = await client.install(partner.host, BizRef(PROVIDER, V1, url), port=partner.port)
    assert result.outcome is Outcome.INTERNAL_ERROR and not result.ok, result
    assert "java.util.zip.ZipException" in result.message
    assert "data" not in result.raw
    assert await listed(client, partner) == {}


# ---------------------------------------------------------------- the base itself


async def test_uninstall_of_the_base_itself_fails(client: ArkletClient, partner: Partner) -> None:
    master = await master_of(client, partner)
    result = await client.uninstall(partner.host, master["bizName"], master["bizVersion"],
                                    port=partner.port)
    assert result.outcome is Outcome.MASTER_BIZ and not result.ok, result
    assert result.code == "FAILED" and result.data_code == "FAILED"
    assert result.message == "Master biz must not be uninstalled."
    health = await client.health(partner.host, port=partner.port)
    assert health.ready


# ---------------------------------------------------------------- shapes the client hides


async def test_unknown_command_is_cmd_not_found(partner: Partner) -> None:
    reply = await raw_exchange(partner.host, partner.port,
                               build_request("noSuchCommand", {}, host=partner.host),
                               timeout=RAW_TIMEOUT)
    assert reply.eof
    assert reply.head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK", reply.data
    envelope = json.loads(reply.body)
    result = parse_envelope("noSuchCommand", envelope)
    assert result.outcome is Outcome.CMD_NOT_FOUND
    assert envelope == {"code": "CMD_NOT_FOUND", "message": "please follow the doc"}


async def test_get_is_http_500(partner: Partner) -> None:
    reply = await raw_exchange(partner.host, partner.port,
                               build_request("health", method="GET", host=partner.host),
                               timeout=RAW_TIMEOUT)
    assert reply.eof
    assert reply.head.split(b"\r\n")[0] == b"HTTP/1.1 500 Internal Server Error", reply.data
    assert reply.body == b"POST http request only supported by arklet"


async def test_install_without_url_is_refused(client: ArkletClient, partner: Partner,
                                               cleanup: Cleanup) -> None:
    """The client never sends it (``install_body`` refuses); raw, it gets the validation text."""
    cleanup.add(PROVIDER, V1)  # should a partner install anyway
    body = {"bizName": PROVIDER, "bizVersion": V1}
    reply = await raw_exchange(partner.host, partner.port,
                               build_request(INSTALL, body, host=partner.host),
                               timeout=RAW_TIMEOUT)
    assert reply.head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK", reply.data
    result = parse_envelope(INSTALL, json.loads(reply.body))
    assert result.outcome is Outcome.INTERNAL_ERROR
    assert result.message == "Internal Error: bizUrl should not be blank"
    assert await listed(client, partner) == {}

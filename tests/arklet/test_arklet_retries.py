"""Transport failures against a real (fake) Arklet over HTTP: timeouts, 5xx, refusals, resets.

The rule (docs/arklet.md, "How long one call can take"): only an attempt that got no connection
is retried inside the client, with a short backoff; anything that happens once the request was
sent (a timeout, 5xx, a reset, a garbled reply) ends the call in ArkletUnavailable after that one
attempt, and the caller's work queue retries. The fake's request log is the witness of how many
attempts actually reached the base.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import pytest
import pytest_asyncio
from arklet_testkit import MakeClient, RogueServer

from module_controller.arklet import ArkletSettings, ArkletUnavailable, BizRef, Outcome
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import wait_until

BIZ = BizRef("provider", "1.0.2", "http://repo/provider-1.0.2-ark-biz.jar")


def _log(arklet: FakeArklet, command: str) -> list:
    return [r for r in arklet.requests if r.command == command]


# --- hangs and timeouts ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["queryAllBiz", "health", "installBiz", "uninstallBiz"])
async def test_a_hang_ends_the_call_after_one_timeout(
        arklet: FakeArklet, make_client: MakeClient, command: str) -> None:
    """One attempt, however many the client may make: a hung base costs its caller one timeout,
    and the caller's queue decides when to ask again."""
    client, calls = make_client(attempts=4, timeout=0.3, install_timeout=0.3)
    arklet.faults.set(command, hang=True)
    call = {"queryAllBiz": lambda: client.query_all("127.0.0.1", port=arklet.port),
            "health": lambda: client.health("127.0.0.1", port=arklet.port),
            "installBiz": lambda: client.install("127.0.0.1", BIZ, port=arklet.port),
            "uninstallBiz": lambda: client.uninstall("127.0.0.1", "provider", "1.0.2",
                                                     port=arklet.port)}[command]

    with pytest.raises(ArkletUnavailable) as caught:
        await call()

    err = caught.value
    assert (err.host, err.command, err.attempts) == ("127.0.0.1", command, 1)
    assert "timeout" in err.last_error
    assert len(_log(arklet, command)) == 1
    assert calls.labels() == ["timeout"]
    assert calls.attempts[0].seconds >= 0.3 * 0.95  # waited the full timeout
    # The client gave up on the hung connection instead of leaving it open.
    await wait_until(lambda: arklet.open_connections == 0, timeout=2,
                     what="hung connections closed by the client")


async def test_the_next_call_after_a_timeout_gets_the_answer(
        arklet: FakeArklet, make_client: MakeClient) -> None:
    client, calls = make_client(timeout=0.3)
    arklet.faults.set("queryAllBiz", fail_count=1, fail_code="hang")
    with pytest.raises(ArkletUnavailable):
        await client.query_all("127.0.0.1", port=arklet.port)
    assert await client.query_all("127.0.0.1", port=arklet.port) == []
    assert calls.labels() == ["timeout", "SUCCESS"]


def test_longest_call_is_one_timeout_plus_the_connect_retries() -> None:
    settings = ArkletSettings(connect_timeout=2.0, timeout=10.0, install_timeout=120.0,
                              attempts=4, backoff_initial=0.2, backoff_max=5.0)
    # A wait for a slot of the base of at most one query timeout, 3 connects that fail within
    # 2 s, waits of at most 0.4, 0.8 and 1.6 s, then one timeout.
    assert settings.longest_call(10.0) == pytest.approx(10.0 + 3 * 2.0 + 0.4 + 0.8 + 1.6 + 10.0)
    assert settings.longest_call(120.0) == pytest.approx(10.0 + 3 * 2.0 + 2.8 + 120.0)
    assert ArkletSettings(attempts=1, queue_wait=0.0).longest_call(10.0) == 10.0
    assert ArkletSettings(attempts=1, queue_wait=3.0).longest_call(10.0) == 13.0


async def test_install_gets_the_long_timeout_and_other_calls_the_short_one(
        arklet: FakeArklet, make_client: MakeClient) -> None:
    client, calls = make_client(timeout=0.3, install_timeout=3.0)
    arklet.install_latency = 0.6  # longer than `timeout`, shorter than `install_timeout`

    result = await client.install("127.0.0.1", BIZ, port=arklet.port)
    assert result.outcome is Outcome.SUCCESS
    assert len(_log(arklet, "installBiz")) == 1  # no timeout, no retry
    assert calls.attempts[0].seconds >= 0.6 * 0.95

    # The same 0.6 s on another command exceeds the short timeout.
    short, short_calls = make_client(timeout=0.3, attempts=1)
    arklet.faults.set("queryAllBiz", latency=0.6)
    with pytest.raises(ArkletUnavailable) as caught:
        await short.query_all("127.0.0.1", port=arklet.port)
    assert short_calls.labels() == ["timeout"]
    assert caught.value.attempts == 1


async def test_install_timeout_applies_to_install(arklet: FakeArklet,
                                                  make_client: MakeClient) -> None:
    client, calls = make_client(timeout=5.0, install_timeout=0.3, attempts=1)
    arklet.install_latency = 2.0
    with pytest.raises(ArkletUnavailable):
        await client.install("127.0.0.1", BIZ, port=arklet.port)
    # A timeout, not the 2 s answer: had install used `timeout` (5 s), it would have succeeded.
    # (No upper bound on the attempt's duration: a busy machine stretches it.)
    assert calls.labels() == ["timeout"]
    assert calls.attempts[0].seconds >= 0.3 * 0.95


# --- 5xx, refusals, resets -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["http500", "close"])
async def test_a_failure_after_the_request_was_sent_is_not_retried_here(
        arklet: FakeArklet, make_client: MakeClient, fault: str) -> None:
    client, calls = make_client(attempts=4)
    arklet.faults.set("installBiz", fail_count=1, fail_code=fault)

    with pytest.raises(ArkletUnavailable) as caught:
        await client.install("127.0.0.1", BIZ, port=arklet.port)
    assert caught.value.attempts == 1
    assert len(_log(arklet, "installBiz")) == 1
    label = {"http500": "http_500", "close": "connect_error"}[fault]
    assert calls.labels() == [label]

    # The caller's retry (its queue) then gets the answer.
    result = await client.install("127.0.0.1", BIZ, port=arklet.port)
    assert result.outcome is Outcome.SUCCESS
    assert [(b["bizName"], b["bizVersion"]) for b in arklet.bizzes()] == [("provider", "1.0.2")]


async def test_refused_connection_is_retried_then_succeeds(arklet: FakeArklet,
                                                           make_client: MakeClient) -> None:
    client, calls = make_client()
    arklet.refuse(True)
    # Accept again right after the first refused attempt: deterministic, no timing involved.
    calls.after = lambda a: arklet.refuse(False) if a.label == "connect_error" else None

    health = await client.health("127.0.0.1", port=arklet.port)

    assert health.ready
    assert calls.labels() == ["connect_error", "SUCCESS"]
    assert len(_log(arklet, "health")) == 1  # the refused attempt never reached the base


async def test_refusal_that_persists_gives_unavailable(arklet: FakeArklet,
                                                       make_client: MakeClient) -> None:
    client, calls = make_client(attempts=3)
    arklet.refuse(True)
    with pytest.raises(ArkletUnavailable) as caught:
        await client.query_all("127.0.0.1", port=arklet.port)
    assert caught.value.attempts == 3
    assert calls.labels() == ["connect_error"] * 3
    assert arklet.requests == []


async def test_retry_waits_grow(arklet: FakeArklet, make_client: MakeClient) -> None:
    client, calls = make_client(backoff_initial=0.05, backoff_max=1.0, attempts=4)
    arklet.refuse(True)
    times: list[float] = []
    loop = asyncio.get_running_loop()
    calls.after = lambda a: times.append(loop.time())

    with pytest.raises(ArkletUnavailable):
        await client.health("127.0.0.1", port=arklet.port)

    assert calls.labels() == ["connect_error"] * 4
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Lower bounds only (a gap is the wait plus the attempt): 0.05, 0.1, 0.2 minus clock slack.
    for retry, gap in enumerate(gaps, start=1):
        lower, _ = client.wait_policy.bounds(retry)
        assert gap >= lower - 0.005, (retry, gap, lower)
    assert client.wait_policy.bounds(3)[0] == pytest.approx(0.2)


async def test_retries_are_logged_as_warnings_and_attempts_at_debug(
        arklet: FakeArklet, make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    client, calls = make_client()
    arklet.refuse(True)
    calls.after = lambda a: arklet.refuse(False) if a.label == "connect_error" else None
    with caplog.at_level(logging.DEBUG, logger="module_controller.arklet"):
        await client.health("127.0.0.1", port=arklet.port)
    ours = [r for r in caplog.records if r.name.startswith("module_controller.arklet")]
    warnings = [r for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "health" in warnings[0].getMessage()
    assert sum("attempt" in r.getMessage() for r in ours if r.levelno == logging.DEBUG) == 2


async def test_a_failing_on_call_hook_does_not_fail_the_call(
        arklet: FakeArklet, make_client: MakeClient) -> None:
    client, calls = make_client()

    def broken(_attempt: object) -> None:
        raise RuntimeError("metrics bug")

    calls.after = broken
    health = await client.health("127.0.0.1", port=arklet.port)
    assert health.ready and calls.labels() == ["SUCCESS"]


# --- replies that are not Arklet envelopes ---------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def rogue() -> AsyncIterator[RogueServer]:
    server = RogueServer([b"HTTP/1.1 200 OK\r\n\r\nthis is not json"])
    await server.start()
    yield server
    await server.stop()


async def test_unparseable_reply_is_unavailable_at_once(rogue: RogueServer,
                                                        make_client: MakeClient) -> None:
    client, calls = make_client(attempts=3)
    with pytest.raises(ArkletUnavailable) as caught:
        await client.install("127.0.0.1", BIZ, port=rogue.port)
    assert caught.value.attempts == 1 and rogue.requests == 1
    assert "not JSON" in caught.value.last_error
    assert calls.labels() == ["protocol_error"]


async def test_unparseable_replies_then_a_good_one(rogue: RogueServer,
                                                   make_client: MakeClient) -> None:
    rogue.replies = [
        b"HTTP/1.1 200 OK\r\n\r\n{\"code\":",  # truncated JSON
        b"HTTP/1.1 200 OK\r\n\r\n[\"not an envelope\"]",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n{\"code\":\"SUCCESS\",\"data\":[]}",
    ]
    client, calls = make_client(attempts=4)
    for _ in range(3):  # each call one attempt; the caller asks again
        with pytest.raises(ArkletUnavailable):
            await client.query_all("127.0.0.1", port=rogue.port)
    assert await client.query_all("127.0.0.1", port=rogue.port) == []
    assert calls.labels() == ["protocol_error"] * 3 + ["SUCCESS"]


async def test_every_attempt_has_a_connect_and_a_total_timeout(
        arklet: FakeArklet, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = make_client(connect_timeout=0.7, timeout=0.9, install_timeout=1.9)
    session = client._ensure_session()
    seen: list[tuple[str, object]] = []
    real_post = session.post

    def spy(url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append((url.rsplit("/", 1)[-1], kwargs["timeout"]))
        return real_post(url, **kwargs)

    monkeypatch.setattr(session, "post", spy)
    await client.install("127.0.0.1", BIZ, port=arklet.port)
    await client.health("127.0.0.1", port=arklet.port)

    # The caller waits the call's timeout; the exchange itself may go on as long again, holding
    # its base's slot, for a late answer (ArkletSettings.slot_held).
    assert [(cmd, t.total, t.sock_connect) for cmd, t in seen] == [  # type: ignore[attr-defined]
        ("installBiz", 3.8, 0.7), ("health", 1.8, 0.7)]


async def test_a_timed_out_install_is_not_sent_again(arklet: FakeArklet,
                                                     make_client: MakeClient) -> None:
    """A hung install may still run on the base: the client reports it after one timeout
    instead of sending it again (4 x install timeout held a worker, and a deletion, for 8 min)."""
    client, calls = make_client(timeout=5.0, install_timeout=0.3, attempts=4)
    arklet.install_latency = 2.0
    with pytest.raises(ArkletUnavailable):
        await client.install("127.0.0.1", BIZ, port=arklet.port)
    assert calls.labels() == ["timeout"]  # one attempt, none after it

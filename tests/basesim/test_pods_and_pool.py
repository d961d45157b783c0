"""Pure parts of the base simulator: what to do with a pod, its settings, address allocation."""

from __future__ import annotations

import pytest

from module_controller_dev.basesim import pods
from module_controller_dev.basesim.ippool import IPPool

NODES = {"sim-node-1"}


def pod(node: str | None = None, deleting: bool = False, phase: str = "Pending",
        annotations: dict | None = None, grace: int | None = 30) -> dict:
    meta = {"name": "p", "uid": "u", "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"containers": [{"name": "base", "image": "img"}], "terminationGracePeriodSeconds": grace}
    if node:
        spec["nodeName"] = node
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def test_decisions():
    assert pods.decide(pod(), NODES, running=False) is pods.Action.BIND
    assert pods.decide(pod("sim-node-1"), NODES, running=False) is pods.Action.START
    assert pods.decide(pod("sim-node-1"), NODES, running=True) is pods.Action.IGNORE
    assert pods.decide(pod("elsewhere"), NODES, running=False) is pods.Action.IGNORE
    assert pods.decide(pod("sim-node-1", deleting=True), NODES, running=True) is pods.Action.TERMINATE
    assert pods.decide(pod("elsewhere", deleting=True), NODES, running=False) is pods.Action.IGNORE
    assert pods.decide(pod("sim-node-1", phase="Succeeded"), NODES, running=False) is pods.Action.IGNORE


def test_settings_from_annotations():
    default = pods.settings(pod())
    assert (default.flavour, default.port, default.install_latency) == ("2023", 1238, 0.0)
    custom = pods.settings(pod(annotations={
        pods.ARKLET_FLAVOUR: "2025", pods.ARKLET_PORT: "1300",
        pods.INSTALL_LATENCY: "0.2", pods.TERMINATION_DELAY: "99",
    }, grace=5))
    assert (custom.flavour, custom.port, custom.install_latency) == ("2025", 1300, 0.2)
    assert custom.termination_delay == 5.0, "bounded by the grace period"
    assert pods.settings(pod(annotations={pods.ARKLET_FLAVOUR: "none"})).flavour is None
    junk = pods.settings(pod(annotations={pods.ARKLET_PORT: "x", pods.INSTALL_LATENCY: "-3"}))
    assert (junk.port, junk.install_latency) == (1238, 0.0)


def test_running_status_is_ready_with_ip():
    status = pods.running_status(pod("sim-node-1"), "127.0.0.9")
    assert status["phase"] == "Running" and status["podIP"] == "127.0.0.9"
    assert {c["type"] for c in status["conditions"] if c["status"] == "True"} >= {"Ready", "ContainersReady"}
    assert status["containerStatuses"][0]["ready"] is True


def test_pool_hands_out_new_addresses_round_robin():
    pool = IPPool(size=4, block=7)
    first = next(pool.candidates())
    assert first == "127.7.0.1"
    pool.take(first)
    second = next(pool.candidates())
    pool.take(second)
    pool.release(first)
    # The released address is not reused at once: a replacement pod must get a new IP.
    third = next(pool.candidates())
    assert third not in (first, second)
    pool.mark_broken(third)
    assert third not in list(pool.candidates())
    assert pool.used == 1


def test_pool_skips_dot_zero_and_dot_255():
    pool = IPPool(size=300, block=9)
    addresses = list(pool.candidates())
    assert len(addresses) == 300
    assert not any(a.endswith((".0", ".255")) for a in addresses)
    assert "127.9.1.1" in addresses and "127.9.0.254" in addresses


def test_pool_blocks_keep_two_simulators_apart():
    """Each simulator takes a /16 of its own, never 127.0.x.x (home of 127.0.0.1)."""
    blocks = {IPPool(size=10).block for _ in range(50)}
    assert 0 not in blocks and all(1 <= b <= 254 for b in blocks)
    a, b = IPPool(size=5000, block=3), IPPool(size=5000, block=4)
    assert not set(a.candidates()) & set(b.candidates())
    assert len(set(a.candidates())) == 5000  # room for the scale benches' 5,000 bases


@pytest.mark.parametrize("kw", [{"block": 0}, {"block": 255}, {"size": 0},
                                {"size": 256 * 254 + 1}])
def test_pool_refuses_impossible_blocks(kw):
    with pytest.raises(ValueError):
        IPPool(**{"size": 10, "block": 5, **kw})

"""How long a NotReady base still counts as a base, and when an owned Module's spec follows
its owner's template; no cluster."""

from __future__ import annotations

import datetime as dt

import pytest

from module_controller.planning.base_pod_rules import not_ready_tolerance
from module_controller.planning.replicaset import follows_template

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("ready, since, hosts, expected", [
    (True, None, False, (True, None)),
    (False, ago(10), True, (True, 20.0)),      # a blip: still a base, look again in 20 s
    (False, ago(30), True, (False, None)),     # the grace is over
    (False, ago(40), True, (False, None)),
    (False, ago(1), False, (False, None)),     # a new pod that never hosted an instance
    (False, None, True, (False, None)),        # no transition time: no grace to measure
])
def test_not_ready_tolerance(ready, since, hosts, expected):
    assert not_ready_tolerance(ready, since, hosts, NOW, grace=30.0) == expected


def test_zero_grace_counts_not_ready_out_at_once():
    assert not_ready_tolerance(False, NOW, True, NOW, grace=0.0) == (False, None)


TEMPLATE = {"name": "provider", "version": "1.0.0", "url": "http://repo/provider-1.0.0.jar"}


@pytest.mark.parametrize("spec, expected", [
    ({"module": TEMPLATE, "upgradePolicy": "install_then_uninstall"}, True),
    ({"module": {**TEMPLATE, "version": "9.9.9"}, "upgradePolicy": "install_then_uninstall"},
     False),
    ({"module": {**TEMPLATE, "url": "http://evil/x.jar"}, "upgradePolicy": "install_then_uninstall"},
     False),
    ({"module": TEMPLATE, "upgradePolicy": "uninstall_then_install"}, False),
])
def test_follows_template(spec, expected):
    assert follows_template(spec, TEMPLATE, "install_then_uninstall") is expected

"""The drift check's schedule: every base once per round, one slot each, spread evenly."""

from __future__ import annotations

import random

import pytest

from module_controller.planning.drift import judged, reusable, share, spread


@pytest.mark.parametrize("n, period", [(1, 60.0), (7, 60.0), (2000, 60.0), (3, 0.5)])
def test_one_offset_per_base_in_its_own_slot(n, period):
    offsets = spread(n, period, random.Random(n))
    assert len(offsets) == n
    slot = period / n
    for i, offset in enumerate(offsets):
        assert i * slot <= offset < (i + 1) * slot + 1e-9
    assert offsets == sorted(offsets) and 0 <= offsets[0] and offsets[-1] < period


def test_calls_come_at_a_steady_rate_not_in_a_burst():
    offsets = spread(2000, 60.0, random.Random(1))
    # In any one second at most ~2 slots' worth (2000 / 60 = 33 per second) plus one: no burst.
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(60)]
    assert max(per_second) <= 35 and min(per_second) >= 32


def test_rounds_differ_so_controllers_do_not_fall_into_step():
    assert spread(10, 60.0, random.Random(1)) != spread(10, 60.0, random.Random(2))


def test_nothing_to_check():
    assert spread(0, 60.0, random.Random(1)) == []


@pytest.mark.parametrize("concurrency, expected", [(256, 16), (32, 2), (4, 1), (1, 1)])
def test_a_small_share_of_the_arklet_bound(concurrency, expected):
    assert share(concurrency) == expected


@pytest.mark.parametrize("since, asked, expected", [
    (None, 100.0, True),  # no transition time written: judged
    (90.0, 100.0, True),
    (99.0, 100.0, True),  # whole second before: Available before the question
    (99.5, 100.0, False),  # the same second: may have turned Available after the question
    (100.0, 100.0, False),
    (105.0, 100.0, False),
])
def test_a_module_is_judged_only_by_a_listing_asked_for_after_it_became_available(
        since, asked, expected):
    assert judged(since, asked) is expected


@pytest.mark.parametrize("listed, expected", [
    (None, False), (100.0, True), (41.0, True), (40.0, True), (39.9, False), (100.5, False)])
def test_a_module_reconciles_listing_stands_in_for_a_query_within_the_period(listed, expected):
    assert reusable(listed, now=100.0, period=60.0) is expected

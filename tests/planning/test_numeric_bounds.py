"""The largest values the schema admits go through the planners without an OverflowError
(1e12 s of gray time once made every reconcile raise ``date value out of range``; the API server
now refuses it, tests/api, and these are the values it still admits)."""

from __future__ import annotations

import datetime as dt

from test_release import World

from module_controller.api import constants as c
from module_controller.api.moduledeployment import ReleaseProgress as P
from module_controller.planning.module_lifecycle import min_ready
from module_controller.planning.release import Strategy, group_sizes

LATE = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)  # long after any plausible clock


def test_release_with_the_longest_gray_time_plans_its_wait():
    w = World({"r1": (1, 0)}, update=1, desired=2,
              strategy=Strategy(batch_count=2, gray_seconds=c.MAX_SECONDS))
    w.now = LATE
    w.step()
    w.step()
    assert w.state.next_reconcile == LATE + dt.timedelta(seconds=c.MAX_SECONDS)
    w.step()
    assert w.revs["r1"][1] == 1, "inside the gray time"
    w.now += dt.timedelta(seconds=c.MAX_SECONDS + 1)
    w.run(lambda w: w.state.progress is P.COMPLETED)


def test_group_sizes_of_the_largest_release():
    sizes = group_sizes(c.MAX_REPLICAS, c.MAX_BATCH_COUNT, True)
    assert sum(sizes) == c.MAX_REPLICAS and len(sizes) == c.MAX_BATCH_COUNT


def test_min_ready_with_the_longest_wait():
    wait = min_ready(c.MAX_SECONDS, "Completing", LATE, LATE)
    assert wait.wait == c.MAX_SECONDS
    assert min_ready(c.MAX_SECONDS, None, None, LATE).completing

"""The collector settings the controller process starts with (runtime/gc_tuning.py)."""

from __future__ import annotations

import gc
import weakref

from module_controller.runtime import gc_tuning


def test_tune_sets_the_thresholds_and_freezes_what_exists_at_start():
    before = gc.get_threshold()
    try:
        gc_tuning.tune()
        assert gc.get_threshold() == gc_tuning.THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # cycles (exceptions, futures) are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_cycle_is_collected_without_being_asked_once_young_objects_pass_the_threshold():
    before = gc.get_threshold()
    try:
        gc_tuning.tune()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # only the collector can free a cycle
        kept = [[] for _ in range(gc_tuning.THRESHOLDS[0] + 1000)]  # young containers, alive
        assert gone() is None, "no young collection ran"
        del kept
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

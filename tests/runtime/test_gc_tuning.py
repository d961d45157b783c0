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


def test_a_cycle_is_still_collected_after_tuning():
    before = gc.get_threshold()
    try:
        gc_tuning.tune()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

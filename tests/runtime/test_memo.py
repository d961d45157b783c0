"""The bounded memory of what was done once (runtime/memo.py)."""

from __future__ import annotations

from module_controller.runtime.memo import Memo


def test_news_once_per_key_and_value():
    memo = Memo()
    assert memo.record("pod-a") and not memo.record("pod-a")
    assert memo.record("md", "x-service") and not memo.record("md", "x-service")
    assert memo.record("md", "y-service")  # renamed: news again
    assert memo.record("md", None) and not memo.record("md", None)  # "none" is a value too
    memo.forget("md")
    assert memo.record("md", None)


def test_bounded_forgets_everything_past_the_limit():
    memo = Memo(limit=3)
    for key in "abc":
        assert memo.record(key)
    assert not memo.record("a")  # a known key never triggers forgetting
    assert memo.record("d") and len(memo) == 1  # the fourth key: all forgotten, then kept
    assert memo.record("a")  # at worst one repeat

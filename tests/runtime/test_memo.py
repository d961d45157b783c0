"""The bounded memory of what was done once (runtime/memo.py)."""

from __future__ import annotations

from module_controller.runtime.memo import Lru, Memo


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


def test_lru_computes_once_keeps_the_recently_used_and_nothing_for_a_failure():
    lru: Lru[str] = Lru(size=2)
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or key.upper()

    assert lru.get("a", compute("a")) == "A" and lru.get("a", compute("a")) == "A"
    lru.get("b", compute("b"))
    lru.get("a", compute("a"))  # used: "b" is now the oldest
    lru.get("c", compute("c"))  # over the size: "b" goes
    assert len(lru) == 2 and calls == ["a", "b", "c"]
    lru.get("a", compute("a"))
    lru.get("b", compute("b"))
    assert calls == ["a", "b", "c", "b"]

    def broken():
        raise ValueError("invalid")

    for _ in range(2):
        try:
            lru.get("x", broken)
        except ValueError:
            pass
    assert len(lru) == 2

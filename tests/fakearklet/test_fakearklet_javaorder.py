"""The fake lists bizzes in sofa-ark's registry order, as recorded from both real generations."""

from __future__ import annotations

import pytest

from module_controller_dev.fakearklet import javaorder
from module_controller_dev.fakearklet.vocabulary import registry_order


def test_string_hash_is_javas() -> None:
    assert javaorder.string_hash("hello") == 99162322          # "hello".hashCode()
    assert javaorder.string_hash("") == 0
    assert javaorder.string_hash("polygenelubricants") == 0x80000000  # Integer.MIN_VALUE


@pytest.mark.parametrize("keys, expected", [
    # Recorded: provider 2.0.0 is listed before 1.0.2 whichever was installed first.
    (["1.0.2", "2.0.0"], ["2.0.0", "1.0.2"]),
    (["2.0.0", "1.0.2"], ["2.0.0", "1.0.2"]),
    # Recorded in health: 2025's base-2025 before provider, 2023's base-2023 after it.
    (["base-2025", "provider"], ["base-2025", "provider"]),
    (["base-2023", "provider"], ["provider", "base-2023"]),
])
def test_iteration_order_matches_the_real_bases(keys: list[str], expected: list[str]) -> None:
    assert javaorder.iteration_order(keys) == expected


def test_table_grows_at_three_quarters() -> None:
    assert [javaorder.table_size(n) for n in (0, 11, 12, 24)] == [16, 16, 32, 64]


def test_registry_order_groups_versions_under_their_name() -> None:
    entries = [("provider", "1.0.2", "p1"), ("base-2023", "1.0.0", "base"),
               ("provider", "2.0.0", "p2")]
    assert registry_order(entries) == ["p2", "p1", "base"]

"""Models of cached objects are parsed once per object version (api/parsed.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api_cases import valid
from module_controller.api import Module
from module_controller.api.parsed import parsed


def _versioned(rv: str, uid: str = "uid-1") -> dict:
    obj = valid("Module")
    obj["metadata"] |= {"uid": uid, "resourceVersion": rv}
    return obj


def test_one_version_is_parsed_once_and_a_new_version_again():
    first = parsed(Module, _versioned("7"))
    assert parsed(Module, _versioned("7")) is first
    assert parsed(Module, _versioned("8")) is not first
    assert parsed(Module, _versioned("7", uid="uid-2")) is not first
    assert parsed(Module, _versioned("7")) == Module.from_api(_versioned("7"))


def test_objects_without_a_version_and_invalid_ones_are_not_remembered():
    unversioned = valid("Module")
    assert parsed(Module, unversioned) is not parsed(Module, unversioned)
    broken = _versioned("9")
    broken["spec"]["module"] = {}
    for _ in range(2):
        with pytest.raises(ValidationError):
            parsed(Module, broken)

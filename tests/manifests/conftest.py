from __future__ import annotations

from pathlib import Path

import pytest
from helm_testkit import find_or_build_helm


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return find_or_build_helm()

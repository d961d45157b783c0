"""The real node's controller image holds the product only: the builder refuses a virtualenv
that has a development package in it (the image users build from the Dockerfile never copies
dev/; tests/requirements/test_product_wheel.py checks the wheel both install)."""

from __future__ import annotations

from pathlib import Path

import pytest

from module_controller_dev.devcluster import images


def _venv(tmp_path: Path, *names: str) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for name in ("module_controller", "module_controller-0.1.0.dist-info", "aiohttp", *names):
        (site / name).mkdir(parents=True)
    return tmp_path / "venv"


def test_a_product_only_virtualenv_passes(tmp_path):
    images._check_product_only(_venv(tmp_path, "uvloop"))


@pytest.mark.parametrize("name", ["module_controller_dev", "module_controller_dev-0.1.0.dist-info",
                                  "cryptography", "cryptography-48.0.0.dist-info",
                                  "uv-0.13.10.dist-info"])
def test_a_development_package_fails_the_build(tmp_path, name):
    with pytest.raises(images.ImageBuildError, match=name.split("-")[0]):
        images._check_product_only(_venv(tmp_path, name))

"""The product wheel (what the controller image installs) holds the product and nothing of the
development tools: no module of dev/module_controller_dev, no dependency only they need, no
command of theirs. Built the way the Dockerfile builds it (the files it copies, no build
isolation: the pinned backend is in the venv), so no network is needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEV_PYPROJECT = tomllib.loads((ROOT / "dev" / "pyproject.toml").read_text())
DEV_PACKAGE = ROOT / "dev" / "module_controller_dev"
# The subpackages the development tools hold; none of them may come back into the product.
DEV_SUBPACKAGES = sorted(p.name for p in DEV_PACKAGE.iterdir() if (p / "__init__.py").is_file())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    # What the Dockerfile copies into its build stage.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "module_controller", src / "module_controller",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("module_controller-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def _metadata(wheel: zipfile.ZipFile) -> tuple[str, str]:
    dist_info = {n.split("/")[0] for n in wheel.namelist() if n.split("/")[0].endswith(".dist-info")}
    (name,) = dist_info
    return wheel.read(f"{name}/METADATA").decode(), wheel.read(f"{name}/entry_points.txt").decode()


def test_the_dev_package_exists_where_this_test_looks():
    assert {"devcluster", "fakearklet", "basesim", "realbase", "modulerepo"} <= set(DEV_SUBPACKAGES)


def test_the_product_wheel_holds_no_development_module(wheel):
    names = wheel.namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"module_controller"}, tops
    dev = [n for n in names if n.split("/")[1:2] and n.split("/")[1] in DEV_SUBPACKAGES]
    assert not dev, f"development modules in the product wheel: {dev[:10]}"
    assert not [n for n in names if "module_controller_dev" in n]
    # The product itself is there, with its package data.
    for name in ("module_controller/cli.py", "module_controller/controllers/operator.py",
                 "module_controller/manifests/templates/deployment.yaml.j2"):
        assert name in names, name


def test_the_product_wheel_needs_no_development_dependency(wheel):
    metadata, entry_points = _metadata(wheel)
    requires = [Requirement(r) for r in Parser().parsestr(metadata).get_all("Requires-Dist") or []]
    runtime = {canonicalize_name(r.name) for r in requires if not r.marker}
    assert runtime == {canonicalize_name(Requirement(d).name)
                       for d in PYPROJECT["project"]["dependencies"]}
    dev_only = {canonicalize_name(Requirement(d).name) for d in DEV_PYPROJECT["project"]["dependencies"]}
    dev_only.discard(canonicalize_name(PYPROJECT["project"]["name"]))
    assert {"cryptography", "uv"} <= dev_only
    named = {canonicalize_name(r.name) for r in requires}
    assert not named & dev_only, f"development dependencies in the product wheel: {named & dev_only}"
    assert "module-controller-dev" not in entry_points and "module_controller_dev" not in entry_points
    assert "module-controller = module_controller.cli:main" in entry_points


def test_every_product_module_imports_without_the_development_tools():
    """What the image runs: each module of the product imports with the development tools and
    their dependencies absent (an import of one that no longer exists is not an import contract
    breach for lint-imports, but it fails here)."""
    script = (
        "import importlib, pkgutil, sys\n"
        "for name in ('module_controller_dev', 'cryptography', 'uv'):\n"
        "    sys.modules[name] = None\n"
        "import module_controller\n"
        "names = [m.name for m in pkgutil.walk_packages(module_controller.__path__, 'module_controller.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 100

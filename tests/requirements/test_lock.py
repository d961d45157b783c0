"""The lock of the runtime dependencies (config/requirements/): it agrees with pyproject.toml's
direct pins, carries hashes for every package, is complete, and holds nothing dev-only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "config" / "requirements" / "controller.txt"
BUILD_LOCK = ROOT / "config" / "requirements" / "build.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEV_PYPROJECT = tomllib.loads((ROOT / "dev" / "pyproject.toml").read_text())
_ENTRY = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a hashed requirements file."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = _ENTRY.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            out[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = out[current]
            out[current] = (version, hashes + 1)
    return out


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for text in requirements:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{text}: pyproject.toml pins exact versions"
        out[canonicalize_name(req.name)] = spec.version
    return out


def test_the_lock_has_every_direct_pin_of_pyproject_at_its_version():
    lock = locked(LOCK)
    direct = pins(PYPROJECT["project"]["dependencies"])
    wrong = {name: (version, lock.get(name, ("missing",))[0]) for name, version in direct.items()
             if lock.get(name, ("",))[0] != version}
    assert not wrong, f"pyproject.toml pin vs lock: {wrong}; run `make lock`"


def test_every_locked_package_has_hashes():
    lock = locked(LOCK) | locked(BUILD_LOCK)
    assert lock
    assert not [name for name, (_, hashes) in lock.items() if hashes == 0]


def test_the_build_lock_pins_the_build_backend_of_pyproject():
    assert locked(BUILD_LOCK) == {
        name: (version, locked(BUILD_LOCK)[name][1])
        for name, version in pins(PYPROJECT["build-system"]["requires"]).items()}


def test_the_lock_holds_no_development_only_package():
    lock = set(locked(LOCK))
    dev_only = set()
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        dev_only |= set(pins(extra))
    # The development tools' own dependencies, but the product they depend on.
    dev_only |= set(pins(DEV_PYPROJECT["project"]["dependencies"])) - {PYPROJECT["project"]["name"]}
    assert not lock & dev_only, "a test/dev/bench tool is locked as a runtime dependency"
    assert "cryptography" not in lock


def test_the_lock_is_complete_for_this_python():
    """Every requirement of every locked package (its markers evaluated here) is locked too, at
    a version it accepts: what `pip install --require-hashes --no-deps` needs."""
    lock = {name: version for name, (version, _) in locked(LOCK).items()}
    missing = []
    for name in lock:
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in lock or not req.specifier.contains(lock[dep], prereleases=True):
                missing.append(f"{name} needs {text}; locked: {lock.get(dep)}")
    assert not missing, missing


def test_the_venv_runs_the_locked_versions():
    """make venv installs with the lock as constraints: CI tests what the image runs."""
    lock = {name: version for name, (version, _) in locked(LOCK).items()}
    differ = {name: (version, metadata.version(name)) for name, version in lock.items()
              if metadata.version(name) != version}
    assert not differ, f"lock vs .venv: {differ}; run `make venv`"


def test_the_controller_runs_without_the_dev_dependencies():
    """The image has no cryptography (the dev cluster's certificates): `version`, `run` and the
    controller's modules must not need it."""
    blocker = ("import sys; sys.modules['cryptography'] = None; "
               "import module_controller.controllers.operator, module_controller.kube.client; "
               "from module_controller.cli import main; sys.argv[0] = 'module-controller'; "
               "sys.exit(main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    version = subprocess.run([sys.executable, "-c", blocker, "version"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    run = subprocess.run([sys.executable, "-c", blocker, "run"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "no cluster configured" in run.stderr, run.stderr

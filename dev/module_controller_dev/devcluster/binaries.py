"""Find or build the control-plane binaries the dev cluster runs.

Lookup order, per binary: the directory named by ``KUBEBUILDER_ASSETS`` (the envtest convention),
then our cache directory, then a build from Go modules with the machine's ``go``. The build uses
the small Go module shipped next to this file (``gobuild/``), which pins Kubernetes and etcd.
Nothing is ever written inside the repository.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

KUBE_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.8"

# Binary name -> Go package that builds it (all resolved through gobuild/go.mod).
GO_PACKAGES: dict[str, str] = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
}

# The real node's binaries (``dev up --real-node``): built from the same go.mod, only on demand, so
# a machine that never runs a real node never builds them.
NODE_PACKAGES: dict[str, str] = {
    "kubelet": "k8s.io/kubernetes/cmd/kubelet",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
}
_ALL_PACKAGES = {**GO_PACKAGES, **NODE_PACKAGES}

GOBUILD_DIR = Path(__file__).with_name("gobuild")


class BinariesError(RuntimeError):
    """A binary is missing and cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path

    def as_dict(self) -> dict[str, Path]:
        return {
            "etcd": self.etcd,
            "kube-apiserver": self.kube_apiserver,
            "kube-controller-manager": self.kube_controller_manager,
        }


def cache_root() -> Path:
    """``$MODULE_CONTROLLER_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/module-controller``."""
    explicit = os.environ.get("MODULE_CONTROLLER_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "module-controller"


def cache_dir() -> Path:
    return cache_root() / f"k8s-{KUBE_VERSION}-etcd-{ETCD_VERSION}"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def locate(name: str) -> Path | None:
    """Where ``name`` already is, without building anything."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    candidates = [Path(assets) / name] if assets else []
    candidates.append(cache_dir() / name)
    return next((c for c in candidates if _executable(c)), None)


def find() -> tuple[dict[str, Path], list[str]]:
    """The binaries found, and the names still missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in GO_PACKAGES:
        path = locate(name)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    return found, missing


def _ldflags() -> str:
    # Stamp the version the way Kubernetes' own build does, so `kubectl version` and the
    # apiserver's /version report the release instead of v0.0.0-master.
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    stamps = {
        "k8s.io/component-base/version.gitVersion": KUBE_VERSION,
        "k8s.io/component-base/version.gitMajor": major,
        "k8s.io/component-base/version.gitMinor": minor,
        "k8s.io/component-base/version.gitTreeState": "clean",
        "k8s.io/client-go/pkg/version.gitVersion": KUBE_VERSION,
    }
    return " ".join(["-s", "-w"] + [f"-X {k}={v}" for k, v in stamps.items()])


def find_go() -> str | None:
    """``go`` on PATH, else the standard install location (often missing from a CI's PATH)."""
    found = shutil.which("go")
    if found:
        return found
    fallback = Path("/usr/local/go/bin/go")
    return str(fallback) if _executable(fallback) else None


def build(names: list[str], log: Callable[[str], None] = print) -> None:
    """Build ``names`` into the cache with ``go``; atomic per binary, safe to run concurrently."""
    go = find_go()
    if go is None:
        raise BinariesError(
            f"missing {', '.join(names)} and no `go` on PATH: install Go >= 1.26, or set "
            "KUBEBUILDER_ASSETS to a directory that holds them"
        )
    dest = cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second `make controlplane` waits, then finds them
        todo = [n for n in names if not _executable(dest / n)]
        if not todo:
            return
        with tempfile.TemporaryDirectory(prefix="mc-gobuild-") as work:
            # Build from a copy: the installed package directory may be read-only.
            for f in ("go.mod", "go.sum", "tools.go"):
                shutil.copy(GOBUILD_DIR / f, Path(work) / f)
            env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false")
            for name in todo:
                package = _ALL_PACKAGES[name]
                log(f"building {name} ({package}, Kubernetes {KUBE_VERSION}, "
                    f"etcd {ETCD_VERSION}) with {go}; the first build takes several minutes")
                tmp = dest / f".{name}.partial"
                cmd = [go, "build", "-trimpath", "-ldflags", _ldflags(), "-o", str(tmp), package]
                proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
                    raise BinariesError(f"`go build {package}` failed:\n{tail}")
                tmp.replace(dest / name)


def ensure(log: Callable[[str], None] = print) -> Binaries:
    """Return all three binaries, building whatever is missing."""
    found, missing = find()
    for name, path in found.items():
        log(f"found {name}: {path}")
    if missing:
        build(missing, log)
        built = missing
        found, missing = find()
        if missing:
            raise BinariesError(f"built but still not found: {', '.join(missing)}")
        for name in built:
            log(f"built {name}: {found[name]}")
    return Binaries(found["etcd"], found["kube-apiserver"], found["kube-controller-manager"])


def require() -> Binaries:
    """Return all three binaries or raise a one-line error naming what is missing (no build)."""
    found, missing = find()
    if missing:
        raise BinariesError(
            f"missing control-plane binaries: {', '.join(missing)}; run `make controlplane` "
            f"(builds into {cache_dir()}) or set KUBEBUILDER_ASSETS"
        )
    return Binaries(found["etcd"], found["kube-apiserver"], found["kube-controller-manager"])


def ensure_node(log: Callable[[str], None] = print) -> dict[str, Path]:
    """The real node's kubelet and kube-scheduler, built into the cache when missing."""
    missing = [name for name in NODE_PACKAGES if locate(name) is None]
    if missing:
        build(missing, log)
    found = {name: locate(name) for name in NODE_PACKAGES}
    absent = [name for name, path in found.items() if path is None]
    if absent:
        raise BinariesError(f"built but still not found: {', '.join(absent)}")
    return {name: path for name, path in found.items() if path is not None}

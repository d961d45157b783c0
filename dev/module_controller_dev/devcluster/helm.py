"""Find or build the real ``helm`` that the chart's tests run.

The same way as the control-plane binaries (:mod:`.binaries`): a
``helm`` named by ``$HELM`` wins, then the cache directory of the control plane, then a build of
``helm.sh/helm/v3/cmd/helm`` from Go modules with the machine's ``go``, pinned by the small Go
module next to this file (``helmbuild/``). Nothing is written inside the repository.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from . import binaries

HELM_VERSION = "v3.22.1"
GO_PACKAGE = "helm.sh/helm/v3/cmd/helm"
HELMBUILD_DIR = Path(__file__).with_name("helmbuild")


class HelmUnavailable(RuntimeError):
    """No helm and no way to build one; the message says what is missing."""


def cached_path() -> Path:
    return binaries.cache_dir() / f"helm-{HELM_VERSION}"


def locate() -> Path | None:
    """An existing helm: ``$HELM``, else the cached build; never builds."""
    explicit = os.environ.get("HELM")
    if explicit and os.access(explicit, os.X_OK):
        return Path(explicit)
    path = cached_path()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def build(log: Callable[[str], None] = print) -> Path:
    """Build helm into the cache (atomic, safe to run concurrently); returns its path."""
    go = binaries.find_go()
    if go is None:
        raise HelmUnavailable("no helm and no `go` to build it: install Go >= 1.26, or set HELM "
                              "to a helm binary")
    dest = cached_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / ".helm-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dest.is_file():
            return dest
        with tempfile.TemporaryDirectory(prefix="mc-helmbuild-") as work:
            for name in ("go.mod", "go.sum", "tools.go"):
                shutil.copy(HELMBUILD_DIR / name, Path(work) / name)
            env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false")
            log(f"building helm {HELM_VERSION} ({GO_PACKAGE}) with {go}; the first build takes "
                "a few minutes")
            tmp = dest.parent / f".{dest.name}.partial"
            ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"
            proc = subprocess.run(
                [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp), GO_PACKAGE],
                cwd=work, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
                raise HelmUnavailable(f"`go build {GO_PACKAGE}` failed:\n{tail}")
            tmp.replace(dest)
    return dest


def ensure(log: Callable[[str], None] = print) -> Path:
    """helm, built when missing."""
    return locate() or build(log)

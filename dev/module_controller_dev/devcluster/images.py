"""``module-controller-dev images``: the node's images, built without Docker.

Three kinds of image, each one layer of host files (:mod:`.ocitar`):

* **pause**: the pod sandbox, the host's ``sleep`` and the libraries it links;
* **controller**: the Dockerfile's recipe: a virtualenv at ``/opt/venv`` with the package and
  its pinned dependencies (``config/requirements/controller.txt`` with ``--require-hashes``
  when the checkout has it, else the pins in pyproject.toml), run as uid 65532 with the
  Dockerfile's entrypoint, cmd, workdir and environment (a test compares them). The Python
  under the virtualenv is the host's, at its host path, with what ``ldd`` lists;
* **base-<generation>**: the host's JRE and the Maven-built base jar, Arklet on 1238.

Tarballs are cached under ``<cache>/images`` by a hash of their inputs; ``import_all`` loads
them into the real node's containerd (``ctr -n k8s.io images import``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import binaries, ocitar

REGISTRY = "mc.local"
PAUSE_REF = f"{REGISTRY}/pause:1"
ARKLET_PORT = 1238
SOURCE_DIR = Path(__file__).resolve().parents[3]  # the checkout: dev/module_controller_dev/devcluster
REQUIREMENTS_LOCK = Path("config/requirements/controller.txt")

# What the Dockerfile's final stage sets (tests/realnode/test_images.py reads the Dockerfile and
# compares): the image users build and the image proven on the real node must not drift apart.
CONTROLLER_UID = 65532
# The PATH of the Dockerfile's base image (python:3.11-slim), which its ``ENV PATH=...:$PATH``
# extends.
BASE_IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTROLLER_CONFIG = ocitar.ImageConfig(
    entrypoint=("module-controller",),
    cmd=("run",),
    env=(f"PATH=/opt/venv/bin:{BASE_IMAGE_PATH}",
         "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "HOME=/tmp"),
    workdir="/tmp",
    user=f"{CONTROLLER_UID}:{CONTROLLER_UID}",
    exposed_ports=("8080/tcp",),
)
BASE_DIR = "/opt/koupleless"
# JRE parts a headless base never loads (GUI, sound, sources, headers): 100 MB less to pack.
_JRE_SKIP = {"jmods", "include", "man", "docs", "demo", "src.zip", "ct.sym", "libawt_xawt.so",
             "libatk-wrapper.so", "libsplashscreen.so", "libjawt.so", "libjsound.so"}
_PY_SKIP = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages",
            "lib2to3", "pkgconfig", "include", "share", "config-3.11-x86_64-linux-gnu"}

Log = Callable[[str], None]


class ImageBuildError(RuntimeError):
    """An image cannot be built here; the message says what is missing."""


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    tarball: Path


def images_dir() -> Path:
    return binaries.cache_root() / "images"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:12]


def _tree_digest(root: Path, suffixes: tuple[str, ...] = (".py", ".j2", ".toml", ".md")) -> bytes:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes
                       and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.digest()


def _elf_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
            and (p.suffix == ".so" or ".so." in p.name or os.access(p, os.X_OK))]


def _add_libraries(layer: ocitar.Layer, elves: list[Path]) -> None:
    for lib in ocitar.ldd_libraries(elves):
        if lib.exists():
            layer.file(lib, str(lib))


def _base_dirs(layer: ocitar.Layer) -> None:
    for d in ("/etc", "/proc", "/sys", "/dev", "/run", "/var/tmp"):
        layer.dir(d)
    layer.dir("/tmp", 0o1777)
    layer.bytes("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
                b"nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n")
    layer.bytes("/etc/group", b"root:x:0:\nnonroot:x:65532:\n")


# ------------------------------------------------------------------------------- pause

def build_pause(log: Log) -> BuiltImage:
    sleep = Path(shutil.which("sleep") or "/bin/sleep").resolve()
    out = images_dir() / f"pause-{_digest(sleep.read_bytes())}.tar"
    if not out.exists():
        layer = ocitar.Layer()
        _base_dirs(layer)
        layer.file(sleep, "/pause")
        _add_libraries(layer, [sleep])
        ocitar.write(out, PAUSE_REF, layer, ocitar.ImageConfig(entrypoint=("/pause", "infinity")))
        log(f"built {PAUSE_REF}: {out}")
    return BuiltImage(PAUSE_REF, out)


# ------------------------------------------------------------------------------- controller

def _pip_install_argv(pip: str, src: Path) -> list[list[str]]:
    """The Dockerfile's ``pip install .``: from the hash-locked requirements when they exist."""
    lock = src / REQUIREMENTS_LOCK
    if lock.is_file():
        return [[pip, "install", "--require-hashes", "-r", str(lock)],
                [pip, "install", "--no-deps", str(src)]]
    return [[pip, "install", str(src)]]


def build_controller(log: Log, tag: str | None = None, source_dir: Path = SOURCE_DIR
                     ) -> BuiltImage:
    lock = source_dir / REQUIREMENTS_LOCK
    digest = _digest(_tree_digest(source_dir / "module_controller"),
                     (source_dir / "pyproject.toml").read_bytes(),
                     lock.read_bytes() if lock.is_file() else b"",
                     sys.version.encode())
    ref = f"{REGISTRY}/module-controller:{tag or digest}"
    out = images_dir() / f"controller-{digest}.tar"
    if out.exists():
        return BuiltImage(ref, out) if tag is None else _retag(out, ref, log)
    python_home = Path(sys.base_prefix)
    with tempfile.TemporaryDirectory(prefix="mc-image-") as tmp:
        stage = Path(tmp) / "opt" / "venv"
        src = Path(tmp) / "src"
        src.mkdir()
        # What the Dockerfile COPYs, and nothing else (no .venv, no build/ in the checkout).
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(source_dir / name, src / name)
        shutil.copytree(source_dir / "module_controller", src / "module_controller",
                        ignore=shutil.ignore_patterns("__pycache__"))
        if lock.is_file():
            (src / REQUIREMENTS_LOCK).parent.mkdir(parents=True)
            shutil.copy(lock, src / REQUIREMENTS_LOCK)
        python = str(python_home / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
        _run([python, "-m", "venv", str(stage)], "create the virtualenv")
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
        for argv in _pip_install_argv(str(stage / "bin" / "pip"), src):
            _run(argv, "install the package", env=env)
        _check_product_only(stage)
        _relocate(stage, "/opt/venv")
        layer = ocitar.Layer()
        _base_dirs(layer)
        layer.tree(stage, "/opt/venv")
        layer.tree(python_home, str(python_home), skip=lambda p: p.name in _PY_SKIP)
        _add_libraries(layer, _elf_files(python_home / "bin") + _elf_files(python_home / "lib")
                       + _elf_files(stage))
        log(f"packing {ref} ...")
        ocitar.write(out, ref, layer, CONTROLLER_CONFIG)
    log(f"built {ref}: {out}")
    return BuiltImage(ref, out) if tag is None else _retag(out, ref, log)


# Installed by the development tools only (dev/pyproject.toml), never by the controller image.
DEV_ONLY = ("module_controller_dev", "cryptography", "uv")


def _check_product_only(venv: Path) -> None:
    """The controller image holds the product: no development tool, no dev-only dependency."""
    found = sorted(p.name for p in venv.glob("lib/python*/site-packages/*")
                   if p.name.split("-")[0] in DEV_ONLY)
    if found:
        raise ImageBuildError(f"the controller image would hold development packages: {found}")


def _retag(out: Path, ref: str, log: Log) -> BuiltImage:
    """The same image under another name (e.g. a new tag for a rolling update)."""
    tagged = out.with_name(f"{out.stem}-{ref.rpartition(':')[2]}.tar")
    if not tagged.exists():
        import tarfile

        partial = tagged.with_name(f".{tagged.name}.partial")
        with tarfile.open(out) as src, tarfile.open(partial, "w") as dst:
            for member in src.getmembers():
                data = src.extractfile(member)
                if member.name == "index.json" and data is not None:
                    index = json.loads(data.read())
                    index["manifests"][0]["annotations"]["io.containerd.image.name"] = ref
                    ocitar.tar_bytes(dst, "index.json", json.dumps(index).encode())
                else:
                    dst.addfile(member, data)
        partial.replace(tagged)
        log(f"tagged {ref}: {tagged}")
    return BuiltImage(ref, tagged)


def _relocate(venv: Path, target: str) -> None:
    """Scripts of a virtualenv built at ``venv`` name their interpreter by path: rewrite it."""
    old = f"#!{venv}/bin/python".encode()
    for script in (venv / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if data.startswith(old):
            script.write_bytes(f"#!{target}/bin/python".encode() + data[len(old):])
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace(str(venv), target))


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ImageBuildError(f"could not {what} (`{' '.join(argv)}`):\n{tail}")


# ------------------------------------------------------------------------------- bases

def java_home() -> Path:
    from ..realbase.build import find_java

    return Path(find_java()).resolve().parents[1]


def base_entrypoint(generation: str, jre: Path) -> tuple[str, ...]:
    from ..realbase.jvm import java_argv

    return tuple(java_argv(str(jre / "bin" / "java"), Path(BASE_DIR) / "base.jar", generation,
                           ARKLET_PORT, Path("/tmp")))


#: The base containers' readiness probe: Arklet's ``health`` by POST, as the controller asks it.
PROBE_COMMAND = ("/usr/bin/curl", "-sf", "-m", "2", "-X", "POST", "-H",
                 "Content-Type: application/json", "-d", "{}",
                 f"http://127.0.0.1:{ARKLET_PORT}/health")


def build_base(generation: str, log: Log) -> BuiltImage:
    from ..realbase.build import require

    jar = require().base(generation)
    jre = java_home()
    digest = _digest(jar.read_bytes(), str(jre).encode(), (jre / "release").read_bytes(),
                     json.dumps(base_entrypoint(generation, jre)).encode(), b"curl")
    ref = f"{REGISTRY}/koupleless-base-{generation}:{digest}"
    out = images_dir() / f"base-{generation}-{digest}.tar"
    if out.exists():
        return BuiltImage(ref, out)
    layer = ocitar.Layer()
    _base_dirs(layer)
    layer.dir("/tmp/tmp", 0o1777)
    layer.tree(jre, str(jre), dereference=True, skip=lambda p: p.name in _JRE_SKIP)
    _add_libraries(layer, _elf_files(jre / "bin") + _elf_files(jre / "lib"))
    layer.file(jar, f"{BASE_DIR}/base.jar")
    # Arklet answers only POST (a GET gets HTTP 500), and a kubelet's httpGet probe cannot POST:
    # the readiness probe runs curl in the container (PROBE_COMMAND).
    curl = Path(shutil.which("curl") or "/usr/bin/curl")
    layer.file(curl, "/usr/bin/curl")
    _add_libraries(layer, [curl.resolve()])
    log(f"packing {ref} ...")
    ocitar.write(out, ref, layer, ocitar.ImageConfig(
        entrypoint=base_entrypoint(generation, jre), workdir="/tmp",
        exposed_ports=(f"{ARKLET_PORT}/tcp",)))
    log(f"built {ref}: {out}")
    return BuiltImage(ref, out)


# ------------------------------------------------------------------------------- all

def build_all(log: Log, generations: tuple[str, ...] = ("2025", "2023"),
              controller_tag: str | None = None) -> dict[str, BuiltImage | dict[str, BuiltImage]]:
    images_dir().mkdir(parents=True, exist_ok=True)
    return {
        "pause": build_pause(log),
        "controller": build_controller(log, controller_tag),
        "bases": {g: build_base(g, log) for g in generations},
    }


def ctr_import(socket: Path, image: BuiltImage, log: Log) -> None:
    ctr = shutil.which("ctr")
    if ctr is None:
        raise ImageBuildError("no `ctr` on PATH: install Debian's containerd")
    proc = subprocess.run([ctr, "--address", str(socket), "-n", "k8s.io", "images", "import",
                           str(image.tarball)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise ImageBuildError(f"ctr import of {image.ref} failed: {proc.stderr.strip()[-500:]}")
    log(f"imported {image.ref}")

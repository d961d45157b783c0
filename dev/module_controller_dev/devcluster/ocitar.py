"""Write a one-layer OCI image as an image-layout tarball, without Docker.

The tarball holds ``oci-layout``, ``index.json`` and ``blobs/sha256/...`` (layer, config,
manifest) and carries the ``io.containerd.image.name`` annotation, so ``ctr -n k8s.io images
import`` names the image by itself. The layer is a root filesystem assembled from host files:
:class:`Layer` collects what goes where, :func:`write` streams it through gzip once, hashing the
raw tar (the config's ``diff_id``) and the compressed blob (the manifest's digest) on the way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class Layer:
    """Files of a root filesystem: image path -> where its bytes come from.

    Parent directories are added on their own (0755, root-owned); everything is owned by root
    unless ``owner`` says otherwise, because the image runs as whoever its config names.
    """

    # kind -> its value: "dir" a mode, "symlink" its target, "file" the host path, "bytes"
    # (content, mode).
    entries: dict[str, tuple[str, int | str | tuple[bytes, int]]] = field(default_factory=dict)

    def dir(self, path: str, mode: int = 0o755) -> None:
        self._parents(path)
        self.entries.setdefault(_norm(path), ("dir", mode))

    def bytes(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._parents(path)
        self.entries[_norm(path)] = ("bytes", (data, mode))

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.entries[_norm(path)] = ("symlink", target)

    def file(self, src: Path, path: str | None = None) -> None:
        """One host file (symlinks followed) at ``path`` (default: the same path)."""
        self._parents(path or str(src))
        self.entries[_norm(path or str(src))] = ("file", str(Path(src).resolve()))

    def tree(self, src: Path, path: str | None = None, *, dereference: bool = False,
             skip: Callable[[Path], bool] = lambda p: False) -> None:
        """A host directory tree at ``path``; symlinks kept unless ``dereference``."""
        src = Path(src)
        dest = _norm(path or str(src))
        self.dir(dest)
        for root, dirs, files in os.walk(src, followlinks=dereference):
            rootp = Path(root)
            for name in list(dirs):
                full = rootp / name
                if skip(full):
                    dirs.remove(name)
                    continue
                target = _norm(f"{dest}/{full.relative_to(src)}")
                if full.is_symlink() and not dereference:
                    self.entries[target] = ("symlink", os.readlink(full))
                    dirs.remove(name)
                else:
                    self.entries.setdefault(target, ("dir", 0o755))
            for name in files:
                full = rootp / name
                if skip(full):
                    continue
                target = _norm(f"{dest}/{full.relative_to(src)}")
                if full.is_symlink() and not dereference:
                    self.entries[target] = ("symlink", os.readlink(full))
                elif full.exists() and stat.S_ISREG(full.stat().st_mode):
                    self.entries[target] = ("file", str(full.resolve()))

    def _parents(self, path: str) -> None:
        for parent in reversed(PurePosixPath(_norm(path)).parents):
            if str(parent) not in ("/", "."):
                self.entries.setdefault(str(parent), ("dir", 0o755))

    def write_tar(self, out: io.RawIOBase | io.BufferedIOBase) -> None:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, value = self.entries[path]
                info = tarfile.TarInfo(path.lstrip("/"))
                info.uid = info.gid = 0
                info.mtime = 0
                if kind == "dir" and isinstance(value, int):
                    info.type, info.mode = tarfile.DIRTYPE, value
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname, info.mode = tarfile.SYMTYPE, str(value), 0o777
                    tar.addfile(info)
                elif kind == "bytes" and isinstance(value, tuple):
                    data, mode = value
                    info.size, info.mode = len(data), mode
                    tar.addfile(info, io.BytesIO(data))
                else:
                    st = os.stat(str(value))
                    info.size, info.mode = st.st_size, stat.S_IMODE(st.st_mode)
                    # Kept: a .pyc is valid only while its source has the mtime it recorded; with
                    # flattened times every import compiles again, on a read-only root at each
                    # start (40 s for the controller on a busy machine: its startup probe failed).
                    info.mtime = int(st.st_mtime)
                    with open(str(value), "rb") as f:
                        tar.addfile(info, f)


def _norm(path: str) -> str:
    return "/" + str(PurePosixPath("/", path)).strip("/")


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what passes to ``inner``."""

    def __init__(self, inner: io.BufferedIOBase | io.RawIOBase | gzip.GzipFile) -> None:
        self.inner, self.sha, self.size = inner, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # a buffer of bytes
        chunk = bytes(data)
        self.sha.update(chunk)
        self.size += len(chunk)
        self.inner.write(chunk)
        return len(chunk)


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config: what the Dockerfile's instructions set."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = "/"
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    def as_oci(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Entrypoint": list(self.entrypoint), "Cmd": list(self.cmd),
                        "Env": list(self.env), "WorkingDir": self.workdir}
        if self.user:
            config["User"] = self.user
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


def _blob(tar: tarfile.TarFile, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write(out: Path, ref: str, layer: Layer, config: ImageConfig,
          compresslevel: int = 1) -> str:
    """Write the image ``ref`` to ``out`` (atomically); returns the manifest digest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".oci-") as tmp:
        layer_path = Path(tmp) / "layer.tar.gz"
        with open(layer_path, "wb") as raw:
            compressed = _Hashing(raw)
            with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=compresslevel,
                               mtime=0) as gz:
                uncompressed = _Hashing(gz)
                layer.write_tar(io.BufferedWriter(uncompressed, 1 << 20))
        image_config = {
            "architecture": "amd64", "os": "linux", "config": config.as_oci(),
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{uncompressed.sha.hexdigest()}"]},
            "history": [{"created_by": "module_controller_dev.devcluster.images"}],
        }
        config_bytes = json.dumps(image_config, sort_keys=True).encode()
        partial = out.with_name(f".{out.name}.partial")
        with tarfile.open(partial, "w") as tar:
            tar_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            config_desc = _blob(tar, config_bytes)
            layer_digest = compressed.sha.hexdigest()
            tar.add(layer_path, arcname=f"blobs/sha256/{layer_digest}")
            manifest = {
                "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, **config_desc},
                "layers": [{"mediaType": MEDIA_LAYER, "digest": f"sha256:{layer_digest}",
                            "size": compressed.size}],
            }
            manifest_desc = _blob(tar, json.dumps(manifest, sort_keys=True).encode())
            index = {"schemaVersion": 2, "manifests": [{
                "mediaType": MEDIA_MANIFEST, **manifest_desc,
                "annotations": {"io.containerd.image.name": ref,
                                "org.opencontainers.image.ref.name": ref.rpartition(":")[2]},
            }]}
            tar_bytes(tar, "index.json", json.dumps(index).encode())
        partial.replace(out)
    return str(manifest_desc["digest"])


def tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def read_config(path: Path) -> dict[str, Any]:
    """The image config inside an image-layout tarball written by :func:`write`."""
    with tarfile.open(path) as tar:
        index = json.loads(_member(tar, "index.json"))
        digest = index["manifests"][0]["digest"].split(":", 1)[1]
        manifest = json.loads(_member(tar, f"blobs/sha256/{digest}"))
        config_digest = manifest["config"]["digest"].split(":", 1)[1]
        config: dict[str, Any] = json.loads(_member(tar, f"blobs/sha256/{config_digest}"))
        return config


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    if f is None:
        raise ValueError(f"{name} is not a file in the image tarball")
    return f.read()


def ldd_libraries(binaries: Iterable[Path]) -> set[Path]:
    """Shared libraries (and the loader) that ``ldd`` lists for ELF files among ``binaries``."""
    import subprocess

    libs: set[Path] = set()
    for binary in binaries:
        try:
            with open(binary, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            parts = line.split()
            for token in parts:
                if token.startswith("/"):
                    libs.add(Path(token))
                    break
    return libs

"""Tiny ark-biz jars, generated from their file name: pure functions, no I/O.

A file name ``<artifact>-<version>-ark-biz.jar`` names a biz. The biz name is the artifact,
except that an artifact ``dynamic-<x>`` names biz ``<x>``: the koupleless sample
``dynamic-provider-1.0.2-ark-biz.jar`` is biz ``provider`` 1.0.2 (its Maven artifactId carries a
``dynamic-`` prefix that its ``Ark-Biz-Name`` does not). The version is the last ``-``-separated
part that starts with dotted digits, qualifiers included (``1.0.0-SNAPSHOT``), so an artifact may
itself contain dashes and digits (``my-module-2-1.0.0-ark-biz.jar`` is ``my-module-2`` 1.0.0).

A generated jar is a valid zip holding ``META-INF/MANIFEST.MF`` with ``Ark-Biz-Name`` and
``Ark-Biz-Version`` (what a real base reads to decide the biz identity) and a few more attributes
the sofa-ark Maven plugin writes. Building one is deterministic (fixed timestamps), so the same
name always gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

SUFFIX = "-ark-biz.jar"
DYNAMIC_PREFIX = "dynamic-"

_STEM = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d+(?:\.\d+)+(?:[-.][0-9A-Za-z]+)*)$")
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class BizJarName:
    """What a generated jar's file name says: Maven artifact, biz name and version."""

    artifact: str
    biz_name: str
    version: str


def parse_jar_name(filename: str) -> BizJarName | None:
    """``provider-1.0.2-ark-biz.jar`` → artifact/biz ``provider``, version ``1.0.2``; else None."""
    if not filename.endswith(SUFFIX) or "/" in filename:
        return None
    match = _STEM.match(filename[: -len(SUFFIX)])
    if match is None:
        return None
    artifact, version = match.group("artifact"), match.group("version")
    return BizJarName(artifact, biz_name_of(artifact), version)


def biz_name_of(artifact: str) -> str:
    """The biz name for a Maven artifact: ``dynamic-<x>`` → ``<x>``, anything else unchanged."""
    if artifact.startswith(DYNAMIC_PREFIX) and len(artifact) > len(DYNAMIC_PREFIX):
        return artifact[len(DYNAMIC_PREFIX):]
    return artifact


def main_class_of(biz_name: str) -> str:
    """A plausible main class for a generated biz: ``fakebiz.<name>.BizApplication``."""
    package = re.sub(r"[^0-9A-Za-z_]", "_", biz_name)
    if package[:1].isdigit():
        package = "_" + package
    return f"fakebiz.{package}.BizApplication"


def manifest_text(biz_name: str, version: str) -> str:
    """The ``META-INF/MANIFEST.MF`` of a generated biz jar (CRLF line ends, trailing blank line)."""
    lines = [
        "Manifest-Version: 1.0",
        f"Ark-Biz-Name: {biz_name}",
        f"Ark-Biz-Version: {version}",
        f"Main-Class: {main_class_of(biz_name)}",
        f"Start-Class: {main_class_of(biz_name)}",
        "Priority: 100",
        f"web-context-path: {biz_name}",
        "Created-By: module-controller modulerepo",
    ]
    return "\r\n".join(lines) + "\r\n\r\n"


def build_biz_jar(biz_name: str, version: str) -> bytes:
    """A minimal ark-biz jar (a few hundred bytes) for ``biz_name`` ``version``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as jar:
        for name, data in (
            ("META-INF/MANIFEST.MF", manifest_text(biz_name, version)),
            ("com/alipay/sofa/ark/biz/mark", ""),
            ("lib/", ""),
        ):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            jar.writestr(info, data)
    return buffer.getvalue()

"""Reading an ark-biz jar's manifest, as the real base does: pure, bytes in, identity out.

A real base takes the biz identity from ``META-INF/MANIFEST.MF`` (``Ark-Biz-Name``,
``Ark-Biz-Version``), never from the request. Errors are raised as :class:`JarError` whose text
is what the JVM reports (``java.util.zip.ZipException: zip END header not found`` for bytes that
are no zip at all, as the real bases answered for an HTML page).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

MANIFEST = "META-INF/MANIFEST.MF"


class JarError(Exception):
    """The bytes are not a usable ark-biz jar; ``str(exc)`` is the Java exception text."""


@dataclass(frozen=True)
class BizManifest:
    name: str
    version: str
    main_class: str
    web_context_path: str
    priority: int


def parse_manifest(text: str) -> dict[str, str]:
    """Main-section attributes of a manifest (72-byte continuation lines joined)."""
    attributes: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if attributes:
                break  # end of the main section
            continue
        if line.startswith(" ") and last is not None:
            attributes[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        attributes[last] = value[1:] if value.startswith(" ") else value
    return attributes


def read_biz_manifest(data: bytes) -> BizManifest:
    """The biz identity and a few attributes from jar bytes; raises :class:`JarError`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as jar:
            try:
                raw = jar.read(MANIFEST)
            except KeyError:
                raise JarError("com.alipay.sofa.ark.exception.ArkRuntimeException: "
                               "Manifest not found in biz file") from None
    except zipfile.BadZipFile:
        raise JarError("java.util.zip.ZipException: zip END header not found") from None
    except (OSError, RuntimeError, NotImplementedError) as exc:
        raise JarError(f"java.util.zip.ZipException: {exc}") from None
    attrs = parse_manifest(raw.decode("utf-8", errors="replace"))
    name = attrs.get("Ark-Biz-Name", "").strip()
    version = attrs.get("Ark-Biz-Version", "").strip()
    if not name or not version:
        raise JarError("com.alipay.sofa.ark.exception.ArkRuntimeException: "
                       "Ark-Biz-Name or Ark-Biz-Version missing in the biz manifest")
    try:
        priority = int(attrs.get("Priority", "100"))
    except ValueError:
        priority = 100
    main_class = attrs.get("Main-Class") or attrs.get("Start-Class") or ""
    return BizManifest(name, version, main_class.strip(),
                       (attrs.get("web-context-path") or name).strip(), priority)

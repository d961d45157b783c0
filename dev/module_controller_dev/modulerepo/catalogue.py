"""What the module repository serves for a path: pure lookup rules plus reading files.

For a request path (the path of an origin-form request, or of an absolute-form one when the
repository acts as an HTTP proxy), in this order:

1. ``/not-a-jar/...`` → ``200 text/plain`` (a body that is no zip; a base answers
   ``java.util.zip.ZipException``);
2. ``/<mount>/<file>`` where ``<mount>`` is the last component of one of the served directories
   and ``<file>`` exists below it → that file;
3. any path whose last component is a file directly in one of the served directories → that
   file (directories are searched in the order given; the first hit wins);
4. a last component ``<artifact>-<version>-ark-biz.jar`` → a generated tiny ark-biz jar (see
   :mod:`.jars`), cached per biz so thousands of installs cost nothing;
5. ``/biz/<name>/<version>/<file>.jar`` (percent-encoded segments) → a generated jar of exactly
   that biz, for names and versions no file name can carry (``a.b``, ``v2``, ``模块``);
6. anything else → ``404``.

So ``/provider-1.0.2-ark-biz.jar``, ``/x/provider-1.0.2-ark-biz.jar`` and
``/module-packages/stable/dynamic-provider-1.0.2-ark-biz.jar`` all work; a Maven-built jar in a
served directory wins over a generated one of the same name. Directories may be glob patterns
(``~/.cache/module-controller/realbase-*/modules-2025``); they are expanded on every lookup, so a
directory created after the repository started is found.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from . import jars

NOT_A_JAR_PREFIX = "/not-a-jar/"
NOT_A_JAR_BODY = b"this is not a jar: the module repository serves text under /not-a-jar/\n"
JAR_TYPE = "application/java-archive"


@dataclass(frozen=True)
class Found:
    """An answer: ``body`` bytes (or a ``file`` to stream) and its content type and origin."""

    content_type: str
    origin: str  # "file", "generated" or "not-a-jar"
    body: bytes = b""
    file: Path | None = None


class Catalogue:
    def __init__(self, dirs: Sequence[str | Path] = ()) -> None:
        self.patterns = [str(Path(d).expanduser()) for d in dirs]
        self._generated: dict[tuple[str, str], bytes] = {}

    def dirs(self) -> list[Path]:
        """The served directories that exist now, patterns expanded, in the order given."""
        found: list[Path] = []
        for pattern in self.patterns:
            matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            found.extend(Path(m) for m in matches if Path(m).is_dir())
        return found

    def lookup(self, path: str) -> Found | None:
        if path.startswith(NOT_A_JAR_PREFIX):
            return Found("text/plain; charset=utf-8", "not-a-jar", body=NOT_A_JAR_BODY)
        parts = [p for p in PurePosixPath(path).parts if p not in ("/", "")]
        if not parts or any(p in (".", "..") for p in parts):
            return None
        found = self._from_dirs(parts)
        if found is not None:
            return found
        name = jars.parse_jar_name(parts[-1])
        if name is not None:
            return Found(JAR_TYPE, "generated", body=self.generated(name.biz_name, name.version))
        if len(parts) >= 4 and parts[0] == "biz" and parts[-1].endswith(".jar"):
            return Found(JAR_TYPE, "generated", body=self.generated(parts[1], parts[2]))
        return None

    def generated(self, biz_name: str, version: str) -> bytes:
        key = (biz_name, version)
        data = self._generated.get(key)
        if data is None:
            data = self._generated[key] = jars.build_biz_jar(biz_name, version)
        return data

    def _from_dirs(self, parts: list[str]) -> Found | None:
        if not self.patterns:
            return None
        dirs = self.dirs()
        if len(parts) > 1:
            for directory in dirs:
                if directory.name == parts[0]:
                    candidate = directory.joinpath(*parts[1:])
                    if candidate.is_file():
                        return Found(JAR_TYPE, "file", file=candidate)
        for directory in dirs:
            candidate = directory / parts[-1]
            if candidate.is_file():
                return Found(JAR_TYPE, "file", file=candidate)
        return None

"""Find or build the real koupleless base and module jars.

The Maven projects next to this file (``maven/``) are the source; the jars live in a cache outside
the repository, in a directory named after a hash of those sources, so an edit to a POM builds
anew and an unchanged tree is found in milliseconds. Builds run in a temporary copy of the Maven
projects: no ``target/`` directory ever appears in the work tree.

Layout of the cache directory (``jar_dir()``)::

    base-2025.jar
    base-2023.jar
    modules-2025/dynamic-provider-1.0.2-ark-biz.jar   (and -2.0.0-)
    modules-2023/dynamic-provider-1.0.2-ark-biz.jar   (and -2.0.0-)

``KOUPLELESS_JARS`` names a directory with that layout to use instead (nothing is built there).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..devcluster.binaries import cache_root

MAVEN_DIR = Path(__file__).with_name("maven")
GENERATIONS: tuple[str, ...] = ("2025", "2023")
MODULE_NAME = "provider"
MODULE_VERSIONS: tuple[str, ...] = ("1.0.2", "2.0.0")
ENV_OVERRIDE = "KOUPLELESS_JARS"


class RealBaseUnavailable(RuntimeError):
    """Real bases cannot be had here (no Java, no Maven, a failed build); the message says why."""


@dataclass(frozen=True)
class Jars:
    """Where the jars of one cache directory are."""

    dir: Path

    def base(self, generation: str) -> Path:
        _check_generation(generation)
        return self.dir / f"base-{generation}.jar"

    def module(self, generation: str, version: str, name: str = MODULE_NAME) -> Path:
        _check_generation(generation)
        return self.dir / f"modules-{generation}" / module_file_name(version, name)

    def all(self) -> list[Path]:
        paths = [self.base(g) for g in GENERATIONS]
        paths += [self.module(g, v) for g in GENERATIONS for v in MODULE_VERSIONS]
        return paths

    def missing(self) -> list[Path]:
        return [p for p in self.all() if not (p.is_file() and p.stat().st_size > 0)]


def _check_generation(generation: str) -> None:
    if generation not in GENERATIONS:
        raise ValueError(f"unknown base generation {generation!r}; known: {', '.join(GENERATIONS)}")


def module_file_name(version: str, name: str = MODULE_NAME) -> str:
    """The name module jars have in the cache and in the module repository."""
    return f"dynamic-{name}-{version}-ark-biz.jar"


def sources_hash(root: Path = MAVEN_DIR) -> str:
    """A short hash over the relative paths and contents of the Maven sources.

    Build output (``target/``) is left out, so a stray local build does not change the name.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if "target" in rel.parts:
            continue
        digest.update(str(rel.as_posix()).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def cache_dir(root: Path = MAVEN_DIR) -> Path:
    """``<cache root>/realbase-<hash of maven/>`` (cache root: see ``devcluster.binaries``)."""
    return cache_root() / f"realbase-{sources_hash(root)}"


def jar_dir() -> Path:
    """The directory the jars are (or would be) in: ``$KOUPLELESS_JARS`` or the cache."""
    explicit = os.environ.get(ENV_OVERRIDE)
    return Path(explicit) if explicit else cache_dir()


def find() -> Jars | None:
    """The jars if every one is present, else None. Never builds."""
    jars = Jars(jar_dir())
    return None if jars.missing() else jars


def find_java() -> str:
    """``java`` on PATH (or under ``$JAVA_HOME/bin``), else a one-line RealBaseUnavailable."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise RealBaseUnavailable(
            "no `java` on PATH: real bases need a Java 17+ runtime "
            "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
        )
    return found


def find_mvn() -> str:
    """``mvn`` on PATH, else a one-line RealBaseUnavailable."""
    found = shutil.which("mvn")
    if found is None:
        raise RealBaseUnavailable(
            "no `mvn` on PATH: building the real base jars needs Maven 3.6+ "
            "(Debian/Ubuntu: apt-get install maven), or set KOUPLELESS_JARS to a directory "
            "that holds them"
        )
    return found


def require() -> Jars:
    """The jars, or a one-line RealBaseUnavailable saying how to get them (no build)."""
    jars = Jars(jar_dir())
    missing = jars.missing()
    if missing:
        raise RealBaseUnavailable(
            f"real base jars missing in {jars.dir} ({len(missing)} of {len(jars.all())}, e.g. "
            f"{missing[0].name}): run `make jars`"
        )
    return jars


def maven_argv(mvn: str, *, projects: list[str], module_version: str, goals: list[str]) -> list[str]:
    """The Maven command line of one build pass (pure, for tests).

    Batch mode, quiet (errors stay readable), no tests or docs; ``-Dmodule.version`` sets the
    module version (see the module POMs for why it is not ``revision``).
    """
    return [
        mvn, "-B", "-ntp", "-q",
        "-DskipTests", "-Dmaven.javadoc.skip=true", "-Dmaven.source.skip=true",
        f"-Dmodule.version={module_version}",
        "-pl", ",".join(projects),
        *goals,
    ]


# Maven's own JVM: C1 only and serial GC make a short build ~40% faster on two cores
# (27 s -> 17 s warm). Put before the caller's MAVEN_OPTS, which therefore win.
MAVEN_JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def maven_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env["MAVEN_OPTS"] = f"{MAVEN_JVM_FLAGS} {env.get('MAVEN_OPTS', '')}".strip()
    return env


def _run_maven(argv: list[str], cwd: Path, log: Callable[[str], None]) -> None:
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=maven_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(out[-40:])
        raise RealBaseUnavailable(f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n{tail}")
    log(f"  {' '.join(argv[1:])}: {time.monotonic() - started:.0f} s")


def build(dest: Path | None = None, log: Callable[[str], None] = print) -> Jars:
    """Build every jar into ``dest`` (default: the cache directory); safe to run concurrently.

    Two Maven passes over a temporary copy of ``maven/``: everything at module version 1.0.2,
    then the two module projects again at 2.0.0. A concurrent second caller waits on a lock and
    then finds the jars.
    """
    dest = dest or cache_dir()
    jars = Jars(dest)
    mvn = find_mvn()
    find_java()
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not jars.missing():
            return jars
        started = time.monotonic()
        log(f"building real base and module jars with {mvn} into {dest} (with an empty "
            "~/.m2 Maven first downloads ~190 MB: about 2 minutes; later builds take ~20 s)")
        with tempfile.TemporaryDirectory(prefix="mc-realbase-") as tmp:
            work = Path(tmp) / "maven"
            shutil.copytree(MAVEN_DIR, work, ignore=shutil.ignore_patterns("target"))
            passes = [
                (MODULE_VERSIONS[0],
                 [f"base-{g}" for g in GENERATIONS] + [f"module-{g}" for g in GENERATIONS]),
                *[(v, [f"module-{g}" for g in GENERATIONS]) for v in MODULE_VERSIONS[1:]],
            ]
            for version, projects in passes:
                _run_maven(maven_argv(mvn, projects=projects, module_version=version,
                                      goals=["clean", "package"]), work, log)
                for project in projects:
                    kind, generation = project.split("-")
                    if kind == "base":
                        _install(work / project / "target" / f"{project}.jar", jars.base(generation))
                    else:
                        built = work / project / "target" / f"dynamic-provider-{version}-ark-biz.jar"
                        _install(built, jars.module(generation, version))
        missing = jars.missing()
        if missing:
            raise RealBaseUnavailable(f"Maven finished but these jars are missing: {missing}")
        log(f"built {len(jars.all())} jars in {time.monotonic() - started:.0f} s: {dest}")
    return jars


def _install(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise RealBaseUnavailable(f"Maven did not produce {src.name} (looked in {src.parent})")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.partial")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def prune_stale(keep: Path, log: Callable[[str], None] = print) -> list[Path]:
    """Remove the cache's other ``realbase-*`` directories (built from older sources).

    They would only fill the disk, and a glob over ``realbase-*`` (as the module repository of
    the dev cluster takes) could pick an old build. A directory whose build lock is held is left.
    """
    removed = []
    for other in sorted(keep.parent.glob("realbase-*")):
        if other == keep or not other.is_dir():
            continue
        try:
            with open(other / ".build.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(other)
        except OSError:
            continue
        removed.append(other)
        log(f"removed stale real base jars: {other}")
    return removed


def ensure(log: Callable[[str], None] = print) -> Jars:
    """Find the jars, or build them (then drop older builds); says which, and where."""
    found = find()
    if found is not None:
        log(f"found real base jars: {found.dir}")
        return found
    if os.environ.get(ENV_OVERRIDE):
        return require()  # an explicit directory is never built into
    jars = build(log=log)
    prune_stale(jars.dir, log)
    return jars

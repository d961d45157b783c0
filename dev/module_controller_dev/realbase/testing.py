"""Test helpers for real bases: jars once per session, a JVM that is always stopped.

Real bases cost a Maven build (minutes, once per machine) and 5-45 s per JVM start, so tests
share them: call :func:`ensure_jars` from a session-scoped fixture, and start each JVM once per
session with :func:`running_base`. A missing Java or Maven, a failed build or a JVM that does not
come up fails the test with one readable message (the JVM's last log lines included) instead of
a traceback through this module.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path
from typing import Iterator

import pytest

from .build import Jars, RealBaseUnavailable, ensure
from .jvm import DEFAULT_START_TIMEOUT, BaseJvm, start


@functools.cache
def _ensure_once() -> Jars:
    return ensure(log=lambda m: print(f"[realbase] {m}", file=sys.stderr))


def ensure_jars() -> Jars:
    """Find or build the jars, once per process; a failure fails the calling test (no skip:
    CI has Java and Maven, and a silently skipped real tier would prove nothing)."""
    try:
        return _ensure_once()
    except RealBaseUnavailable as exc:
        pytest.fail(f"real bases unavailable: {exc}", pytrace=False)


@contextlib.contextmanager
def running_base(generation: str, workdir: Path, *, proxy: str | None = None,
                 timeout: float = DEFAULT_START_TIMEOUT) -> Iterator[BaseJvm]:
    """A started base JVM of ``generation`` in ``workdir``; stopped when the block ends."""
    jars = ensure_jars()
    try:
        jvm = start(jars.base(generation), generation, workdir, proxy=proxy, timeout=timeout)
    except RealBaseUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield jvm
    finally:
        jvm.stop()

"""Directories of generated files (crds/, config/deploy/): compare and write them.

The generator owns the files matching ``pattern`` in its directory: one it no longer produces
(a kind that went away) is stale and is removed, so it cannot linger in ``kubectl apply -f DIR``.
"""

from __future__ import annotations

from pathlib import Path


def stale_files(directory: Path, files: dict[str, str], pattern: str = "*.yaml") -> dict[str, str]:
    """How ``directory`` differs from ``files``: name -> missing / differs / not generated."""
    problems = {}
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            problems[name] = "missing"
        elif path.read_text() != text:
            problems[name] = "differs"
    for path in directory.glob(pattern):
        if path.name not in files:
            problems[path.name] = "not generated"
    return problems


def write_files(directory: Path, files: dict[str, str], pattern: str = "*.yaml") -> list[Path]:
    """Write ``files`` into ``directory`` (unchanged ones are left alone); remove the other
    files matching ``pattern`` there."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob(pattern):
        if path.name not in files:
            path.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written

"""Reading what kubectl prints: the tables of ``kubectl get``."""

from __future__ import annotations


def table(output: str) -> list[dict[str, str]]:
    """Parse one `kubectl get` table (columns separated by 2+ spaces) into rows of dicts."""
    lines = [line for line in output.splitlines() if line.strip()]
    header = lines[0].split()
    starts = [lines[0].index(name) for name in header]
    rows = []
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(header, cells)))
    return rows


def sections(output: str) -> list[str]:
    """Split the output of `kubectl get a,b,c` into its tables (separated by blank lines)."""
    return [block for block in output.strip().split("\n\n") if block.strip()]

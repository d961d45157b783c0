"""How long ``kubectl module`` takes to start: wall time of whole processes, median of N runs.

What it measures, for one interpreter (``--python``, default this one; point it at another
checkout's virtualenv to compare two versions):

* ``--help``: the whole process, the command line parsed and the help printed;
* ``reach status``: the process that imports what ``status`` needs before its own code runs
  (``module_controller.plugin.commands``): the start-up cost every reading command pays before
  its first API call;
* ``status NAME`` (with ``--kubeconfig`` and ``--name``): the whole command against a cluster,
  the API calls included;
* the ten largest cumulative imports of the ``status`` path (``python -X importtime``).

Usage: ``.venv/bin/python bench/plugin_startup.py [--runs 15] [--python PY] [--kubeconfig K
--namespace NS --name MD] [--out bench/results/plugin-startup.json]``. No timed test uses this:
start-up on a busy machine varies by a factor of two; the numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAIN = "module_controller.plugin.main"


def wall(argv: list[str], runs: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """Median and minimum wall seconds of ``argv`` over ``runs`` runs (after one warm-up)."""
    samples = []
    for n in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                       check=False, timeout=120)
        if n:  # the first run warms the page cache and .pyc files
            samples.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3)}


def top_imports(python: str, module: str, count: int = 10) -> list[tuple[str, float]]:
    ran = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True, timeout=120)
    rows = []
    for line in ran.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        depth = len(name) - len(name.lstrip())
        if cumulative.strip().isdigit() and depth <= 3:  # the module and what it imports itself
            rows.append((name.strip(), round(int(cumulative) / 1e6, 3)))
    return sorted(rows, key=lambda r: -r[1])[:count]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--kubeconfig")
    p.add_argument("--namespace", default="default")
    p.add_argument("--name", help="a ModuleDeployment to run `status` on")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    py = a.python
    result: dict[str, object] = {
        "python": py, "runs": a.runs, "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "interpreter": wall([py, "-c", "pass"], a.runs),
        "help": wall([py, "-m", MAIN, "--help"], a.runs),
        "reach_status": wall([py, "-c", "import module_controller.plugin.commands"], a.runs),
        "status_imports": top_imports(py, "module_controller.plugin.commands"),
    }
    if a.kubeconfig and a.name:
        result["status"] = wall([py, "-m", MAIN, "--kubeconfig", a.kubeconfig, "-n", a.namespace,
                                 "status", a.name], a.runs)
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

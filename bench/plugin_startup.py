"""How long ``kubectl module`` takes to start: wall time of whole processes, over N runs.

What it measures, for each interpreter given (``--python``, repeatable: another checkout's
virtualenv compares two versions; their runs alternate, so a change in the machine's load hits
both alike):

* ``interpreter``: ``python -c pass``, the floor;
* ``help``: ``kubectl module --help``, the whole process;
* ``reach_status``: a process that imports what ``status`` needs before its own code runs
  (``module_controller.plugin.commands``): what every reading command pays before its first
  API call;
* ``status`` (with ``--kubeconfig`` and ``--name``): the whole command against a cluster, the
  API calls included;
* the largest cumulative imports of the ``status`` path (``python -X importtime``).

Usage: ``.venv/bin/python bench/plugin_startup.py [--runs 15] [--python PY ...] [--kubeconfig K
--namespace NS --name MD] [--out bench/results/plugin-startup.json]``. Each case gives the
process's CPU time (user + system, from ``getrusage``) and its wall time, minimum and median. On
a quiet machine start-up is CPU-bound and the two agree; on a busy one the wall time waits for
a core (up to ten times the CPU time on the shared 2-core machine), so compare CPU times, or
wall minimums. No test is timed; the numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAIN = "module_controller.plugin.main"


def once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd "/": ``-m``/``-c`` put the working directory first on sys.path, which would load the
    # checkout the benchmark runs in instead of the one the interpreter has installed.
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   timeout=120, cwd="/")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def top_imports(python: str, module: str, count: int = 8) -> list[tuple[str, float]]:
    """The modules the import of ``module`` spends most in (cumulative seconds, nested ones
    included in their parents'), first levels only."""
    ran = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True, timeout=120, cwd="/")
    rows: dict[str, float] = {}
    for line in ran.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.split("|")
        depth = len(name) - len(name.lstrip())
        if cumulative.strip().isdigit() and depth <= 3:
            rows[name.strip()] = max(rows.get(name.strip(), 0.0), int(cumulative) / 1e6)
    return [(n, round(t, 3)) for n, t in sorted(rows.items(), key=lambda r: -r[1])[:count]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", action="append", help="interpreter(s) to measure")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--kubeconfig")
    p.add_argument("--namespace", default="default")
    p.add_argument("--name", help="a ModuleDeployment to run `status` on")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    pythons = [os.path.abspath(py) for py in a.python or [sys.executable]]
    cases = {"interpreter": ["-c", "pass"], "help": ["-m", MAIN, "--help"],
             "reach_status": ["-c", "import module_controller.plugin.commands"]}
    if a.kubeconfig and a.name:
        cases["status"] = ["-m", MAIN, "--kubeconfig", os.path.abspath(a.kubeconfig), "-n", a.namespace,
                           "status", a.name]
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        py: {c: [] for c in cases} for py in pythons}
    load = [os.getloadavg()[0]]
    for n in range(a.runs + 1):
        for case, argv in cases.items():
            for py in pythons:
                took = once([py, *argv])
                if n:  # the first round warms the page cache and .pyc files
                    samples[py][case].append(took)
    load.append(os.getloadavg()[0])
    result = {"runs": a.runs, "cpus": os.cpu_count(),
              "load_1m_before_after": [round(x, 2) for x in load], "pythons": {}}
    for py in pythons:
        result["pythons"][py] = {
            **{c: {"cpu_min_s": round(min(x[1] for x in v), 3),
                   "cpu_median_s": round(statistics.median(x[1] for x in v), 3),
                   "wall_min_s": round(min(x[0] for x in v), 3),
                   "wall_median_s": round(statistics.median(x[0] for x in v), 3)}
               for c, v in samples[py].items()},
            "status_imports": top_imports(py, "module_controller.plugin.commands")}
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

"""Benchmark of a whole ModuleDeployment release: N instances over B bases in groups.

For each scenario, on a fresh dev cluster with the real controller process:
* wall time from ``apply`` to progress Completed, and the physical floor (groups × install
  latency: nothing can be faster, since a group waits for its installs);
* p50/p99 from a Module's creation (first seen) to Available;
* API requests by verb and resource, from the API server's own ``apiserver_request_total``,
  and writes per placed Module;
* the controller's peak RSS and CPU seconds, and its idle CPU over a few seconds after Completed;
* Events posted per module, and Events dropped ("event queue full" in the controller's log).

The control plane's own CPU seconds over the same window (kube-apiserver and etcd, from /proc)
are reported beside the controller's: they are the other half of the bill. The machine's load
average (``/proc/loadavg``) before and after each run is recorded too, since a shared machine
stretches every figure.

``python bench/release_bench.py`` runs the default suite; ``--modules/--bases/--batch/--latency``
run one scenario; ``--profile OUT`` samples the controller with py-spy (on PATH, or
``--py-spy``) from apply to Completed into collapsed stacks. Results go to
``bench/results/release-*.json`` and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from kubernetes_asyncio import client, config

import apimetrics
from procstats import cpu_seconds, proc_stats
from follow import GROUP, VERSION, follow
from module_controller_dev.basesim import pods as simpods
from module_controller_dev.devcluster import DevCluster
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess, free_port

RESULTS = Path(__file__).with_name("results")
NS = "bench"
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "WARNING")
MD = "bench-release"

# (modules, bases, batchCount, install latency s): the scaling targets' scenarios (5 bases per
# 25 modules, 5 ModuleDeployments, 4 groups, 200 ms installs).
SUITE = [
    (1000, 200, 4, 0.2),
    (2000, 400, 4, 0.2),
    (5000, 1000, 4, 0.2),
    (10000, 2000, 4, 0.2),
]


def load_average() -> float:
    """The machine's 1-minute load average (other work on a shared machine)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def start_profiler(pid: int, out: Path | None, py_spy: str | None) -> subprocess.Popen | None:
    if out is None:
        return None
    binary = py_spy or shutil.which("py-spy")
    if binary is None:
        raise SystemExit("--profile needs py-spy (on PATH or --py-spy)")
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--format", "raw",
                             "--rate", "50", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        proc.wait(timeout=60)


def deployment(modules: int, bases: int, batch: int) -> dict:
    """One module per base at most, so N > B needs N/B module names: N/B deployments."""
    return {
        "apiVersion": "serverless.alipay.com/v1alpha1", "kind": "ModuleDeployment",
        "metadata": {"name": MD},
        "spec": {
            "baseDeploymentName": "dynamic-stock-deployment",
            "template": {"spec": {"module": {"name": "bench", "version": "1.0.0",
                                             "url": "http://repo.example/bench-1.0.0-ark-biz.jar"}}},
            "replicas": modules,
            "operationStrategy": {"batchCount": batch, "needConfirm": False},
        },
    }


async def scenario(state, modules: int, bases: int, batch: int, latency: float, log_dir: Path,
                   profile: Path | None = None, py_spy: str | None = None,
                   timeout: float = 900, drift_period: float | None = None) -> dict:
    per_md = min(modules, bases)
    deployments = -(-modules // per_md)
    api = await config.new_client_from_config(config_file=str(state.kubeconfig))
    custom = None
    async with api:
        custom = client.CustomObjectsApi(api)
        await kt.create_namespace(api, NS)
        await kt.create_base_deployment(api, NS, bases,
                                        annotations={simpods.INSTALL_LATENCY: str(latency)})
        await kt.wait_ready_pods(api, NS, "app=dynamic-stock", bases, timeout=900)
        drift = [] if drift_period is None else [f"--drift-check-period={drift_period}"]
        probe_port = free_port()
        controller = ControllerProcess(state.kubeconfig, log_dir / "controller.log",
                                       namespaces=[NS],
                                       extra_args=[f"--log-level={LOG_LEVEL}", *drift],
                                       probe_port=probe_port).start()
        watchers: list[asyncio.Task] = []
        try:
            # Measured from apply, not from process start: Python's imports are not the release.
            await asyncio.to_thread(controller.wait_ready, 120)
            before = apimetrics.scrape(state.server, state.path / "pki")
            first_seen: dict[str, float] = {}
            available: dict[str, float] = {}

            def module_seen(m: dict) -> None:
                now = time.monotonic()
                name = m["metadata"]["name"]
                first_seen.setdefault(name, now)
                if name not in available and kt.phase(m) == "Available":
                    available[name] = now

            def all_completed(mds: list[dict]) -> bool:
                return len(mds) == deployments and all(
                    kt.progress(d) == "Completed"
                    and (d.get("status") or {}).get("availableReplicas") == d["spec"]["replicas"]
                    for d in mds)

            # Modules by watch (1000 objects); the few ModuleDeployments polled every 50 ms.
            watchers = [asyncio.create_task(follow(custom, NS, "modules", module_seen))]
            # The API server serves a just-installed CRD's first write up to 2 s late (its
            # storage is still being set up); a dry run takes that outside the measurement.
            await custom.create_namespaced_custom_object(GROUP, VERSION, NS, "moduledeployments",
                                                         deployment(1, bases, batch) | {
                                                             "metadata": {"name": "warm-up"}},
                                                         dry_run="All")
            control_plane = {name: state.pids[name] for name in ("kube-apiserver", "etcd")}
            cp_before = {name: cpu_seconds(pid) for name, pid in control_plane.items()}
            calls_before = await arklet_calls(probe_port)
            ctl_before = cpu_seconds(controller.proc.pid)
            load_before = load_average()
            profiler = start_profiler(controller.proc.pid, profile, py_spy)
            start = time.monotonic()
            for i in range(deployments):
                body = deployment(per_md if i < deployments - 1 else modules - per_md * i, bases, batch)
                body["metadata"]["name"] = f"{MD}-{i}"
                module = body["spec"]["template"]["spec"]["module"]
                # The package's file name says which module it is: the controller checks it.
                module |= {"name": f"bench-{i}",
                           "url": f"http://repo.example/bench-{i}-1.0.0-ark-biz.jar"}
                await custom.create_namespaced_custom_object(GROUP, VERSION, NS,
                                                             "moduledeployments", body)
            deadline = start + timeout
            names = [f"{MD}-{i}" for i in range(deployments)]
            # GETs by name, not a LIST: a LIST is served from the API server's watch cache,
            # which here lagged the controller's write by up to 2 s.
            while not all_completed([await custom.get_namespaced_custom_object(
                    GROUP, VERSION, NS, "moduledeployments", n) for n in names]):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the release did not complete within {timeout} s")
                await asyncio.sleep(0.05)
            completed = time.monotonic() - start
            release_cpu = cpu_seconds(controller.proc.pid) - ctl_before
            cp_cpu = {name: round(cpu_seconds(pid) - cp_before[name], 2)
                      for name, pid in control_plane.items()}
            load_after = load_average()
            calls_after = await arklet_calls(probe_port)
            stop_profiler(profiler)
            after = apimetrics.scrape(state.server, state.path / "pki")
            stats = proc_stats(controller.proc.pid)
            idle_start = cpu_seconds(controller.proc.pid)
            await asyncio.sleep(5)  # measuring idle CPU: the wait is the measurement
            idle = (cpu_seconds(controller.proc.pid) - idle_start) / 5
            # Events the controller could neither post nor fold onto an owner (target 4
            # of docs/performance.md), counted in its log after the idle wait (the posters had time).
            dropped = controller.log_text().count("event queue full; dropped")
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            controller.stop()
    latencies = sorted(available[n] - first_seen[n] for n in available if n in first_seen)
    writes = apimetrics.writes(before, after)
    events = writes.get("POST events", 0)
    total = sum(writes.values())
    groups = min(batch, per_md)
    # A base runs one install at a time (Arklet serialises), so a group whose instances of all
    # deployments outnumber the bases takes several install latencies.
    per_group = -(-per_md // groups) * deployments
    rounds = -(-per_group // bases)
    return {
        "modules": modules, "bases": bases, "batch_count": batch, "install_latency_s": latency,
        "module_deployments": deployments,
        "completed_seconds": round(completed, 2) if completed is not None else None,
        "physical_floor_seconds": round(groups * rounds * latency, 2),
        "ratio_to_floor": round(completed / (groups * rounds * latency), 1),
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p99_seconds": round(latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None,
        "writes": writes,
        "writes_per_module_excluding_events": round((total - events) / modules, 2),
        "events_per_module": round(events / modules, 2),
        "events_dropped": dropped,
        "controller": {**stats, "idle_cpu_percent": round(100 * idle, 2),
                       "release_cpu_seconds": round(release_cpu, 2),
                       "cpu_ms_per_module": round(1000 * release_cpu / modules, 2)},
        "control_plane_cpu_seconds": cp_cpu,
        "apiserver_cpu_ms_per_module": round(1000 * cp_cpu["kube-apiserver"] / modules, 2),
        "load_average": {"before": load_before, "after": load_after},
        # From apply to Completed, by command: the drift check's share shows in queryAllBiz.
        "arklet_calls_per_module": {k: round((v - calls_before.get(k, 0.0)) / modules, 3)
                                    for k, v in sorted(calls_after.items())},
        "available_per_10s": per_window(start, sorted(available.values())),
        "drift_check_period": drift_period,
        "commit": _commit(),
    }


async def arklet_calls(port: int) -> dict[str, float]:
    """The controller's Arklet calls so far by command (its /metrics), all results summed."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("module_controller_arklet_calls_total{"):
            labels, _, value = line.rpartition(" ")
            command = labels.split('command="', 1)[1].split('"', 1)[0]
            calls[command] = calls.get(command, 0.0) + float(value)
    return calls


def per_window(start: float, times: list[float], window: float = 10.0) -> list[int]:
    """How many of ``times`` fall in each ``window`` seconds from ``start``: the install rate
    over the release (a drift check that stalls installs shows as a dip)."""
    counts: list[int] = []
    for t in times:
        i = int((t - start) // window)
        counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(modules: int, bases: int, batch: int, latency: float, profile: Path | None = None,
        py_spy: str | None = None, timeout: float = 900, keep: Path | None = None,
        drift_period: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        if keep is not None:  # the controller's log outlives the run (a stuck release)
            keep.mkdir(parents=True, exist_ok=True)
            tmp = str(keep)
        cluster = DevCluster(Path(tmp) / "dev", log=lambda _: None)
        state = cluster.up(bases=0, crds_dir=Path(__file__).resolve().parents[1] / "crds")
        try:
            return asyncio.run(scenario(state, modules, bases, batch, latency, Path(tmp),
                                        profile, py_spy, timeout, drift_period))
        finally:
            cluster.down()


def median_run(runs: list[dict]) -> dict:
    """The run with the median controller CPU per module, with every run's main figures."""
    ordered = sorted(runs, key=lambda r: r["controller"]["cpu_ms_per_module"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    if len(runs) > 1:
        chosen["runs"] = [{"completed_seconds": r["completed_seconds"],
                           "cpu_ms_per_module": r["controller"]["cpu_ms_per_module"],
                           "apiserver_cpu_ms_per_module": r["apiserver_cpu_ms_per_module"],
                           "peak_rss_mb": r["controller"]["peak_rss_mb"],
                           "load_average": r["load_average"]} for r in runs]
    return chosen


def _spread(result: dict, figure: str) -> str:
    """" (lowest–highest of n runs)" when the scenario ran more than once."""
    runs = result.get("runs") or []
    if len(runs) < 2:
        return ""
    values = sorted(run[figure] for run in runs)
    return f" ({values[0]}–{values[-1]}, {len(runs)} runs)"


def table(results: list[dict]) -> str:
    lines = ["| N modules | bases | batchCount | install latency | apply → Completed "
             "| physical floor | × floor "
             "| p50 / p99 create→Available | API writes per module (excl. Events) "
             "| Events per module (dropped) "
             "| controller peak RSS | CPU s | idle CPU | controller CPU ms / module "
             "| kube-apiserver CPU ms / module | load before / after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["controller"]
        lines.append(
            f"| {r['modules']} | {r['bases']} | {r['batch_count']} | {r['install_latency_s'] * 1000:.0f} ms "
            f"| {r['completed_seconds']} s | {r['physical_floor_seconds']} s | {r['ratio_to_floor']} "
            f"| {r['p50_seconds']} / {r['p99_seconds']} s | {r['writes_per_module_excluding_events']} "
            f"| {r['events_per_module']} ({r.get('events_dropped', '?')}) "
            f"| {c['peak_rss_mb']} MB | {c['cpu_seconds']} | "
            f"{c['idle_cpu_percent']} % | {c['cpu_ms_per_module']}{_spread(r, 'cpu_ms_per_module')} "
            f"| {r['apiserver_cpu_ms_per_module']}{_spread(r, 'apiserver_cpu_ms_per_module')} "
            f"| {r['load_average']['before']} / {r['load_average']['after']} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ns = [r["modules"] for r in results]
    fig, (a, b, cpu) = plt.subplots(1, 3, figsize=(14, 4))
    a.plot(ns, [r["completed_seconds"] for r in results], "o-", label="apply → Completed")
    a.plot(ns, [r["physical_floor_seconds"] for r in results], "x--", label="physical floor")
    a.set_xscale("log"), a.set_xlabel("modules"), a.set_ylabel("seconds"), a.legend()
    b.plot(ns, [r["writes_per_module_excluding_events"] for r in results], "o-")
    b.set_xscale("log"), b.set_xlabel("modules"), b.set_ylabel("API writes per module (excl. Events)")
    b.set_ylim(bottom=0)
    cpu.plot(ns, [r["controller"]["cpu_ms_per_module"] for r in results], "o-", label="controller")
    cpu.plot(ns, [r["apiserver_cpu_ms_per_module"] for r in results], "x--", label="kube-apiserver")
    cpu.set_xscale("log"), cpu.set_xlabel("modules"), cpu.set_ylabel("CPU ms per module")
    cpu.set_ylim(bottom=0), cpu.legend()
    fig.tight_layout()
    fig.savefig(path)
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int)
    parser.add_argument("--bases", type=int)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the controller")
    parser.add_argument("--py-spy", help="the py-spy binary (default: from PATH)")
    parser.add_argument("--timeout", type=float, default=900, help="give up on a release after s")
    parser.add_argument("--keep", type=Path, help="work here and keep the controller's log")
    parser.add_argument("--drift-check-period", type=float,
                        help="the controller's --drift-check-period (default: its own, 60 s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per scenario; the run with the median controller CPU is kept "
                             "and every run's figures are listed beside it (this VM's CPU "
                             "figures vary by about 15 %% from run to run)")
    parser.add_argument("--report-only", action="store_true",
                        help="no run: the suite's table and plot again from its JSON results")
    args = parser.parse_args()
    if args.report_only:
        report([json.loads(_result_path(*scenario).read_text()) for scenario in SUITE])
        return
    suite = [(args.modules, args.bases or args.modules, args.batch, args.latency)] \
        if args.modules else SUITE
    RESULTS.mkdir(exist_ok=True)
    results = []
    for modules, bases, batch, latency in suite:
        runs = []
        for _ in range(args.repeat):
            runs.append(run(modules, bases, batch, latency, args.profile, args.py_spy,
                            args.timeout, args.keep, args.drift_check_period))
            print(json.dumps(runs[-1]), flush=True)
        result = median_run(runs)
        results.append(result)
        _result_path(modules, bases, batch, latency).write_text(json.dumps(result, indent=2) + "\n")
    if args.modules:
        print(table(results))
    else:
        report(results)


def _result_path(modules: int, bases: int, batch: int, latency: float) -> Path:
    return RESULTS / f"release-{modules}x{bases}-b{batch}-{int(latency * 1000)}ms.json"


def report(results: list[dict]) -> None:
    md = table(results)
    print(md)
    (RESULTS / "release-suite.md").write_text(md + "\n")
    plot(results, RESULTS / "release-suite.png")


if __name__ == "__main__":
    main()

"""Benchmark of a whole ModuleDeployment release: N instances over B bases in groups.

For each scenario, on a fresh dev cluster with the real controller process:
* wall time from ``apply`` to progress Completed, and the physical floor (groups × install
  latency: nothing can be faster, since a group waits for its installs);
* p50/p99 from a Module's creation (first seen) to Available;
* API requests by verb and resource, from the API server's own ``apiserver_request_total``,
  and writes per placed Module;
* the controller's peak RSS and CPU seconds, and its idle CPU over a few seconds after Completed.

``python bench/release_bench.py`` runs the default suite; ``--modules/--bases/--batch/--latency``
run one scenario. Results go to ``bench/results/release-*.json`` and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes_asyncio import client, config

import apimetrics
from procstats import cpu_seconds, proc_stats
from follow import GROUP, VERSION, follow
from module_controller.basesim import pods as simpods
from module_controller.devcluster import DevCluster
from module_controller.devcluster import testing as kt
from module_controller.devcluster.controllerproc import ControllerProcess, free_port

RESULTS = Path(__file__).with_name("results")
NS = "bench"
MD = "bench-release"

# (modules, bases, batchCount, install latency s): the scenarios.
SUITE = [
    (10, 10, 2, 0.5),
    (100, 100, 4, 0.5),
    (1000, 200, 4, 0.2),
]


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


async def scenario(state, modules: int, bases: int, batch: int, latency: float, log_dir: Path) -> dict:
    per_md = min(modules, bases)
    deployments = -(-modules // per_md)
    api = await config.new_client_from_config(config_file=str(state.kubeconfig))
    custom = None
    async with api:
        custom = client.CustomObjectsApi(api)
        await kt.create_namespace(api, NS)
        await kt.create_base_deployment(api, NS, bases,
                                        annotations={simpods.INSTALL_LATENCY: str(latency)})
        await kt.wait_ready_pods(api, NS, "app=dynamic-stock", bases, timeout=300)
        controller = ControllerProcess(state.kubeconfig, log_dir / "controller.log",
                                       namespaces=[NS], extra_args=["--log-level=WARNING"],
                                       probe_port=free_port()).start()
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
            start = time.monotonic()
            for i in range(deployments):
                body = deployment(per_md if i < deployments - 1 else modules - per_md * i, bases, batch)
                body["metadata"]["name"] = f"{MD}-{i}"
                body["spec"]["template"]["spec"]["module"]["name"] = f"bench-{i}"
                await custom.create_namespaced_custom_object(GROUP, VERSION, NS,
                                                             "moduledeployments", body)
            deadline = start + 600
            names = [f"{MD}-{i}" for i in range(deployments)]
            # GETs by name, not a LIST: a LIST is served from the API server's watch cache,
            # which here lagged the controller's write by up to 2 s.
            while not all_completed([await custom.get_namespaced_custom_object(
                    GROUP, VERSION, NS, "moduledeployments", n) for n in names]):
                if time.monotonic() > deadline:
                    raise TimeoutError("the release did not complete within 600 s")
                await asyncio.sleep(0.05)
            completed = time.monotonic() - start
            after = apimetrics.scrape(state.server, state.path / "pki")
            stats = proc_stats(controller.proc.pid)
            idle_start = cpu_seconds(controller.proc.pid)
            await asyncio.sleep(5)  # measuring idle CPU: the wait is the measurement
            idle = (cpu_seconds(controller.proc.pid) - idle_start) / 5
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
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p99_seconds": round(latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None,
        "writes": writes,
        "writes_per_module_excluding_events": round((total - events) / modules, 2),
        "events_per_module": round(events / modules, 2),
        "controller": {**stats, "idle_cpu_percent": round(100 * idle, 2)},
    }


def run(modules: int, bases: int, batch: int, latency: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        cluster = DevCluster(Path(tmp) / "dev", log=lambda _: None)
        state = cluster.up(bases=0, crds_dir=Path(__file__).resolve().parents[1] / "crds")
        try:
            return asyncio.run(scenario(state, modules, bases, batch, latency, Path(tmp)))
        finally:
            cluster.down()


def table(results: list[dict]) -> str:
    lines = ["| N modules | bases | batchCount | install latency | apply → Completed | physical floor "
             "| p50 / p99 create→Available | API writes per module (excl. Events) | Events per module "
             "| controller peak RSS | CPU s | idle CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["controller"]
        lines.append(
            f"| {r['modules']} | {r['bases']} | {r['batch_count']} | {r['install_latency_s'] * 1000:.0f} ms "
            f"| {r['completed_seconds']} s | {r['physical_floor_seconds']} s "
            f"| {r['p50_seconds']} / {r['p99_seconds']} s | {r['writes_per_module_excluding_events']} "
            f"| {r['events_per_module']} | {c['peak_rss_mb']} MB | {c['cpu_seconds']} | "
            f"{c['idle_cpu_percent']} % |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ns = [r["modules"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ns, [r["completed_seconds"] for r in results], "o-", label="apply → Completed")
    a.plot(ns, [r["physical_floor_seconds"] for r in results], "x--", label="physical floor")
    a.set_xscale("log"), a.set_xlabel("modules"), a.set_ylabel("seconds"), a.legend()
    b.plot(ns, [r["writes_per_module_excluding_events"] for r in results], "o-")
    b.set_xscale("log"), b.set_xlabel("modules"), b.set_ylabel("API writes per module")
    fig.tight_layout()
    fig.savefig(path)
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int)
    parser.add_argument("--bases", type=int)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    suite = [(args.modules, args.bases or args.modules, args.batch, args.latency)] \
        if args.modules else SUITE
    RESULTS.mkdir(exist_ok=True)
    results = []
    for modules, bases, batch, latency in suite:
        result = run(modules, bases, batch, latency)
        results.append(result)
        out = RESULTS / f"release-{modules}x{bases}-b{batch}-{int(latency * 1000)}ms.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result), flush=True)
    md = table(results)
    print(md)
    if not args.modules:
        (RESULTS / "release-suite.md").write_text(md + "\n")
        plot(results, RESULTS / "release-suite.png")


if __name__ == "__main__":
    main()

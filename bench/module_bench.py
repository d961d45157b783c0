"""Benchmark of the Module controller: N Modules bound over B bases, install latency L.

Default scenario (issue "Module controller"): 200 Modules over 50 bases, 200 ms per install.
Measures, on a fresh dev cluster with the real controller process:
* wall time from the first create to the last Module Available, and p50/p99 per Module;
* API writes per Module from the API server's own ``apiserver_request_total``;
* the controller's peak RSS and CPU seconds.
Writes ``bench/results/modules-<N>x<B>.json`` and prints a Markdown table row.
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
from procstats import proc_stats
from follow import follow
from module_controller.api import constants as c
from module_controller_dev.basesim import pods as simpods
from module_controller_dev.devcluster import DevCluster
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess

RESULTS = Path(__file__).with_name("results")
NS = "bench"


async def scenario(state, modules: int, bases: int, latency: float, log_dir: Path) -> dict:
    api = await config.new_client_from_config(config_file=str(state.kubeconfig))
    async with api:
        await kt.create_namespace(api, NS)
        await kt.create_base_deployment(api, NS, bases,
                                        annotations={simpods.INSTALL_LATENCY: str(latency)})
        pods = sorted(await kt.wait_ready_pods(api, NS, "app=dynamic-stock", bases, timeout=120),
                      key=lambda p: p.metadata.name)
        controller = ControllerProcess(state.kubeconfig, log_dir / "controller.log",
                                       namespaces=[NS]).start()
        try:
            # A canary proves the controller is up before anything is counted.
            canary = pods[0]
            await kt.create_module(api, NS, kt.module_body("canary", module="canary", labels={
                c.LABEL_BASE_INSTANCE_NAME: canary.metadata.name,
                c.LABEL_BASE_INSTANCE_IP: canary.status.pod_ip}))
            await kt.wait_module_phase(api, NS, "canary", "Available", timeout=60)
            before = apimetrics.scrape(state.server, state.path / "pki")

            created: dict[str, float] = {}

            async def create(i: int) -> None:
                pod = pods[i % bases]
                name = f"m-{i}"
                await kt.create_module(api, NS, kt.module_body(
                    name, module=f"mod-{i // bases}", labels={
                        c.LABEL_BASE_INSTANCE_NAME: pod.metadata.name,
                        c.LABEL_BASE_INSTANCE_IP: pod.status.pod_ip}))
                created[name] = time.monotonic()

            available: dict[str, float] = {}
            done = asyncio.Event()

            def seen(m: dict) -> None:
                name = m["metadata"]["name"]
                if name.startswith("m-") and name not in available and kt.phase(m) == "Available":
                    available[name] = time.monotonic()
                    if len(available) == modules:
                        done.set()

            watcher = asyncio.create_task(follow(client.CustomObjectsApi(api), NS, "modules", seen))
            start = time.monotonic()
            await asyncio.gather(*(create(i) for i in range(modules)))
            try:
                await asyncio.wait_for(done.wait(), timeout=300)
            except asyncio.TimeoutError:
                pass  # reported as fewer Available than created
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            wall = max(available.values(), default=time.monotonic()) - start
            after = apimetrics.scrape(state.server, state.path / "pki")
            stats = proc_stats(controller.proc.pid)
        finally:
            controller.stop()

    latencies = sorted(available[n] - created[n] for n in available)
    writes = apimetrics.writes(before, after)
    events = writes.get("POST events", 0)
    creates = writes.get("POST modules", 0)
    total = sum(writes.values())
    return {
        "modules": modules, "bases": bases, "install_latency_s": latency,
        "available": len(available),
        "wall_seconds": round(wall, 2),
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p99_seconds": round(latencies[int(0.99 * (len(latencies) - 1))], 2) if latencies else None,
        "writes": writes,
        "writes_per_module_excluding_events": round((total - events) / modules, 2),
        "controller_writes_per_module_excluding_events": round((total - events - creates) / modules, 2),
        "events_per_module": round(events / modules, 2),
        "controller": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--bases", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        cluster = DevCluster(Path(tmp) / "dev", log=lambda _: None)
        state = cluster.up(bases=0, crds_dir=Path(__file__).resolve().parents[1] / "crds")
        try:
            result = asyncio.run(scenario(state, args.modules, args.bases, args.latency, Path(tmp)))
        finally:
            cluster.down()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"modules-{args.modules}x{args.bases}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"| {args.modules} Modules / {args.bases} bases / {args.latency * 1000:.0f} ms install "
          f"| {result['wall_seconds']} s | {result['p50_seconds']} s | {result['p99_seconds']} s "
          f"| {result['writes_per_module_excluding_events']} "
          f"| {result['events_per_module']} | {result['controller']['peak_rss_mb']} MB |")


if __name__ == "__main__":
    main()

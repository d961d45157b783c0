"""Benchmark of the dev cluster itself: start-up time and a 200-replica base Deployment.

Run with ``make bench-devcluster`` (or ``.venv/bin/python bench/devcluster_bench.py``). Writes
``bench/results/devcluster.json`` and prints a Markdown table for the README. Binaries must be
cached (``make controlplane``); the figure is about start-up, not about building.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path

import aiohttp
from kubernetes_asyncio import config

from module_controller_dev.devcluster import DevCluster
from module_controller_dev.devcluster import testing as kt

RESULTS = Path(__file__).with_name("results")


async def all_arklets_answer(ips: list[str]) -> int:
    timeout = aiohttp.ClientTimeout(total=10, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def health(ip: str) -> bool:
            async with session.post(f"http://{ip}:1238/health", json={}) as resp:
                return json.loads(await resp.text())["code"] == "SUCCESS"
        results = await asyncio.gather(*(health(ip) for ip in ips))
    return sum(results)


async def scale_bases(kubeconfig: Path, replicas: int) -> dict:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        await kt.create_namespace(api, "bench")
        start = time.monotonic()
        await kt.create_base_deployment(api, "bench", replicas)
        pods = await kt.wait_ready_pods(api, "bench", "app=dynamic-stock", replicas, timeout=300)
        ready = time.monotonic() - start
        ips = [p.status.pod_ip for p in pods]
        answering = await all_arklets_answer(ips)
        total = time.monotonic() - start
    return {"replicas": replicas, "seconds_to_ready": round(ready, 2),
            "seconds_to_arklets_answering": round(total, 2), "arklets_answering": answering,
            "distinct_ips": len(set(ips))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="dev up/down rounds to time")
    args = parser.parse_args()

    up_times = []
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        cluster = DevCluster(Path(tmp) / "dev", log=lambda _: None)
        for _ in range(args.rounds):
            start = time.monotonic()
            state = cluster.up(bases=0)
            up_times.append(round(time.monotonic() - start, 2))
            cluster.down()
        state = cluster.up(bases=0)
        try:
            scale = asyncio.run(scale_bases(state.kubeconfig, args.replicas))
        finally:
            cluster.down()

    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "dev_up_seconds": up_times,
        "base_deployment": scale,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "devcluster.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| measure | target | measured |")
    print("|---|---|---|")
    print(f"| `dev up` to a ready API (cached binaries), {args.rounds} runs | ≤ 20 s | "
          f"{', '.join(f'{t:.1f} s' for t in up_times)} |")
    print(f"| base Deployment of {scale['replicas']} replicas: all pods Ready | ≤ 60 s | "
          f"{scale['seconds_to_ready']:.1f} s |")
    print(f"| … and all {scale['arklets_answering']} fake Arklets answering `health` | ≤ 60 s | "
          f"{scale['seconds_to_arklets_answering']:.1f} s |")


if __name__ == "__main__":
    main()

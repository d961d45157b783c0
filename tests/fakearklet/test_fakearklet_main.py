"""The standalone ``python -m module_controller_dev.fakearklet`` process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp

from module_controller_dev.fakearklet import ControlClient
from module_controller_dev.fakearklet.testing import MakeArklet, wait_until

ROOT = Path(__file__).resolve().parents[2]


async def test_standalone_process_answers_health_and_exits_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "module_controller_dev.fakearklet",
        "--host", "127.0.0.1", "--port", "0", "--control-port", "0",
        "--flavour", "2025", "--install-latency", "0.05",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)  # type: ignore[union-attr]
        assert line, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        ready = json.loads(line)
        assert ready["event"] == "ready" and ready["flavour"] == "2025"
        url = f"http://127.0.0.1:{ready['port']}"
        timeout = aiohttp.ClientTimeout(total=2)
        health: dict = {}

        async with aiohttp.ClientSession(timeout=timeout) as session:
            async def answers() -> bool:
                try:
                    async with session.post(f"{url}/health", json={}) as resp:
                        health.update(await resp.json(content_type=None))
                        return resp.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    return False

            await wait_until(answers, timeout=15, interval=0.05, what="health answered")
        assert health["code"] == "SUCCESS" and "baseIdentity" not in health
        assert health["data"]["healthData"]["masterBizInfo"]["bizState"] == "activated"

        async with ControlClient(f"http://127.0.0.1:{ready['controlPort']}",
                                 timeout=5) as client:
            [listed] = await client.arklets()
            assert (listed["port"], listed["installLatency"]) == (ready["port"], 0.05)
            assert await client.bizzes("any-name") == []  # the one fake answers for any host

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_standalone_process_exits_1_when_the_port_is_taken(make_arklet: MakeArklet) -> None:
    taken = await make_arklet()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "module_controller_dev.fakearklet",
        "--host", "127.0.0.1", "--port", str(taken.port), "--control-port", "0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 1
        assert b"cannot listen" in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

"""``python -m module_controller_dev.basesim``: run the base simulator until SIGTERM.

Started by ``module-controller-dev up``; serves the fake-Arklet control API on ``--control-port``
(see :mod:`module_controller_dev.fakearklet.control`) plus ``/healthz`` and ``/pods``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web
from kubernetes_asyncio import config

from ..fakearklet import make_control_app
from .simulator import BaseSimulator


def control_app(sim: BaseSimulator) -> web.Application:
    app = make_control_app(sim.registry)

    async def healthz(_: web.Request) -> web.Response:
        if not sim.ready.is_set():
            return web.json_response({"ready": False}, status=503)
        return web.json_response({"ready": True})

    async def list_pods(_: web.Request) -> web.Response:
        return web.json_response([
            {"namespace": p.namespace, "name": p.name, "uid": p.uid, "ip": p.ip,
             "arklet": p.arklet is not None, "realbase": sim.realbases.describe(p.uid)}
            for p in sim.by_uid.values()
        ])

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/pods", list_pods)
    return app


async def main_async(args: argparse.Namespace) -> None:
    api = await config.new_client_from_config(config_file=args.kubeconfig)
    # real base JVMs work (log, unpack modules) in the state directory, kept after `dev down`
    work = Path(args.state_dir) / "realbases" if args.state_dir else None
    sim = BaseSimulator(api, nodes=args.nodes, module_proxy=args.module_proxy,
                        realbase_dir=args.realbase_dir, realbase_work=work,
                        address_block=args.address_block)
    logging.getLogger(__name__).info("pods get addresses in 127.%d.0.0/16", sim.pool.block)
    runner = web.AppRunner(control_app(sim), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.control_port).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(sim.run())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    stopper.cancel()
    await sim.close()
    await runner.cleanup()
    await api.close()
    failure = task.exception() if task in done else None
    if failure is not None:
        raise failure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m module_controller_dev.basesim")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--module-proxy", metavar="HOST:PORT", default=None,
                        help="HTTP proxy for module jar downloads (the dev cluster's module "
                             "repository); bases reach no other network")
    parser.add_argument("--realbase-dir", type=Path, default=None,
                        help="jars for pods annotated real-2025/real-2023 (default: "
                             "$MODULE_CONTROLLER_REALBASE_DIR, else the `make jars` cache)")
    parser.add_argument("--address-block", type=int, default=None, metavar="B",
                        help="give pods addresses in 127.B.0.0/16 (1..254; default: a random B)")
    parser.add_argument("--state-dir", help="only recorded, so `dev down` can recognise us")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

"""``python -m module_controller_dev.fakearklet``: one fake Arklet and its control API.

Runs until SIGTERM or SIGINT, then exits 0 (1 if an address is taken). When both servers
listen it prints one JSON line to stdout,
``{"event": "ready", "host": ..., "port": ..., "flavour": ..., "controlPort": ...}``, so a
caller that passed port 0 learns the real ports. The control API answers for the one fake under
any ``{host}`` (``SingleArklet(any_host=True)``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from aiohttp import web

from .control import SingleArklet, make_control_app
from .server import FakeArklet
from .vocabulary import FLAVOURS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m module_controller_dev.fakearklet",
                                     description="Run a fake Arklet (base agent) for demos.")
    parser.add_argument("--host", default="127.0.0.1", help="address the Arklet listens on")
    parser.add_argument("--port", type=int, default=1238, help="Arklet port (0: any free port)")
    parser.add_argument("--control-host", default=None,
                        help="address of the control API (default: same as --host)")
    parser.add_argument("--control-port", type=int, default=1239,
                        help="control API port (0: any free port)")
    parser.add_argument("--flavour", choices=FLAVOURS, default="2023")
    parser.add_argument("--base-name", default="base")
    parser.add_argument("--base-version", default="1.0.0")
    parser.add_argument("--install-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault fail rates")
    parser.add_argument("--no-serialize", action="store_true",
                        help="process requests concurrently (makes lock conflicts observable)")
    parser.add_argument("--module-proxy", metavar="HOST:PORT", default=None,
                        help="HTTP proxy for bizUrl downloads (e.g. a module repository)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    arklet = FakeArklet(args.host, args.port, args.flavour, args.base_name, args.base_version,
                        args.install_latency, args.seed,
                        serialize_requests=not args.no_serialize,
                        module_proxy=args.module_proxy)
    await arklet.start()
    app = make_control_app(SingleArklet(arklet, any_host=True))
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, args.control_host or args.host, args.control_port)
        await site.start()
        control_port = runner.addresses[0][1]  # the real port, also when 0 was asked for
        print(json.dumps({"event": "ready", "host": arklet.host, "port": arklet.port,
                          "flavour": arklet.flavour, "controlPort": control_port}), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await arklet.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except OSError as exc:  # typically: address already in use
        print(f"fakearklet: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

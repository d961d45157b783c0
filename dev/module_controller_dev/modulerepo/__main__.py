"""``python -m module_controller_dev.modulerepo``: serve module jars until SIGTERM.

Started by ``module-controller-dev up``. Prints one JSON line when listening:
``{"event": "ready", "url": ..., "proxy": ...}``. ``--dir`` (repeatable, globs allowed) names
directories whose files are served; see :mod:`.catalogue` for the lookup rules.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from .server import ModuleRepository


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m module_controller_dev.modulerepo",
                                     description="Serve ark-biz module jars (and act as an "
                                                 "HTTP proxy that answers from them).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--dir", action="append", default=[], metavar="DIR",
                        help="directory (or glob pattern) of files to serve; repeatable")
    parser.add_argument("--state-dir", help="only recorded, so `dev down` can recognise us")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with ModuleRepository(args.host, args.port, args.dir) as repo:
        print(json.dumps({"event": "ready", "url": repo.url, "proxy": repo.proxy}), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except OSError as exc:
        print(f"modulerepo: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

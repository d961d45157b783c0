"""``kubectl-module``: the executable kubectl finds on PATH for ``kubectl module …``.

Exit codes as kubectl's: 0 success, 1 an error (one line, ``error: …``, naming the object),
2 a usage error, 130 interrupted (Ctrl-C, e.g. ending ``status --watch``).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Sequence, TextIO

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from ..api.redact import redact_text
from . import args as cli
from .commands import COMMANDS
from .kube import PluginError, PluginIO, api_error, connect, resolve


class Redacted:
    """The plugin's output: credentials in urls are redacted as the controller's writes are
    (api/redact.py); a ModuleDeployment's spec keeps its real url, what is shown does not."""

    def __init__(self, out: TextIO):
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(redact_text(text))

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()


async def run(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parsed = cli.parse(argv)
    out = Redacted(out or sys.stdout)  # type: ignore[assignment]
    target = resolve(parsed.kubeconfig, parsed.context, parsed.namespace)
    api = await connect(target)
    async with api:
        try:
            return await COMMANDS[parsed.command](PluginIO(api, target.namespace), parsed, out)
        except ApiException as exc:
            raise PluginError(api_error(exc)) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            host = api.configuration.host
            raise PluginError(f"cannot reach the API server {host}: "
                              f"{exc or type(exc).__name__}") from None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(argv))
    except PluginError as exc:
        print(redact_text(f"error: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `kubectl module status x | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())

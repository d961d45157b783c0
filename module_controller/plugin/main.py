"""``kubectl-module``: the executable kubectl finds on PATH for ``kubectl module …``.

Exit codes as kubectl's: 0 success, 1 an error (one line, ``error: …``, naming the object),
2 a usage error, 130 interrupted (Ctrl-C, e.g. ending ``status --watch``).

Start-up order: the command line is parsed (argparse only) before anything else loads, so
``--help`` and usage errors cost no client import; the client loads with the command
(:func:`.commands.dispatch`).
"""

from __future__ import annotations

import sys
from typing import Sequence

from . import args as cli
from .errors import PluginError
from .output import Redacted, redact


def main(argv: Sequence[str] | None = None) -> int:
    parsed = cli.parse(argv)  # usage errors and --help exit here, before asyncio loads
    import asyncio

    from .commands import dispatch

    try:
        return asyncio.run(dispatch(parsed, Redacted(sys.stdout)))
    except PluginError as exc:
        print(redact(f"error: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `kubectl module status x | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the plugin prints: any text stream (a terminal, a pipe, a test's buffer), its urls'
credentials redacted."""

from __future__ import annotations

from typing import Protocol


class Output(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def redact(text: str) -> str:
    from ..api.redact import redact_text

    return redact_text(text)


class Redacted:
    """The plugin's output: credentials in urls are redacted as the controller's writes are
    (api/redact.py); a ModuleDeployment's spec keeps its real url, what is shown does not."""

    def __init__(self, out: Output):
        self._out = out

    def write(self, text: str, /) -> int:
        return self._out.write(redact(text))

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

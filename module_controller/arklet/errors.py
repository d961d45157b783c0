"""Exceptions of the Arklet client.

Two kinds of failure, kept apart on purpose because callers must react differently:

* :class:`ArkletUnavailable`: the base never gave a usable answer (refused, reset, timed out,
  HTTP 5xx, garbled reply), even after retries. What the base did is unknown.
* :class:`ArkletError`: the base answered, but not with success, where the method has no typed
  result to return it in (``query_all``). What the base said is in :attr:`ArkletError.result`.
"""

from __future__ import annotations

from .protocol import ArkletResult


class ArkletUnavailable(Exception):
    """No usable answer from ``host`` for ``command`` after ``attempts`` tries."""

    def __init__(self, host: str, command: str, attempts: int, last_error: str) -> None:
        super().__init__(f"arklet {command} on {host}: no usable answer after {attempts} "
                         f"attempt(s): {last_error}")
        self.host = host
        self.command = command
        self.attempts = attempts
        self.last_error = last_error


class ArkletBusy(ArkletUnavailable):
    """The call was not sent: its base has as many calls in flight and waiting as it is given
    (arklet/base_slots.py). The base is slow, not necessarily broken; ask again later."""


class ArkletError(Exception):
    """Arklet answered ``result`` (not a success) where a success was required."""

    def __init__(self, result: ArkletResult, host: str | None = None) -> None:
        where = f" on {host}" if host else ""
        super().__init__(f"arklet {result.command}{where} answered {result.code}"
                         f"{'/' + result.data_code if result.data_code else ''}: {result.message}")
        self.result = result
        self.host = host

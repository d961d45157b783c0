"""Invariant 6 of the chaos suite: the controller never crashed, read from its log.

A traceback in the controller's log is either an outcome the scenario provoked on purpose (an
Arklet it broke, the kube-apiserver it stopped, an optimistic-concurrency conflict) or a bug.
:func:`tracebacks` parses a text-format log into :class:`Incident` objects (pure), :data:`EXPECTED`
names the provoked kinds, and :func:`controller_violations` is what :mod:`invariants` adds to the
cluster-state checks. Kept apart from them because it reads a log, not the cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_RECORD = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
_TRACEBACK = "Traceback (most recent call last):"


@dataclass(frozen=True)
class Incident:
    """One logged traceback (chained exceptions included): the log record that carried it and
    the final exception."""

    header: str      # the log line before the traceback
    exc_type: str    # e.g. "module_controller.arklet.errors.ArkletUnavailable"
    message: str     # the exception text, all its lines
    text: str        # the whole traceback

    @property
    def short_type(self) -> str:
        return self.exc_type.rsplit(".", 1)[-1]

    def summary(self) -> str:
        first = self.message.splitlines()[0] if self.message else ""
        return f"{self.short_type}: {first[:200]} (logged by: {self.header[:160]})"


def tracebacks(log: str) -> list[Incident]:
    """Every traceback in a controller log (text format), with its final exception."""
    lines = log.splitlines()
    out: list[Incident] = []
    i = 0
    while i < len(lines):
        if _TRACEBACK not in lines[i]:
            i += 1
            continue
        header = next((lines[k] for k in range(i - 1, -1, -1) if _RECORD.match(lines[k])), "")
        j = i + 1
        while j < len(lines) and not _RECORD.match(lines[j]):
            j += 1
        block = lines[i:j]
        last = max(k for k, line in enumerate(block) if _TRACEBACK in line)
        k = last + 1
        while k < len(block) and (block[k].startswith((" ", "\t")) or not block[k].strip()):
            k += 1  # frames, source lines, carets
        head = block[k] if k < len(block) else ""
        exc_type, _, first = head.partition(":")
        rest = []
        for line in block[k + 1:]:
            if line.startswith(("During handling", "The above exception")):
                break
            rest.append(line)
        message = "\n".join([first.strip(), *rest]).strip()
        out.append(Incident(header, exc_type.strip(), message, "\n".join(block)))
        i = j
    return out


def _api_status(incident: Incident) -> int | None:
    if incident.short_type != "ApiException":
        return None
    m = re.match(r"\((\d{3})\)", incident.message)
    return int(m.group(1)) if m else None


def is_conflict(incident: Incident) -> bool:
    return _api_status(incident) == 409


def is_arklet(incident: Incident) -> bool:
    return incident.short_type in ("ArkletUnavailable", "ArkletRefused", "ArkletError")


_API_DOWN_TYPES = ("ClientConnectorError", "ServerDisconnectedError", "ClientOSError",
                   "ConnectionRefusedError", "ConnectionResetError", "TimeoutError",
                   "ClientConnectionError", "ClientPayloadError", "CancelledError")


def is_api_unavailable(incident: Incident) -> bool:
    status = _api_status(incident)
    return incident.short_type in _API_DOWN_TYPES or (status is not None and
                                                       (status >= 500 or status == 429))


#: Categories of tracebacks a scenario may expect, by name.
EXPECTED = {
    # An optimistic-concurrency conflict: the retry reads the object again. Always expected.
    "conflict": is_conflict,
    # The controller raises ArkletUnavailable/ArkletRefused on purpose so the work queue retries
    # with backoff; expected only where the test breaks Arklets, bases, or kills the controller
    # in the middle of a call (a lock left on the fake answers a new call with FAILED).
    "arklet": is_arklet,
    # kube-apiserver down: connection errors, timeouts, 5xx/429. Expected only in scenario (d).
    "apiserver": is_api_unavailable,
}


def unexpected_tracebacks(log: str, allow: Iterable[str] = ("conflict",)) -> list[Incident]:
    checks = [EXPECTED[name] for name in allow]
    out = []
    for incident in tracebacks(log):
        if "never retrieved" in incident.header:
            out.append(incident)  # a lost asyncio task is a bug whatever it raised
        elif not any(check(incident) for check in checks):
            out.append(incident)
    return out


def controller_violations(controller, allow: Iterable[str] = ("conflict",)) -> list[str]:
    """The controller is alive and logged no unexpected traceback."""
    out = []
    if not controller.alive:
        out.append(f"the controller process is not running (exit code "
                   f"{controller.proc.returncode if controller.proc else None})")
    for incident in unexpected_tracebacks(controller.log_text(), allow):
        out.append(f"unexpected traceback in the controller log: {incident.summary()}")
    return out

"""Kubernetes-style conditions on plain dicts (pure): set one, keep lastTransitionTime honest."""

from __future__ import annotations

from typing import Any

from ..api.objects import format_time, now


def now_timestamp() -> str:
    return format_time(now())


def set_condition(conditions: list[dict[str, Any]] | None, type_: str, status: bool, reason: str,
                  message: str, now: str | None = None) -> list[dict[str, Any]]:
    """A copy of ``conditions`` with ``type_`` set; lastTransitionTime moves only when the
    status flips, as the API conventions ask."""
    wanted = "True" if status else "False"
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions or []:
        if cond.get("type") != type_:
            out.append(cond)
            continue
        found = True
        since = cond.get("lastTransitionTime") if cond.get("status") == wanted else None
        out.append({"type": type_, "status": wanted, "reason": reason, "message": message,
                    "lastTransitionTime": since or now or now_timestamp()})
    if not found:
        out.append({"type": type_, "status": wanted, "reason": reason, "message": message,
                    "lastTransitionTime": now or now_timestamp()})
    return out


def get_condition(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)

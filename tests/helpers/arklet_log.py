"""The fake Arklets' request logs and installed bizzes, through the simulator's control API."""

from __future__ import annotations

from typing import Any


async def request_log(arklets, ip: str, since: int = 0) -> list[dict]:
    return (await arklets.requests(ip, since=since))["requests"]


async def log_marks(arklets, ips) -> dict[str, int]:
    """The last ``seq`` of every base's log, to look only at what comes after."""
    out = {}
    for ip in ips:
        log = await request_log(arklets, ip)
        out[ip] = log[-1]["seq"] if log else 0
    return out


def body_field(record: dict, field: str) -> Any:
    body = record.get("body")
    return body.get(field) if isinstance(body, dict) else None


def installs(log: list[dict], version: str | None = None, ok: bool = True) -> list[dict]:
    """installBiz records (successful ones unless ``ok`` is False), of ``version`` if given."""
    return [r for r in log if r["command"] == "installBiz"
            and (not ok or r["code"] == "SUCCESS")
            and (version is None or body_field(r, "bizVersion") == version)]


def uninstalls(log: list[dict], version: str | None = None) -> list[dict]:
    return [r for r in log if r["command"] == "uninstallBiz" and r["code"] == "SUCCESS"
            and (version is None or body_field(r, "bizVersion") == version)]


async def bizzes_on(arklets, ip: str) -> list[str]:
    return sorted(f"{b['bizName']}:{b['bizVersion']}" for b in await arklets.bizzes(ip))


async def injected_faults(arklets, hosts: list[str]) -> dict[str, int]:
    """Counts of the faults the fakes logged (``note`` of the request records)."""
    counts: dict[str, int] = {}
    for host in hosts:
        for record in await request_log(arklets, host):
            note = record.get("note") or ""
            if "fault[" in note:
                kind = note.split(":", 1)[1].split(";", 1)[0].strip()
                counts[kind] = counts.get(kind, 0) + 1
    return counts

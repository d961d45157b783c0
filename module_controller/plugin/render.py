"""Printing the views of :mod:`.view`: a table for people, JSON or YAML for programs.

JSON and YAML print :func:`.view.to_data` of the same view the table is made from, so the two
always carry the same facts. Times in tables are ages (``12s``, ``3m4s``) like kubectl's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Sequence

import yaml

from .view import BaseModuleRow, HistoryRow, StatusView, to_data

OUTPUTS = ("table", "json", "yaml")


def age(when: dt.datetime | None, now: dt.datetime) -> str:
    """kubectl's short age: 45s, 3m4s, 2h5m, 3d4h."""
    if when is None:
        return "-"
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s}s" if minutes < 10 and s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{m}m" if m and hours < 10 else f"{hours}h"
    days, h = divmod(hours, 24)
    return f"{days}d{h}h" if h and days < 10 else f"{days}d"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "") -> str:
    """Columns aligned like ``kubectl get``: upper-case header, three spaces apart."""
    cells = [[str(h) for h in header]] + [["-" if v is None or v == "" else str(v) for v in row]
                                          for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in cells]
    return "\n".join(indent + line for line in lines) + "\n"


def data(value: Any, output: str) -> str:
    plain = to_data(value)
    if output == "json":
        return json.dumps(plain, indent=2) + "\n"
    return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<12}{value}\n"


def status_table(view: StatusView, now: dt.datetime) -> str:
    out = [_field("Name", view.name), _field("Namespace", view.namespace)]
    if view.template_ref:
        out.append(_field("Template", f"moduletemplate {view.template_ref}"))
    else:
        out.append(_field("Module", f"{view.module}:{view.version}"))
        out.append(_field("URL", view.url))
    replicas = "peer mode (one per ready base)" if view.replicas == -1 else view.replicas
    out.append(_field("Replicas", f"{replicas} desired, {view.available or 0} available"))
    out.append(_field("Strategy", view.strategy))
    progress = view.progress or "-"
    if view.batch:
        progress += f", group {view.batch}"
    if view.update_revision is not None:
        progress += f", revision {view.update_revision}"
    flags = []
    if view.pause:
        flags.append("spec.pause true")
    if view.confirm_batch_num:
        flags.append(f"confirmBatchNum {view.confirm_batch_num}")
    if flags:
        progress += f" ({', '.join(flags)})"
    out.append(_field("Progress", progress))
    out.append(_field("Running", view.running_version or "nothing Available"))
    if view.given_up:
        rolled = next((x for x in view.conditions if x.type == "RolledBack"
                       and x.status == "True"), None)
        why = f" [RolledBack: {rolled.reason}]" if rolled is not None else ""
        label = "ABORTED" if view.progress == "Aborted" else "GIVING UP"
        out.append(_field(label, view.given_up + why))
    if view.refused:
        out.append(_field("REFUSED", view.refused))
    if view.next_steps:
        out.append("Next:\n" + "".join(f"  {step}\n" for step in view.next_steps))

    out.append("\nRevisions:\n")
    out.append(table(("REVISION", "ROLE", "VERSION", "DESIRED", "CURRENT", "AVAILABLE", "AGE",
                      "URL"),
                     ((r.revision, ",".join(r.roles), r.version, r.desired, r.current, r.available,
                       age(r.created, now), r.url) for r in view.revisions), indent="  ")
               if view.revisions else "  none\n")
    out.append("\nGroups:\n")
    gray = any(g.not_before for g in view.groups)  # the column only while a gray time runs
    out.append(table(("GROUP", "SIZE", "STATE", "SINCE") + (("NOT-BEFORE",) if gray else ()),
                     ((g.number, g.size, g.state, age(g.since, now) if g.since else None)
                      + ((g.not_before.strftime("%H:%M:%SZ") if g.not_before else None,)
                         if gray else ()) for g in view.groups), indent="  ")
               if view.groups else "  none\n")
    out.append("\nInstances:\n")
    out.append(table(("NAME", "REVISION", "VERSION", "INSTALLED", "PHASE", "BASE-POD", "BASE-IP",
                      "AGE"),
                     ((i.name, i.revision, i.version, i.installed_version,
                       (i.phase or "-") + (" (deleting)" if i.deleting else ""),
                       i.base_pod, i.base_ip, age(i.created, now)) for i in view.instances),
                     indent="  ")
               if view.instances else "  none\n")
    out.append("\nConditions:\n")
    out.append(table(("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"),
                     ((x.type, x.status, x.reason, age(x.last_transition, now), x.message)
                      for x in view.conditions), indent="  ")
               if view.conditions else "  none\n")
    out.append("\nEvents:\n")
    out.append(table(("AGE", "TYPE", "REASON", "MESSAGE"),
                     ((age(e.last_seen, now), e.type, e.reason, e.message) for e in view.events),
                     indent="  ")
               if view.events else "  none\n")
    return "".join(out)


def history_table(rows: Sequence[HistoryRow], now: dt.datetime) -> str:
    return table(("REVISION", "MODULE", "VERSION", "CREATED", "CURRENT", "STATE", "URL"),
                 ((r.revision, r.module, r.version, age(r.created, now),
                   "*" if r.current else "", r.state, r.url) for r in rows))


def base_modules_table(rows: Sequence[BaseModuleRow], now: dt.datetime) -> str:
    return table(("NAME", "MODULE", "VERSION", "INSTALLED", "STATUS", "MODULEDEPLOYMENT",
                  "REVISION", "BASE-POD", "BASE-IP", "AGE"),
                 ((r.name, r.module, r.version, r.installed_version, r.phase, r.deployment,
                   r.revision, r.base_pod, r.base_ip, age(r.created, now)) for r in rows))


def status(view: StatusView, output: str, now: dt.datetime) -> str:
    return status_table(view, now) if output == "table" else data(view, output)


def history(rows: Sequence[HistoryRow], output: str, now: dt.datetime) -> str:
    return history_table(rows, now) if output == "table" else data({"revisions": rows}, output)


def base_modules(rows: Sequence[BaseModuleRow], output: str, now: dt.datetime) -> str:
    return base_modules_table(rows, now) if output == "table" else data({"items": rows}, output)

"""Printing the views of :mod:`.view`: a table for people, JSON or YAML for programs, names for
scripts (``-o name``, as kubectl's ``resource.group/name``).

JSON and YAML print :func:`.view.to_data` of the same view the table is made from, so the two
always carry the same facts. Times in tables are ages (``12s``, ``3m4s``) like kubectl's, a gray
time a countdown. The default tables are meant to fit :data:`WIDTH` columns with the names
this controller makes: they leave out what ``-o wide`` adds, and a message (the free text of a
condition or an Event) longer than the line allows is cut with ``…``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Sequence

from ..api import constants as c
from .view import (BaseModuleRow, DeploymentRow, HistoryRow, StatusView, countdown, to_data)

WIDTH = 120
GROUP = c.GROUP


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


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "",
          width: int | None = None) -> str:
    """Columns aligned like ``kubectl get``: upper-case header, three spaces apart. ``width``
    (for a table whose last column is free text, a message): lines longer than it have that
    text cut with ``…``."""
    cells = [[str(h) for h in header]] + [["-" if v is None or v == "" else str(v) for v in row]
                                          for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        line = indent + "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        if width is not None and len(line) > width:
            line = line[:width - 1] + "…"
        lines.append(line)
    return "\n".join(lines) + "\n"


def data(value: Any, output: str) -> str:
    plain = to_data(value)
    if output == "json":
        return json.dumps(plain, indent=2) + "\n"
    import yaml  # only -o yaml needs it

    return str(yaml.safe_dump(plain, sort_keys=False, default_flow_style=False))


def names(kind: str, names_: Iterable[str]) -> str:
    return "".join(f"{kind}.{GROUP}/{n}\n" for n in names_)


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<12}{value}\n"


def _section(title: str, header: Sequence[str], rows: list[Sequence[Any]], width: int | None
             ) -> str:
    return f"\n{title}:\n" + (table(header, rows, indent="  ", width=width) if rows
                              else "  none\n")


def status_table(view: StatusView, now: dt.datetime, wide: bool = False) -> str:
    width = None if wide else WIDTH
    out = [_field("Name", view.name), _field("Namespace", view.namespace)]
    if view.template_ref:
        out.append(_field("Template", f"moduletemplate {view.template_ref}"))
    else:
        out.append(_field("Module", f"{view.module}:{view.version}"))
        out.append(_field("URL", view.url))
    replicas = "peer mode (one per ready base)" if view.replicas == -1 else view.replicas
    out.append(_field("Replicas", f"{replicas} desired, {view.available or 0} available"))
    out.append(_field("Strategy", view.strategy))
    progress = view.where
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

    out.append(_section(
        "Revisions", ("REVISION", "ROLE", "VERSION", "DESIRED", "CURRENT", "AVAILABLE", "AGE")
        + (("URL",) if wide else ()),
        [(r.revision, ",".join(r.roles), r.version, r.desired, r.current, r.available,
          age(r.created, now)) + ((r.url,) if wide else ()) for r in view.revisions], None))
    gray = any(g.not_before for g in view.groups)  # the column only while a gray time runs
    out.append(_section(
        "Groups", ("GROUP", "SIZE", "STATE", "SINCE") + (("STARTS-IN",) if gray else ()),
        [(g.number, g.size, g.state, age(g.since, now) if g.since else None)
         + ((countdown(g.not_before, now) if g.not_before else None,) if gray else ())
         for g in view.groups], None))
    out.append(_section(
        "Instances", ("NAME", "REVISION", "VERSION", "PHASE", "BASE-IP", "AGE")
        + (("INSTALLED", "BASE-POD") if wide else ()),
        [(i.name, i.revision, _version(i.version, i.installed_version, wide),
          (i.phase or "-") + (" (deleting)" if i.deleting else ""), i.base_ip,
          age(i.created, now)) + ((i.installed_version, i.base_pod) if wide else ())
         for i in view.instances], None))
    out.append(_section(
        "Conditions", ("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"),
        [(x.type, x.status, x.reason, age(x.last_transition, now), x.message)
         for x in view.conditions], width))
    out.append(_section(
        "Events", ("AGE", "TYPE", "REASON", "MESSAGE"),
        [(age(e.last_seen, now), e.type, e.reason, e.message) for e in view.events], width))
    return "".join(out)


def _version(wanted: str | None, installed: str | None, wide: bool) -> str | None:
    """The instance's version; the narrow table says when the base runs another one."""
    if wide or not installed or installed == wanted:
        return wanted
    return f"{wanted} (runs {installed})"


def status(view: StatusView, output: str, now: dt.datetime) -> str:
    if output == "name":
        return names(c.MODULE_DEPLOYMENT.singular, [view.name])
    if output in ("table", "wide"):
        return status_table(view, now, wide=output == "wide")
    return data(view, output)


def deployments(rows: Sequence[DeploymentRow], output: str, now: dt.datetime,
                all_namespaces: bool) -> str:
    if output == "name":
        return names(c.MODULE_DEPLOYMENT.singular, [r.name for r in rows])
    if output in ("json", "yaml"):
        return data({"items": rows}, output)
    wide = output == "wide"
    return table((("NAMESPACE",) if all_namespaces else ())
                 + ("NAME", "MODULE", "VERSION", "RUNNING", "PROGRESS", "DESIRED", "AVAILABLE",
                    "AGE") + (("UPDATED", "REVISION", "URL") if wide else ()),
                 [((r.namespace,) if all_namespaces else ())
                  + (r.name, r.module or f"template {r.template_ref}", r.version,
                     r.running_version, r.progress, r.desired, r.available, age(r.created, now))
                  + ((r.updated, r.revision, r.url) if wide else ()) for r in rows])


def history(rows: Sequence[HistoryRow], output: str, now: dt.datetime) -> str:
    if output == "name":
        return names(c.MODULE_REPLICA_SET.singular, [r.name for r in rows])
    if output in ("json", "yaml"):
        return data({"revisions": rows}, output)
    wide = output == "wide"
    return table(("REVISION", "MODULE", "VERSION", "CREATED", "CURRENT", "STATE")
                 + (("NAME", "URL") if wide else ()),
                 [(r.revision, r.module, r.version, age(r.created, now), "*" if r.current else "",
                   r.state) + ((r.name, r.url) if wide else ()) for r in rows])


def base_modules(rows: Sequence[BaseModuleRow], output: str, now: dt.datetime) -> str:
    if output == "name":
        return names(c.MODULE.singular, [r.name for r in rows])
    if output in ("json", "yaml"):
        return data({"items": rows}, output)
    wide = output == "wide"
    return table(("NAME", "VERSION", "INSTALLED", "STATUS", "REVISION", "AGE")
                 + (("MODULEDEPLOYMENT", "MODULE", "BASE-POD", "BASE-IP") if wide else ()),
                 [(r.name, r.version, r.installed_version, r.phase, r.revision, age(r.created, now))
                  + ((r.deployment, r.module, r.base_pod, r.base_ip) if wide else ())
                  for r in rows])

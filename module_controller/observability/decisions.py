"""One log line per reconcile decision, in a shape an operator can follow and a machine can read.

Each reconciler says, once per decision: which object, what it decided, why, and a few facts
(``version=1.0.2 base=pod-a``). A decision that changes something is logged at INFO, a no-op
("nothing to do", "waiting for the group") at DEBUG, so a default log is the story of what the
controller did. With ``--log-format json`` the facts are fields of the JSON object
(``kind``, ``object``, ``decision``, ``reason`` and the rest) instead of ``key=value`` text.

Expected outcomes (Arklet refused, a conflict, a base gone) are decisions, not errors: they are
logged here without a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("module_controller.decisions")

#: Attribute of a LogRecord that carries the structured fields (read by the JSON formatter).
FIELDS = "decision_fields"


def _text(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (not text or any(ch.isspace() or ch in '"=' for ch in text)) else text


def decided(kind: str, key: tuple[str, str], decision: str, reason: str = "", *,
            changed: bool = True, **facts: Any) -> None:
    """Log that the ``kind`` reconciler decided ``decision`` for object ``key`` (namespace, name)."""
    level = logging.INFO if changed else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    name = f"{key[0]}/{key[1]}" if key[0] else key[1]
    fields: dict[str, Any] = {"kind": kind, "object": name, "decision": decision}
    if reason:
        fields["reason"] = reason
    fields.update({k: v for k, v in facts.items() if v is not None})
    tail = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if k not in ("kind", "object"))
    log.log(level, "%s %s: %s", kind, name, tail, extra={FIELDS: fields})

"""A logging filter that redacts credentials in urls from every log line (docs/security.md).

Installed on the controller's log handler by the CLI, so it sees the records of every logger
(kopf, aiohttp and kubernetes_asyncio included), not only ours. The message is formatted here
and stored redacted; a traceback is formatted here too and kept, redacted, as ``exc_text``,
which :class:`logging.Formatter` prints instead of formatting ``exc_info`` again.
"""

from __future__ import annotations

import logging

from ..api.redact import redact_text
from .decisions import FIELDS

_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return True
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        fields = getattr(record, FIELDS, None)
        if fields:  # a decision's structured fields (observability/decisions.py)
            setattr(record, FIELDS, {k: redact_text(v) if isinstance(v, str) else v
                                     for k, v in fields.items()})
        return True


def exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The traceback of a record as a formatter that does not go through ``format`` shows it:
    the redacted ``exc_text`` when the filter has set it."""
    if record.exc_text:
        return record.exc_text
    return redact_text(formatter.formatException(record.exc_info)) if record.exc_info else ""

"""What the controller's own log set-up (``module-controller run --log-format``) writes."""

from __future__ import annotations

import io
import logging
from typing import Callable


def controller_log_output(fmt: str, level: str, emit: Callable[[], None]) -> str:
    """Configure logging as the controller does (``fmt``: text or json), run ``emit``, and return
    what was written; the root logger's handlers and level are put back afterwards."""
    from module_controller import cli  # the cli wires kopf and the controllers: import it late

    stream = io.StringIO()
    root = logging.getLogger()
    before, saved_level = list(root.handlers), root.level
    for handler in before:
        root.removeHandler(handler)
    try:
        cli._configure_logging(level, fmt)
        (handler,) = [h for h in root.handlers if h not in before]
        handler.setStream(stream)
        emit()
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
        root.setLevel(saved_level)
    return stream.getvalue()

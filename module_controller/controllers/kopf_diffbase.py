"""kopf's "diff base", switched off: the controller has no change handlers to feed.

On every watch event kopf builds the object's "essence" (a deep copy of the body without its
status and some metadata) and reads the last one back from an annotation, only to tell
``on.create`` / ``on.update`` handlers what changed. This controller registers ``on.event``
handlers alone (kopf_registry.py: kopf only watches), so that work is thrown away: at 1,000 Modules
it was ~8 % of the controller's CPU in a release (deep copies of every Module on every event;
docs/performance.md). The storage below builds and stores nothing.
"""

from __future__ import annotations

from typing import Any

import kopf


class NoDiffBase(kopf.DiffBaseStorage):
    """A diff base that is never built nor stored (no change handlers read it)."""

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        return None

    def fetch(self, *, body: Any) -> Any:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None

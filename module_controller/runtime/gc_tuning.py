"""Python's cyclic garbage collector, set for a process whose heap is a large cache of JSON.

With the default thresholds (700, 10, 10) a fifth of the controller's CPU in a large release
went to the collector, most of it to full collections (docs/performance.md has the figures). A
full collection walks every container object, and the caches (hundreds of thousands of dicts,
none of them in a reference cycle) make that walk grow with the number of objects watched: a
cost per module that grows with N. Cycles do occur (an exception and
its traceback, asyncio's futures), so the collector stays on, but young collections run every
50,000 allocations instead of 700, so that a cached object version that is replaced within a
second or two dies young instead of being promoted and then walked by full collections; and
what exists at start (imports, settings) is moved out of the collector's sight for good.
"""

from __future__ import annotations

import gc

#: (young, middle, old): see gc.set_threshold. A young collection then looks at up to 50,000
#: objects (a few milliseconds); the pending garbage in cycles stays a few MB.
THRESHOLDS = (50_000, 20, 10)


def tune() -> None:
    """Call once, after the imports and before the caches fill."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)

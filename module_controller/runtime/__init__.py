"""Controller runtime machinery that knows nothing of modules or bases.

The work queue (:mod:`.queue`), the object cache (:mod:`.store`), the catch-up after a watch
gap (:mod:`.resync`), Lease-based leader election (:mod:`.leader`), the bounded "done once"
memory (:mod:`.memo`) and the one retry wait policy (:mod:`.backoff`). Nothing here imports the
rest of ``module_controller`` (an import-linter contract checks it); the reconcilers in
``controllers/`` are built on top. ``docs/design.md`` says why each piece is hand-built rather
than taken from kopf.
"""

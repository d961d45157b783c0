"""``kubectl module abort NAME``: ask the controller to give the running release up.

The plugin does not move instances itself: it writes the annotation
``serverless.alipay.com/abort-revision`` with the number of the revision being released, and the
controller gives that release up and releases the last completed revision again, in groups, as
it does for a failed release with rollbackOnFailure (status condition RolledBack, reason
Aborted, and an Event Aborted). Naming the revision makes the request exact: it cannot abort a
later release that started in the meantime, and the controller removes the annotation once read.
"""

from __future__ import annotations

from typing import Any

from ..api import ReleaseProgress as P
from ..api import constants as c
from .view import Change, ViewError, name_of

NOT_RUNNING = (None, P.COMPLETED.value, P.ABORTED.value, P.TERMINATING.value, P.TERMINATED.value)


def abort(md: dict[str, Any]) -> Change:
    name = name_of(md)
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    update, stable = rs.get("updateRevision"), rs.get("stableRevision")
    if rs.get("progress") in NOT_RUNNING or update is None:
        return Change(None, f"moduledeployment {name}: no release is running "
                      f"(progress {rs.get('progress')}); nothing to abort")
    if rs.get("abortedRevision") == update:
        return Change(None, f"moduledeployment {name}: the release of revision {update} is "
                      "aborted already")
    if stable is None or stable == update:
        raise ViewError(f'moduledeployment "{name}": nothing to abort to, no revision before '
                        f"revision {update} completed (pause it, or change the spec)")
    return Change(
        {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion"),
                      "annotations": {c.ANNOTATION_ABORT_REVISION: str(update)}}},
        f"moduledeployment {name}: wrote {c.ANNOTATION_ABORT_REVISION}={update} (asks the "
        f"controller to give the release of revision {update} up and return to revision "
        f"{stable} in groups; it then reads Aborted until you retry, apply a new spec or undo)")

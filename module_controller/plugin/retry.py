"""``kubectl module retry NAME``: release a given-up revision again.

A release given up (``kubectl module abort``, or rolled back on failure) leaves the
ModuleDeployment in progress ``Aborted``: the stable revision runs while the spec still names
the given-up one, until the user acts. ``retry`` is that act for the spec as it is: it writes the
annotation ``serverless.alipay.com/retry-revision`` naming the given-up revision, and the
controller releases it again, in groups, as a new spec (Event ``Retried``; a retry naming no
given-up revision is refused with an Event ``RetryRefused``). The controller removes the
annotation once read.
"""

from __future__ import annotations

from typing import Any

from ..api import constants as c
from .view import Change, name_of


def retry(md: dict[str, Any]) -> Change:
    name = name_of(md)
    rs = ((md.get("status") or {}).get("releaseStatus")) or {}
    aborted = rs.get("abortedRevision")
    if aborted is None:
        return Change(None, f"moduledeployment {name}: no release is given up (progress "
                      f"{rs.get('progress')}); nothing to retry")
    return Change(
        {"metadata": {"resourceVersion": (md.get("metadata") or {}).get("resourceVersion"),
                      "annotations": {c.ANNOTATION_RETRY_REVISION: str(aborted)}}},
        f"moduledeployment {name}: wrote {c.ANNOTATION_RETRY_REVISION}={aborted} (asks the "
        f"controller to release revision {aborted} ({rs.get('abortedModule')}) again, in "
        "groups)")

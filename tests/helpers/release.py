"""Predicates on a ModuleDeployment's release, for ``wait_md``/``kt.wait_for``: one definition
of "Completed" and "Paused at group k" for every dev-cluster test."""

from __future__ import annotations

from collections.abc import Callable

from module_controller_dev.devcluster.testing import release_status

Check = Callable[[dict | None], bool]


def completed(revision: int | None = None, available: int | None = None) -> Check:
    """The release reads Completed (of ``revision``, with ``available`` instances all updated and
    Available and no others, when given)."""
    def check(md: dict | None) -> bool:
        rs = release_status(md)
        if rs.get("progress") != "Completed":
            return False
        if revision is not None and rs.get("updateRevision") != revision:
            return False
        st = (md or {}).get("status") or {}
        return available is None or (st.get("availableReplicas") == available
                                     and st.get("updatedAvailableReplicas") == available
                                     and st.get("replicas") == available)
    return check


def paused_at(batch: int) -> Check:
    """The release waits for confirmation after group ``batch``."""
    def check(md: dict | None) -> bool:
        rs = release_status(md)
        return rs.get("progress") == "Paused" and rs.get("currentBatch") == batch
    return check

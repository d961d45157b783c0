"""Which Events of a release's Modules are told once per group (pure).

One "Installed" Event per Module of a release of 10,000 would be 10,000 Events that nobody
reads one by one (and that cost the API server a write each). A person who runs ``kubectl
describe moduledeployment`` wants to know how far each group got; one who describes a failed
Module wants its failure. So a Module of a ModuleDeployment's revision tells its ordinary
(Normal) transitions as one counted Event on the ModuleDeployment per revision and group;
failures (Warning) stay on the Module itself. A Module no ModuleDeployment released (made by
hand, or by a ModuleReplicaSet of its own) keeps every Event on itself (behaviour §8.2).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..api import constants as c

NORMAL = "Normal"


def release_series(event_type: str, module_labels: Mapping[str, str],
                   release_status: Mapping[str, Any] | None) -> str | None:
    """The series a Module's Event is counted in on its ModuleDeployment ("revision 3, group
    2/4"; "revision 2" for a revision the release is not rolling out, e.g. the old one being
    scaled down), or None: the Event stays on the Module.

    ``release_status``: the ModuleDeployment's ``status.releaseStatus`` (None: no such
    ModuleDeployment is known)."""
    if event_type != NORMAL or release_status is None:
        return None
    if not module_labels.get(c.LABEL_MODULE_DEPLOYMENT):
        return None
    revision = module_labels.get(c.LABEL_MODULE_REPLICASET_REVISION)
    if not revision:
        return None
    batch, batches = release_status.get("currentBatch"), release_status.get("realBatchCount")
    if str(release_status.get("updateRevision")) == revision and batch and batches:
        return f"revision {revision}, group {batch}/{batches}"
    return f"revision {revision}"

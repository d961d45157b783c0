"""A release's Modules tell their Normal transitions once per revision and group on the
ModuleDeployment; failures and Modules outside a release keep their own Events."""

from __future__ import annotations

from module_controller.api import constants as c
from module_controller.planning.event_series import release_series

RELEASED = {c.LABEL_MODULE_DEPLOYMENT: "md", c.LABEL_MODULE_REPLICASET_REVISION: "3"}
ROLLING = {"updateRevision": 3, "currentBatch": 2, "realBatchCount": 4}


def test_a_normal_event_of_the_revision_being_released_counts_in_its_group():
    assert release_series("Normal", RELEASED, ROLLING) == "revision 3, group 2/4"


def test_an_event_of_another_revision_counts_per_revision():
    old = {**RELEASED, c.LABEL_MODULE_REPLICASET_REVISION: "2"}
    assert release_series("Normal", old, ROLLING) == "revision 2"
    # Before the release has recorded its groups, too.
    assert release_series("Normal", RELEASED, {}) == "revision 3"


def test_failures_stay_on_the_module():
    assert release_series("Warning", RELEASED, ROLLING) is None


def test_modules_outside_a_release_keep_their_events():
    assert release_series("Normal", {}, ROLLING) is None
    assert release_series("Normal", {c.LABEL_MODULE_DEPLOYMENT: "md"}, ROLLING) is None
    assert release_series("Normal", RELEASED, None) is None  # its ModuleDeployment is unknown

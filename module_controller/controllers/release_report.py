"""What a ModuleDeployment's status says about a release that was given up (issue 16): the
RolledBack condition and the Warning Event that goes with it, from the planner's decision."""

from __future__ import annotations

from ..api import constants as c
from ..planning import release, rollback
from ..planning.conditions import get_condition, set_condition


def give_up_conditions(conditions: list[dict] | None, decision: release.Decision,
                       before: release.ReleaseState, failing: str
                       ) -> tuple[list[dict], tuple[str, str] | None]:
    """The conditions with RolledBack set or cleared, and the Event (reason, message) to post
    now, if any. ``before`` is the release state the decision started from; ``failing``
    describes the Failed instances of the revision given up."""
    st = decision.state
    if decision.rolled_back is not None:
        given_up = st.aborted_revision
        if decision.rolled_back == rollback.REASON_ABORTED:
            message = (f"release of revision {given_up} aborted by the user at group "
                       f"{before.current_batch}/{before.real_batch_count}; releasing revision "
                       f"{st.stable_revision} again")
        else:
            message = (f"release of revision {given_up} failed: no group completed within the "
                       f"progress deadline and {failing} failed; rolling back to revision "
                       f"{st.stable_revision}")
        conditions = set_condition(conditions, c.CONDITION_ROLLED_BACK, True,
                                   decision.rolled_back, message)
        return conditions, (decision.rolled_back if decision.rolled_back == rollback.REASON_ABORTED
                            else c.CONDITION_ROLLED_BACK, message)
    current = get_condition(conditions, c.CONDITION_ROLLED_BACK)
    if st.aborted_revision is None and current is not None and current.get("status") == "True":
        conditions = set_condition(conditions, c.CONDITION_ROLLED_BACK, False, "SpecChanged",
                                   f"the spec moved on from revision {before.aborted_revision}")
    return list(conditions or []), None

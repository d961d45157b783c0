"""The Module's lifecycle as an explicit transition table: stage x event -> action, reason.

:func:`planning.module_machine.plan` runs it: it names the stage of the Module (live or being
deleted) and the first event that holds for what the reconciler observed (the order of
:class:`Event`), and looks the pair up here. Every (stage, event) pair is a :class:`Row` or an
:class:`Impossible` with the reason; a unit test checks the table is total, and docs/arklet.md
shows :func:`render_markdown` ("The Module's lifecycle"), kept equal by a test.

Pure data: this module decides nothing by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    LIVE = "live"            # the Module should run its spec on its base
    DELETING = "deleting"    # metadata.deletionTimestamp is set: take it off the base


class Event(StrEnum):
    """What the planner observes, checked in this order (the first that holds is the event)."""

    INVALID_SPEC = "spec does not parse"
    URL_SCHEME_REFUSED = "url scheme not allowed"
    UNBOUND = "no base pod yet"
    NO_ELIGIBLE_BASE = "no base pod yet, none eligible"
    NOT_OWNERS_TEMPLATE = "spec differs from its ModuleReplicaSet's template"
    NO_FINALIZER = "finalizer gone"
    REMOVAL_STARTS = "removal not begun in this reconcile"
    BASE_GONE_UNCONFIRMED = "base gone by the cache"
    BASE_GONE = "base gone (while live: by the API server too)"
    SKIP_UNINSTALL = "base pod says skip the uninstall"
    SELECTOR_MISMATCH = "base pod does not match spec.selector, nothing installed yet"
    GAVE_UP = "Failed for good for this generation"
    BASE_NOT_READY = "base pod not ready or without an IP"
    ANSWER_OBSERVE = "answer: verify with the listing"
    ANSWER_BUSY = "answer: another command runs on the biz"
    ANSWER_RETRY = "answer: refused or no answer"
    ANSWER_OTHER_BIZ = "answer: the package is another biz, nobody stands for it"
    ANSWER_FINAL = "answer: final for this spec"
    ANSWER_UNINSTALLED = "answer: removal uninstall done"
    ARKLET_SILENT = "removal listing unanswered, pod not read"
    ARKLET_SILENT_POD_THERE = "removal listing unanswered, the pod is there"
    NOT_LISTED = "base not listed in this reconcile"
    SUPERSEDED = "a newer Module of the name replaces it on the pod"
    ACTIVATED_MIN_READY = "ACTIVATED, minReadySeconds running"
    ACTIVATED = "ACTIVATED, nothing else of ours listed"
    INSTALLS_USED_UP = "install due, bound used, restart unknown"
    INSTALL_NOT_KEPT = "install due, bound used, base not restarted"
    INSTALL_NOT_VERIFIED = "install due, this reconcile's install not listed"
    REPLACING = "switch or uninstall due that stops the version of a Module it replaces"
    LEAVING_AVAILABLE = "change due, its own status reads Available"
    NEEDS_INSTALL = "install due"
    NEEDS_SWITCH = "switch due"
    NEEDS_UNINSTALL = "uninstall due"
    ALL_REMOVED = "nothing of ours left on the base"


class Do(StrEnum):
    """What the reconciler does. Each names one executor of controllers/module.py."""

    NOTHING = "nothing"
    FAIL = "write Failed, Warning Event"
    BIND = "bind to a base (finalizer, labels) or write Pending/NoEligibleBase"
    WAIT = "write Prepare/WaitingForBase"
    READ_POD = "read the pod from the API server"
    DELETE_MODULE = "delete the Module"
    QUERY = "queryAllBiz"
    CHECK_RESTART = "health: did the base restart since the last install?"
    SUPERSEDED = ("write Prepare/Superseded; nothing while it reads Available, its version runs "
                  "and nobody replacing it wrote it off yet")
    COMPLETING = "write Completing, look again when minReadySeconds end"
    AVAILABLE = "label the pod, then write Available"
    MARK_REPLACED = "write the replaced Module Prepare/Superseded, relabel the pod"
    LEAVE_AVAILABLE = "write Upgrading/Installing"
    INSTALL = "installBiz"
    SWITCH = "switchBiz"
    UNINSTALL = "uninstallBiz"
    LOOK_AGAIN = "look again shortly"
    RETRY = "end as a failure the queue retries (status untouched)"
    BEGIN_REMOVAL = "write Terminating, take the pod's routing label off"
    NEXT_VERSION = "forget the version (Warning Event if MasterBiz)"
    DROP_FINALIZER = "drop the finalizer"


class Reason(StrEnum):
    """Why: the status reason the action writes, or the decision's reason."""

    INVALID_SPEC = "InvalidSpec"
    URL_SCHEME_NOT_ALLOWED = "UrlSchemeNotAllowed"
    SCHEDULING = "Scheduling"
    NO_ELIGIBLE_BASE = "NoEligibleBase"
    OWNERS_TEMPLATE = "OwnersTemplate"
    BASE_GONE = "BaseGone"
    SELECTOR_MISMATCH = "SelectorMismatch"
    GAVE_UP = "GaveUp"
    WAITING_FOR_BASE = "WaitingForBase"
    VERIFY = "Verify"
    LISTING = "Listing"
    BUSY = "Busy"
    SUPERSEDED = "Superseded"
    MIN_READY = "MinReadySeconds"
    INSTALLED = "Installed"
    RESTART_CHECK = "RestartCheck"
    INSTALL_NOT_KEPT = "InstallNotKept"
    INSTALL_NOT_VERIFIED = "InstallNotVerified"
    REPLACING = "Replacing"
    INSTALLING = "Installing"
    SWITCHING = "Switching"
    OLD_VERSION = "OldVersion"
    VERSION_MISMATCH = "VersionMismatch"
    MASTER_BIZ = "MasterBiz"
    ARKLET_UNAVAILABLE = "ArkletUnavailable"
    QUERY_FAILED = "QueryFailed"
    INSTALL_FAILED = "InstallFailed"
    SWITCH_FAILED = "SwitchFailed"
    UNINSTALL_FAILED = "UninstallFailed"
    FAILED = "Failed"
    DELETING = "Deleting"
    REMOVAL = "Removal"
    REMOVED = "Removed"
    NO_FINALIZER = "NoFinalizer"
    SKIP_UNINSTALL = "SkipUninstall"


@dataclass(frozen=True)
class Row:
    do: Do
    reason: Reason | None  # None: the reason comes from the answer table (arklet_answers)
    final: bool = False    # FAIL: no Arklet call until the spec changes
    leads_on: bool = False  # the next observation is planned in the same reconcile


@dataclass(frozen=True)
class Impossible:
    why: str


Entry = Row | Impossible

_E, _D, _R = Event, Do, Reason
_LIVE_ONLY = "looked at only while the Module is live"
_DELETING_ONLY = "looked at only while the Module is being deleted"


def _on(do: Do, reason: Reason | None, *, final: bool = False) -> Row:
    return Row(do, reason, final, leads_on=True)


_LIVE: dict[Event, Entry] = {
    _E.INVALID_SPEC: Row(_D.FAIL, _R.INVALID_SPEC, final=True),
    _E.URL_SCHEME_REFUSED: Row(_D.FAIL, _R.URL_SCHEME_NOT_ALLOWED, final=True),
    _E.UNBOUND: _on(_D.BIND, _R.SCHEDULING),
    _E.NO_ELIGIBLE_BASE: Row(_D.NOTHING, _R.NO_ELIGIBLE_BASE),
    _E.NOT_OWNERS_TEMPLATE: Row(_D.NOTHING, _R.OWNERS_TEMPLATE),
    _E.BASE_GONE_UNCONFIRMED: _on(_D.READ_POD, _R.BASE_GONE),
    _E.BASE_GONE: Row(_D.DELETE_MODULE, _R.BASE_GONE),
    _E.SELECTOR_MISMATCH: Row(_D.FAIL, _R.SELECTOR_MISMATCH, final=True),
    _E.GAVE_UP: Row(_D.NOTHING, _R.GAVE_UP),
    _E.BASE_NOT_READY: Row(_D.WAIT, _R.WAITING_FOR_BASE),
    _E.ANSWER_OBSERVE: _on(_D.QUERY, _R.VERIFY),
    _E.ANSWER_BUSY: Row(_D.LOOK_AGAIN, _R.BUSY),
    _E.ANSWER_RETRY: Row(_D.FAIL, None),
    _E.ANSWER_OTHER_BIZ: _on(_D.UNINSTALL, _R.VERSION_MISMATCH),
    _E.ANSWER_FINAL: Row(_D.FAIL, None, final=True),
    _E.NOT_LISTED: _on(_D.QUERY, _R.LISTING),
    _E.SUPERSEDED: Row(_D.SUPERSEDED, _R.SUPERSEDED),
    _E.ACTIVATED_MIN_READY: Row(_D.COMPLETING, _R.MIN_READY),
    _E.ACTIVATED: Row(_D.AVAILABLE, _R.INSTALLED),
    _E.INSTALLS_USED_UP: _on(_D.CHECK_RESTART, _R.RESTART_CHECK),
    _E.INSTALL_NOT_KEPT: Row(_D.FAIL, _R.INSTALL_NOT_KEPT, final=True),
    _E.INSTALL_NOT_VERIFIED: Row(_D.FAIL, _R.INSTALL_NOT_VERIFIED),
    _E.REPLACING: _on(_D.MARK_REPLACED, _R.REPLACING),
    _E.LEAVING_AVAILABLE: _on(_D.LEAVE_AVAILABLE, _R.INSTALLING),
    _E.NEEDS_INSTALL: _on(_D.INSTALL, _R.INSTALLING),
    _E.NEEDS_SWITCH: _on(_D.SWITCH, _R.SWITCHING),
    _E.NEEDS_UNINSTALL: _on(_D.UNINSTALL, _R.OLD_VERSION),
}

_DELETING: dict[Event, Entry] = {
    # Without a spec there is no module name to uninstall: it stays until the spec is fixed.
    _E.INVALID_SPEC: Row(_D.FAIL, _R.INVALID_SPEC, final=True),
    _E.NO_FINALIZER: Row(_D.NOTHING, _R.NO_FINALIZER),
    _E.REMOVAL_STARTS: _on(_D.BEGIN_REMOVAL, _R.DELETING),
    _E.BASE_GONE: Row(_D.DROP_FINALIZER, _R.BASE_GONE),
    _E.SKIP_UNINSTALL: Row(_D.DROP_FINALIZER, _R.SKIP_UNINSTALL),
    _E.ANSWER_RETRY: Row(_D.FAIL, None),
    _E.ANSWER_UNINSTALLED: _on(_D.NEXT_VERSION, None),
    _E.ARKLET_SILENT: _on(_D.READ_POD, _R.ARKLET_UNAVAILABLE),
    _E.ARKLET_SILENT_POD_THERE: Row(_D.RETRY, _R.ARKLET_UNAVAILABLE),
    _E.NOT_LISTED: _on(_D.QUERY, _R.REMOVAL),
    _E.NEEDS_UNINSTALL: _on(_D.UNINSTALL, _R.REMOVAL),
    _E.ALL_REMOVED: Row(_D.DROP_FINALIZER, _R.REMOVED),
}

_WHY_NOT: dict[Event, str] = {
    _E.URL_SCHEME_REFUSED: "nothing is installed while deleting",
    _E.UNBOUND: "an unbound Module has no finalizer to drop",
    _E.NO_ELIGIBLE_BASE: "an unbound Module has no finalizer to drop",
    _E.NOT_OWNERS_TEMPLATE: "the removal follows no spec",
    _E.NO_FINALIZER: _DELETING_ONLY,
    _E.REMOVAL_STARTS: _DELETING_ONLY,
    _E.BASE_GONE_UNCONFIRMED: "the removal asks the API server only when Arklet is silent",
    _E.SKIP_UNINSTALL: _DELETING_ONLY,
    _E.SELECTOR_MISMATCH: "the removal takes off what runs, wherever it is",
    _E.GAVE_UP: "a deletion ends a give-up",
    _E.BASE_NOT_READY: "the removal uninstalls from a pod that has an IP, ready or not",
    _E.ANSWER_OBSERVE: "removal answers lead to the next version, not to a listing",
    _E.ANSWER_BUSY: "a removal uninstall that meets another command is retried",
    _E.ANSWER_OTHER_BIZ: "the removal installs nothing",
    _E.ANSWER_FINAL: "no removal answer is final: MasterBiz leaves the biz and goes on",
    _E.ANSWER_UNINSTALLED: _DELETING_ONLY,
    _E.ARKLET_SILENT: _DELETING_ONLY,
    _E.ARKLET_SILENT_POD_THERE: _DELETING_ONLY,
    _E.SUPERSEDED: "a Module being deleted hands nothing over",
    _E.ACTIVATED_MIN_READY: _LIVE_ONLY,
    _E.ACTIVATED: _LIVE_ONLY,
    _E.INSTALLS_USED_UP: _LIVE_ONLY,
    _E.INSTALL_NOT_KEPT: _LIVE_ONLY,
    _E.INSTALL_NOT_VERIFIED: _LIVE_ONLY,
    _E.REPLACING: _LIVE_ONLY,
    _E.LEAVING_AVAILABLE: _LIVE_ONLY,
    _E.NEEDS_INSTALL: _LIVE_ONLY,
    _E.NEEDS_SWITCH: _LIVE_ONLY,
    _E.ALL_REMOVED: _DELETING_ONLY,
}


def _stage(rows: dict[Event, Entry]) -> dict[Event, Entry]:
    return {event: rows.get(event) or Impossible(_WHY_NOT[event]) for event in Event}


#: The table: every (stage, event) pair.
TABLE: dict[tuple[Stage, Event], Entry] = {
    (stage, event): entry
    for stage, rows in ((Stage.LIVE, _LIVE), (Stage.DELETING, _DELETING))
    for event, entry in _stage(rows).items()}


def render_markdown() -> str:
    """The table for docs/arklet.md: the rows by stage, in the order the events are checked,
    then the impossible pairs."""
    lines = ["| stage | event | action | reason | then |", "|---|---|---|---|---|"]
    impossible: list[str] = []
    for stage in Stage:
        for event in Event:
            entry = TABLE[stage, event]
            if isinstance(entry, Impossible):
                impossible.append(f"* {stage.value}, {event.value}: {entry.why}.")
                continue
            reason = entry.reason.value if entry.reason else "from the answer table"
            then = "next observation" if entry.leads_on else \
                "done, retried only when the spec changes" if entry.final else "done"
            lines.append(f"| {stage.value} | {event.value} | {entry.do.value} | {reason} | "
                         f"{then} |")
    lines += ["", "Impossible pairs:", "", *impossible]
    return "\n".join(lines) + "\n"

"""What the Module reconciler does with each Arklet answer (pure): one explicit table.

The reconciler observes (queryAllBiz), asks :func:`module_lifecycle.next_step` for one call
(install, switch, uninstall), makes it, and looks the answer up here: ``(call, answer) ->
reaction``. The reaction says whether the reconcile goes on (observe again), ends with a short
look again, ends as a failure the work queue retries with backoff, or ends final for this spec.
Nothing else in the controller interprets an answer, so this table is the whole contract; it is
rendered into docs/arklet.md ("The answer table") and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Call(Enum):
    """An Arklet call of the Module reconciler, by the path it is made on."""

    QUERY = "queryAllBiz"
    INSTALL = "installBiz"
    SWITCH = "switchBiz"
    UNINSTALL = "uninstallBiz"  # an old or broken version, on the way to Available
    REMOVAL_QUERY = "queryAllBiz (removal)"
    REMOVAL_UNINSTALL = "uninstallBiz (removal)"
    CLEANUP_UNINSTALL = "uninstallBiz (stray biz)"  # what an install put there under another name


class Answer(Enum):
    """An answer, as far as the Module is concerned."""

    DONE = "done"  # SUCCESS (NOT_FOUND_BIZ too for an uninstall), naming the wanted biz or none
    REPEAT = "REPEAT_BIZ"  # install: already there, naming the wanted biz or none
    OTHER_BIZ = "other biz"  # install: SUCCESS or REPEAT_BIZ naming another name:version
    BUSY = "CONFLICT"  # another command on this name:version still runs on the base
    MASTER_BIZ = "MASTER_BIZ"  # uninstall: that name:version is the base itself
    REFUSED = "refused"  # any other answer (FAILED, CMD_PROCESS_INTERNAL_ERROR, ...)
    UNAVAILABLE = "no answer"  # timeout, no connection, HTTP 5xx, a reply that is no envelope


class Next(Enum):
    """What the reconcile does after the answer."""

    OBSERVE = "observe"  # ask queryAllBiz again and take the next step in this reconcile
    LOOK_AGAIN = "look again"  # end the reconcile, again after BUSY_RECHECK s; no failure counted
    RETRY = "retry"  # Failed (reason) and a Warning Event; the work queue retries with backoff
    FINAL = "final"  # Failed (reason) and a Warning Event; no Arklet call until the spec changes
    NEXT_VERSION = "next version"  # removal: on to the next version, then drop the finalizer
    ASK_API = "ask the API"  # removal: gone if the pod is gone or replaced, else RETRY


@dataclass(frozen=True)
class Reaction:
    next: Next
    reason: str | None = None  # status.reason (RETRY, FINAL) or the Event's reason
    counts_install: bool = False  # one more of the generation's bounded installs
    note: str = ""


#: Seconds before a Module whose install met another running command looks again.
BUSY_RECHECK = 1.0

_UNAVAILABLE = Reaction(Next.RETRY, "ArkletUnavailable",
                        note="the reconcile ends after one call's timeout; the queue retries")

TABLE: dict[tuple[Call, Answer], Reaction] = {
    (Call.QUERY, Answer.DONE): Reaction(Next.OBSERVE, note="plan the next step from the list"),
    (Call.QUERY, Answer.REFUSED): Reaction(Next.RETRY, "QueryFailed"),
    (Call.QUERY, Answer.UNAVAILABLE): _UNAVAILABLE,
    (Call.INSTALL, Answer.DONE): Reaction(
        Next.OBSERVE, counts_install=True,
        note="verified with queryAllBiz: the listing decides, never the reply's bizInfos"),
    (Call.INSTALL, Answer.REPEAT): Reaction(Next.OBSERVE, counts_install=True,
                                            note="verified with queryAllBiz"),
    (Call.INSTALL, Answer.OTHER_BIZ): Reaction(
        Next.FINAL, "VersionMismatch",
        note="the stray biz is uninstalled unless another Module on the pod stands for it"),
    (Call.INSTALL, Answer.BUSY): Reaction(Next.LOOK_AGAIN,
                                          note="e.g. an install from before a restart"),
    (Call.INSTALL, Answer.REFUSED): Reaction(Next.RETRY, "InstallFailed",
                                             note="the repository may come back"),
    (Call.INSTALL, Answer.UNAVAILABLE): _UNAVAILABLE,
    (Call.SWITCH, Answer.DONE): Reaction(Next.OBSERVE),
    (Call.SWITCH, Answer.BUSY): Reaction(Next.RETRY, "SwitchFailed"),
    (Call.SWITCH, Answer.REFUSED): Reaction(Next.RETRY, "SwitchFailed"),
    (Call.SWITCH, Answer.UNAVAILABLE): _UNAVAILABLE,
    (Call.UNINSTALL, Answer.DONE): Reaction(Next.OBSERVE),
    (Call.UNINSTALL, Answer.MASTER_BIZ): Reaction(Next.FINAL, "MasterBiz",
                                                  note="give the module another name"),
    (Call.UNINSTALL, Answer.BUSY): Reaction(Next.RETRY, "UninstallFailed"),
    (Call.UNINSTALL, Answer.REFUSED): Reaction(Next.RETRY, "UninstallFailed"),
    (Call.UNINSTALL, Answer.UNAVAILABLE): _UNAVAILABLE,
    (Call.REMOVAL_QUERY, Answer.DONE): Reaction(Next.OBSERVE, note="uninstall what is listed"),
    (Call.REMOVAL_QUERY, Answer.REFUSED): Reaction(Next.RETRY, "QueryFailed"),
    (Call.REMOVAL_QUERY, Answer.UNAVAILABLE): Reaction(
        Next.ASK_API, "ArkletUnavailable",
        note="a pod that is gone has nothing left to uninstall"),
    (Call.REMOVAL_UNINSTALL, Answer.DONE): Reaction(Next.NEXT_VERSION),
    (Call.REMOVAL_UNINSTALL, Answer.MASTER_BIZ): Reaction(
        Next.NEXT_VERSION, "MasterBiz", note="Warning Event; the base keeps it"),
    (Call.REMOVAL_UNINSTALL, Answer.BUSY): Reaction(Next.RETRY, "UninstallFailed"),
    (Call.REMOVAL_UNINSTALL, Answer.REFUSED): Reaction(Next.RETRY, "UninstallFailed"),
    (Call.REMOVAL_UNINSTALL, Answer.UNAVAILABLE): _UNAVAILABLE,
    (Call.CLEANUP_UNINSTALL, Answer.DONE): Reaction(
        Next.FINAL, "VersionMismatch", note="the stray biz is gone again"),
    (Call.CLEANUP_UNINSTALL, Answer.REFUSED): Reaction(
        Next.FINAL, "VersionMismatch", note="the message says the stray biz is still there"),
    (Call.CLEANUP_UNINSTALL, Answer.UNAVAILABLE): Reaction(
        Next.FINAL, "VersionMismatch", note="the message says the stray biz may be there"),
}

#: Answers a call cannot get (an install is never answered MASTER_BIZ, a switch never
#: REPEAT_BIZ): should one come anyway, it is treated as any other refusal of that call.
_FALLBACK = Answer.REFUSED


def react(call: Call, answer: Answer) -> Reaction:
    """The reaction to ``answer`` of ``call`` (see :data:`TABLE`)."""
    return TABLE.get((call, answer)) or TABLE[(call, _FALLBACK)]


def answer_of(outcome: str, ok: bool, wanted: tuple[str, str] | None = None,
              identity: tuple[str, str] | None = None) -> Answer:
    """Classify an answer: ``outcome`` is the Arklet client's Outcome name, ``ok`` whether the
    command achieved what was asked, ``identity`` the name:version an install answer names (a
    real Arklet reads it from the jar's manifest, whatever the request said)."""
    if outcome == "CONFLICT":
        return Answer.BUSY
    if outcome == "MASTER_BIZ":
        return Answer.MASTER_BIZ
    if outcome == "REPEAT_BIZ" or ok:
        if identity is not None and wanted is not None and identity != wanted:
            return Answer.OTHER_BIZ
        return Answer.REPEAT if outcome == "REPEAT_BIZ" else Answer.DONE
    return Answer.REFUSED


def render_table() -> str:
    """:data:`TABLE` as the Markdown table docs/arklet.md carries."""
    rows = ["| call | answer | then | reason | note |", "|---|---|---|---|---|"]
    for (call, answer), reaction in TABLE.items():
        then = reaction.next.value + (" (+1 install)" if reaction.counts_install else "")
        rows.append(f"| {call.value} | {answer.value} | {then} | {reaction.reason or ''} | "
                    f"{reaction.note} |")
    return "\n".join(rows) + "\n"

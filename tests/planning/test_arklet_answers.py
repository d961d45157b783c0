"""The answer table of the Module reconciler (planning/arklet_answers.py), and that
docs/arklet.md shows the same table."""

from __future__ import annotations

import pathlib

import pytest

from module_controller.planning.arklet_answers import (TABLE, Answer, Call, Next, Reaction,
                                                       answer_of, react, render_table)

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "arklet.md"
BEGIN = "<!-- answer table: generated from planning/arklet_answers.py, render_table() -->"
END = "<!-- end of answer table -->"
WANTED = ("provider", "3.0.0")


@pytest.mark.parametrize("outcome, ok, identity, answer", [
    ("SUCCESS", True, WANTED, Answer.DONE),
    ("SUCCESS", True, None, Answer.DONE),  # names nothing: queryAllBiz will tell
    ("NOT_FOUND_BIZ", True, None, Answer.DONE),  # an uninstall of what is not there
    ("REPEAT_BIZ", False, WANTED, Answer.REPEAT),
    ("REPEAT_BIZ", False, None, Answer.REPEAT),
    ("SUCCESS", True, ("provider", "2.0.0"), Answer.OTHER_BIZ),
    ("REPEAT_BIZ", False, ("other", "3.0.0"), Answer.OTHER_BIZ),
    ("CONFLICT", False, None, Answer.BUSY),
    ("MASTER_BIZ", False, None, Answer.MASTER_BIZ),
    ("FAILED", False, None, Answer.REFUSED),
    ("INTERNAL_ERROR", False, None, Answer.REFUSED),
    ("NOT_FOUND_BIZ", False, None, Answer.REFUSED),  # a switch to a version that is not there
])
def test_answer_of(outcome: str, ok: bool, identity, answer: Answer) -> None:
    assert answer_of(outcome, ok, WANTED, identity) is answer


@pytest.mark.parametrize("call, answer, next_, reason", [
    (Call.INSTALL, Answer.DONE, Next.OBSERVE, None),
    (Call.INSTALL, Answer.REPEAT, Next.OBSERVE, None),
    (Call.INSTALL, Answer.OTHER_BIZ, Next.FINAL, "VersionMismatch"),
    (Call.INSTALL, Answer.BUSY, Next.LOOK_AGAIN, None),
    (Call.INSTALL, Answer.REFUSED, Next.RETRY, "InstallFailed"),
    (Call.INSTALL, Answer.UNAVAILABLE, Next.RETRY, "ArkletUnavailable"),
    (Call.INSTALL, Answer.MASTER_BIZ, Next.RETRY, "InstallFailed"),  # not a real answer: refusal
    (Call.SWITCH, Answer.BUSY, Next.RETRY, "SwitchFailed"),
    (Call.SWITCH, Answer.REPEAT, Next.RETRY, "SwitchFailed"),
    (Call.UNINSTALL, Answer.MASTER_BIZ, Next.FINAL, "MasterBiz"),
    (Call.UNINSTALL, Answer.DONE, Next.OBSERVE, None),
    (Call.QUERY, Answer.UNAVAILABLE, Next.RETRY, "ArkletUnavailable"),
    (Call.REMOVAL_QUERY, Answer.UNAVAILABLE, Next.ASK_API, "ArkletUnavailable"),
    (Call.REMOVAL_UNINSTALL, Answer.MASTER_BIZ, Next.NEXT_VERSION, "MasterBiz"),
    (Call.REMOVAL_UNINSTALL, Answer.DONE, Next.NEXT_VERSION, None),
    (Call.REMOVAL_UNINSTALL, Answer.REFUSED, Next.RETRY, "UninstallFailed"),
])
def test_react(call: Call, answer: Answer, next_: Next, reason: str | None) -> None:
    reaction = react(call, answer)
    assert (reaction.next, reaction.reason) == (next_, reason)


def test_every_call_has_a_reaction_to_every_answer() -> None:
    for call in Call:
        for answer in Answer:
            assert isinstance(react(call, answer), Reaction)


def test_a_call_that_got_no_answer_never_goes_on_in_the_same_reconcile() -> None:
    """The bound of docs/arklet.md: after a call without an answer the reconcile ends (and the
    work queue's backoff schedules the next try), so no retry nests inside the reconcile."""
    for call in Call:
        assert react(call, Answer.UNAVAILABLE).next in (Next.RETRY, Next.ASK_API, Next.FINAL)
        if react(call, Answer.UNAVAILABLE).next is Next.FINAL:
            # Only the cleanup after a mismatch: the Module fails for good either way, and the
            # message says the stray biz may still be there.
            assert call is Call.CLEANUP_UNINSTALL


def test_only_installs_answered_as_done_count_against_the_bound() -> None:
    counted = {key for key, reaction in TABLE.items() if reaction.counts_install}
    assert counted == {(Call.INSTALL, Answer.DONE), (Call.INSTALL, Answer.REPEAT)}


def test_final_reasons_are_the_ones_gave_up_knows() -> None:
    from module_controller.planning.module_lifecycle import FINAL_REASONS

    finals = {r.reason for r in TABLE.values() if r.next is Next.FINAL}
    assert finals <= FINAL_REASONS


def test_the_doc_shows_the_table_of_the_code() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the markers of the answer table"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == render_table(), (
        "docs/arklet.md's answer table differs from planning/arklet_answers.py; regenerate it: "
        ".venv/bin/python -c 'from module_controller.planning.arklet_answers import "
        "render_table; print(render_table())'")

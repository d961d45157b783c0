"""The Module's lifecycle machine (planning/module_machine.py, planning/module_table.py), no
cluster: the table is total, every observation gets exactly one action from a row, every row is
reached, the docs show the table, and the rules that keep status honest hold for any
observation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from module_controller.api.common import UpgradePolicy
from module_controller.api.module import ModulePhase
from module_controller.planning.arklet_answers import Answer, Call
from module_controller.planning.module_lifecycle import (INSTALLS_PER_GENERATION, MinReady,
                                                         PodView)
from module_controller.planning.module_machine import (DELETING_CALLS, LIVE_CALLS, Action,
                                                       Observation, classify, plan)
from module_controller.planning.module_table import (TABLE, Do, Event, Impossible, Reason, Row,
                                                     Stage, render_markdown)

DOC = Path(__file__).resolve().parents[2] / "docs" / "arklet.md"
BEGIN = "<!-- module lifecycle: generated from planning/module_table.py, render_markdown() -->"
END = "<!-- end of module lifecycle -->"
READY = PodView(exists=True, ready=True, ip="10.0.0.1")
CHANGES = (Do.INSTALL, Do.SWITCH, Do.UNINSTALL)

# ----------------------------------------------------------------- observations, any of them

VERSIONS = st.sampled_from(["1", "2", "3"])
STATES = st.sampled_from(["ACTIVATED", "DEACTIVATED", "BROKEN", "RESOLVED"])
PODS = st.builds(PodView, exists=st.booleans(), ready=st.booleans(),
                 ip=st.sampled_from([None, "10.0.0.1"]), deleting=st.booleans())
LISTINGS = st.dictionaries(VERSIONS, STATES, max_size=3)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    deleting = draw(st.booleans())
    listing = draw(st.none() | LISTINGS)
    calls = sorted(DELETING_CALLS if deleting else LIVE_CALLS, key=lambda c: c.value)
    if listing is None:
        calls = [c for c in calls if c in (Call.QUERY, Call.REMOVAL_QUERY)]
    answer = None
    if draw(st.booleans()):
        call = draw(st.sampled_from(calls))
        answers = [a for a in Answer
                   if not (a is Answer.DONE and call in (Call.QUERY, Call.REMOVAL_QUERY))]
        answer = (call, draw(st.sampled_from(answers)))
    return Observation(
        wanted=draw(VERSIONS), policy=draw(st.sampled_from(list(UpgradePolicy))),
        deleting=deleting, finalizer=draw(st.booleans()), invalid_spec=draw(st.booleans()),
        url_scheme_allowed=draw(st.booleans()), bound=draw(st.booleans()),
        bind_failed=draw(st.booleans()), owners_template=draw(st.booleans()), pod=draw(PODS),
        pod_read=draw(st.booleans()), skip_uninstall=draw(st.booleans()),
        selector_matches=draw(st.booleans()), installed=draw(st.none() | VERSIONS),
        phase=draw(st.none() | st.sampled_from([p.value for p in ModulePhase])),
        gave_up=draw(st.booleans()), removal_begun=draw(st.booleans()), listing=listing,
        claimed=frozenset(draw(st.lists(VERSIONS, max_size=2))),
        superseded_by=draw(st.none() | st.just("newer")),
        replacing=tuple(draw(st.lists(st.tuples(st.just("older"), VERSIONS), max_size=1))),
        installs=draw(st.integers(0, INSTALLS_PER_GENERATION + 1)),
        installed_once=draw(st.booleans()), restarted=draw(st.none() | st.booleans()),
        answer=answer, stray=draw(st.none() | st.just(("other", "9"))),
        stray_owned=draw(st.booleans()),
        min_ready=draw(st.sampled_from([MinReady(), MinReady(completing=True, wait=5.0),
                                        MinReady(wait=2.0)])))


# ----------------------------------------------------------------- the table


def test_the_table_is_total() -> None:
    assert set(TABLE) == {(stage, event) for stage in Stage for event in Event}
    for entry in TABLE.values():
        assert isinstance(entry, (Row, Impossible))
        if isinstance(entry, Row):
            assert not (entry.final and entry.do is not Do.FAIL), entry
            assert not (entry.final and entry.leads_on), entry


def test_docs_show_the_table() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the markers of the lifecycle table"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == render_markdown(), (
        "docs/arklet.md's Module lifecycle table differs from planning/module_table.py; "
        "regenerate it: .venv/bin/python -c 'from module_controller.planning.module_table "
        "import render_markdown; print(render_markdown())'")


@settings(max_examples=400, deadline=None)
@given(observations())
def test_every_observation_gets_one_action_from_a_row(obs: Observation) -> None:
    stage, event = classify(obs)
    entry = TABLE[stage, event]
    assert isinstance(entry, Row), f"{stage}/{event} is impossible ({entry}) yet observed"
    action = plan(obs)
    assert action == plan(obs) and action.event is event
    assert (action.do, action.leads_on, action.final) == (entry.do, entry.leads_on, entry.final)
    if action.do in CHANGES:
        assert action.call is not None and action.version, action
    if action.do is Do.QUERY:
        assert action.call is (Call.REMOVAL_QUERY if obs.deleting else Call.QUERY)


# ----------------------------------------------------------------- every row is reached

def live(**kw: object) -> Observation:
    base: dict[str, object] = {"wanted": "2", "pod": READY, "listing": {}}
    return Observation(**{**base, **kw})  # type: ignore[arg-type]


def removing(**kw: object) -> Observation:
    base: dict[str, object] = {"wanted": "2", "pod": READY, "deleting": True,
                               "removal_begun": True, "listing": {}}
    return Observation(**{**base, **kw})  # type: ignore[arg-type]


GONE = PodView(exists=False)
REACH: list[tuple[Observation, Stage, Event]] = [
    (live(invalid_spec=True), Stage.LIVE, Event.INVALID_SPEC),
    (live(url_scheme_allowed=False), Stage.LIVE, Event.URL_SCHEME_REFUSED),
    (live(bound=False), Stage.LIVE, Event.UNBOUND),
    (live(bound=False, bind_failed=True), Stage.LIVE, Event.NO_ELIGIBLE_BASE),
    (live(owners_template=False), Stage.LIVE, Event.NOT_OWNERS_TEMPLATE),
    (live(pod=GONE), Stage.LIVE, Event.BASE_GONE_UNCONFIRMED),
    (live(pod=GONE, pod_read=True), Stage.LIVE, Event.BASE_GONE),
    (live(selector_matches=False), Stage.LIVE, Event.SELECTOR_MISMATCH),
    (live(gave_up=True), Stage.LIVE, Event.GAVE_UP),
    (live(pod=PodView(exists=True, ready=False, ip="10.0.0.1")), Stage.LIVE,
     Event.BASE_NOT_READY),
    (live(answer=(Call.INSTALL, Answer.DONE)), Stage.LIVE, Event.ANSWER_OBSERVE),
    (live(answer=(Call.INSTALL, Answer.BUSY)), Stage.LIVE, Event.ANSWER_BUSY),
    (live(answer=(Call.INSTALL, Answer.REFUSED)), Stage.LIVE, Event.ANSWER_RETRY),
    (live(answer=(Call.INSTALL, Answer.OTHER_BIZ), stray=("p", "9")), Stage.LIVE,
     Event.ANSWER_OTHER_BIZ),
    (live(answer=(Call.UNINSTALL, Answer.MASTER_BIZ)), Stage.LIVE, Event.ANSWER_FINAL),
    (live(listing=None), Stage.LIVE, Event.NOT_LISTED),
    (live(superseded_by="m2"), Stage.LIVE, Event.SUPERSEDED),
    (live(listing={"2": "ACTIVATED"}, min_ready=MinReady(wait=3.0)), Stage.LIVE,
     Event.ACTIVATED_MIN_READY),
    (live(listing={"2": "ACTIVATED"}), Stage.LIVE, Event.ACTIVATED),
    (live(installs=INSTALLS_PER_GENERATION), Stage.LIVE, Event.INSTALLS_USED_UP),
    (live(installs=INSTALLS_PER_GENERATION, restarted=False), Stage.LIVE,
     Event.INSTALL_NOT_KEPT),
    (live(installed_once=True), Stage.LIVE, Event.INSTALL_NOT_VERIFIED),
    (live(listing={"1": "ACTIVATED", "2": "DEACTIVATED"}, replacing=(("m1", "1"),)),
     Stage.LIVE, Event.REPLACING),
    (live(phase=ModulePhase.AVAILABLE.value), Stage.LIVE, Event.LEAVING_AVAILABLE),
    (live(), Stage.LIVE, Event.NEEDS_INSTALL),
    (live(listing={"2": "DEACTIVATED"}), Stage.LIVE, Event.NEEDS_SWITCH),
    (live(listing={"2": "ACTIVATED", "1": "DEACTIVATED"}), Stage.LIVE, Event.NEEDS_UNINSTALL),
    (removing(invalid_spec=True), Stage.DELETING, Event.INVALID_SPEC),
    (removing(finalizer=False), Stage.DELETING, Event.NO_FINALIZER),
    (removing(removal_begun=False), Stage.DELETING, Event.REMOVAL_STARTS),
    (removing(pod=GONE), Stage.DELETING, Event.BASE_GONE),
    (removing(skip_uninstall=True), Stage.DELETING, Event.SKIP_UNINSTALL),
    (removing(answer=(Call.REMOVAL_UNINSTALL, Answer.REFUSED)), Stage.DELETING,
     Event.ANSWER_RETRY),
    (removing(listing={"2": "ACTIVATED"}, answer=(Call.REMOVAL_UNINSTALL, Answer.DONE)),
     Stage.DELETING, Event.ANSWER_UNINSTALLED),
    (removing(listing=None, answer=(Call.REMOVAL_QUERY, Answer.UNAVAILABLE)), Stage.DELETING,
     Event.ARKLET_SILENT),
    (removing(listing=None, answer=(Call.REMOVAL_QUERY, Answer.UNAVAILABLE), pod_read=True),
     Stage.DELETING, Event.ARKLET_SILENT_POD_THERE),
    (removing(listing=None), Stage.DELETING, Event.NOT_LISTED),
    (removing(listing={"2": "ACTIVATED"}), Stage.DELETING, Event.NEEDS_UNINSTALL),
    (removing(), Stage.DELETING, Event.ALL_REMOVED),
]


@pytest.mark.parametrize("obs, stage, event", REACH, ids=[f"{s}-{e.name}" for _, s, e in REACH])
def test_each_row_is_reached(obs: Observation, stage: Stage, event: Event) -> None:
    assert classify(obs) == (stage, event)


def test_every_row_has_an_example() -> None:
    rows = {pair for pair, entry in TABLE.items() if isinstance(entry, Row)}
    assert rows == {(stage, event) for _, stage, event in REACH}


@pytest.mark.parametrize("fields", [
    {"answer": (Call.REMOVAL_UNINSTALL, Answer.DONE), "listing": {}},  # a removal call, live
    {"deleting": True, "answer": (Call.INSTALL, Answer.DONE), "listing": {}},
    {"answer": (Call.QUERY, Answer.DONE)},  # a listing that came is the listing
    {"answer": (Call.INSTALL, Answer.DONE)},  # an install is planned from a listing
])
def test_observations_no_reconcile_can_hold_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Observation(wanted="2", **fields)  # type: ignore[arg-type]


# ----------------------------------------------------------------- rules over any observation

@settings(max_examples=400, deadline=None)
@given(observations())
def test_nothing_changes_on_the_base_while_a_status_claims_it_runs(obs: Observation) -> None:
    """A Module's own switch, and an uninstall of a version a Module it replaces stands for,
    are made only when no Module it replaces reads Available; any change of its own only when
    its own status does not read Available (for the spec before)."""
    action = plan(obs)
    if action.call is Call.SWITCH:
        assert not obs.replacing, (obs, action)
    if action.call is Call.UNINSTALL:
        assert action.version not in {v for _, v in obs.replacing}, (obs, action)
    if action.call in (Call.INSTALL, Call.SWITCH, Call.UNINSTALL):
        assert obs.phase != ModulePhase.AVAILABLE, (obs, action)


@settings(max_examples=400, deadline=None)
@given(observations())
def test_a_superseded_module_claims_available_only_while_its_version_runs(
        obs: Observation) -> None:
    action = plan(obs)
    if action.do is Do.SUPERSEDED and action.phase is ModulePhase.AVAILABLE:
        assert (obs.listing or {}).get(obs.wanted) == "ACTIVATED"
        assert obs.phase == ModulePhase.AVAILABLE  # never back to Available once marked


@settings(max_examples=400, deadline=None)
@given(observations())
def test_bounds_and_give_ups_hold(obs: Observation) -> None:
    action = plan(obs)
    if action.call is Call.INSTALL:
        assert obs.installs < INSTALLS_PER_GENERATION and not obs.installed_once
        assert not obs.gave_up and not obs.deleting
    if obs.deleting:
        assert action.do not in (Do.BIND, Do.AVAILABLE, Do.MARK_REPLACED) and \
            action.call not in (Call.INSTALL, Call.SWITCH)


# ----------------------------------------------------------------- walks on a simulated base

def _walk(obs: Observation, base: dict[str, str], limit: int = 20) -> list[Action]:
    """Run the machine against a base that does what it is told (like the fake Arklet: an
    install beside an ACTIVATED version stays DEACTIVATED, a switch deactivates the others)."""
    taken: list[Action] = []
    for _ in range(limit):
        action = plan(obs)
        taken.append(action)
        if action.do is Do.MARK_REPLACED:
            obs = replace(obs, replacing=())
        elif action.do is Do.LEAVE_AVAILABLE:
            obs = replace(obs, phase=ModulePhase.UPGRADING.value)
        elif action.do is Do.QUERY:
            obs = replace(obs, listing=dict(base), answer=None)
        elif action.do in CHANGES:
            assert action.version is not None and action.call is not None
            if action.do is Do.INSTALL:
                active = any(s == "ACTIVATED" for s in base.values())
                base[action.version] = "DEACTIVATED" if active else "ACTIVATED"
                obs = replace(obs, installed_once=True)
            elif action.do is Do.SWITCH:
                for v in base:
                    base[v] = "DEACTIVATED"
                base[action.version] = "ACTIVATED"
            else:
                base.pop(action.version, None)
            obs = replace(obs, answer=(action.call, Answer.DONE))
        elif action.do is Do.NEXT_VERSION:
            listing = dict(obs.listing or {})
            listing.pop(action.version or "", None)
            obs = replace(obs, listing=listing, answer=None)
        elif action.do is Do.BEGIN_REMOVAL:
            obs = replace(obs, removal_begun=True)
        if not action.leads_on:
            return taken
    raise AssertionError(f"no end after {limit} actions: {taken}")


def test_replacing_in_place_writes_the_old_module_off_before_the_switch() -> None:
    """The install leaves the new version DEACTIVATED beside the old one (the old Module may
    still read Available: its version runs); the switch stops the old one, so the old Module
    is written off first."""
    base = {"1": "ACTIVATED"}
    obs = Observation(wanted="2", pod=READY, claimed=frozenset({"1"}),
                      replacing=(("m1", "1"),))
    taken = [a.do for a in _walk(obs, base)]
    assert taken[:5] == [Do.QUERY, Do.INSTALL, Do.QUERY, Do.MARK_REPLACED, Do.SWITCH], taken
    assert taken[-1] is Do.AVAILABLE and base == {"1": "DEACTIVATED", "2": "ACTIVATED"}


def test_uninstall_then_install_writes_the_old_module_off_before_the_uninstall() -> None:
    base = {"1": "ACTIVATED"}
    obs = Observation(wanted="2", policy=UpgradePolicy.UNINSTALL_THEN_INSTALL, pod=READY,
                      replacing=(("m1", "1"),))
    taken = [a.do for a in _walk(obs, base)]
    assert taken[:3] == [Do.QUERY, Do.MARK_REPLACED, Do.UNINSTALL], taken
    assert taken[-1] is Do.AVAILABLE and base == {"2": "ACTIVATED"}


def test_the_replaced_module_stays_superseded_once_written_so() -> None:
    running = Observation(wanted="1", pod=READY, listing={"1": "ACTIVATED"},
                          superseded_by="m2", phase=ModulePhase.AVAILABLE.value)
    assert plan(running).phase is ModulePhase.AVAILABLE  # nobody replaces it yet
    marked = replace(running, phase=ModulePhase.PREPARE.value)
    assert (plan(marked).phase, plan(marked).reason) == (ModulePhase.PREPARE, Reason.SUPERSEDED)


@pytest.mark.parametrize("policy", list(UpgradePolicy))
def test_an_upgrade_walks_to_available(policy: UpgradePolicy) -> None:
    base = {"1": "ACTIVATED"}
    obs = Observation(wanted="2", policy=policy, pod=READY, phase=ModulePhase.AVAILABLE.value)
    taken = _walk(obs, base)
    assert taken[1].do is Do.LEAVE_AVAILABLE and taken[-1].do is Do.AVAILABLE
    assert base == {"2": "ACTIVATED"}


def test_the_removal_takes_off_what_no_other_module_stands_for() -> None:
    base = {"1": "DEACTIVATED", "2": "ACTIVATED", "3": "DEACTIVATED"}
    obs = Observation(wanted="2", pod=READY, deleting=True, claimed=frozenset({"3"}))
    taken = _walk(obs, base)
    assert [a.do for a in taken][:2] == [Do.BEGIN_REMOVAL, Do.QUERY]
    assert {a.version for a in taken if a.do is Do.UNINSTALL} == {"1", "2"}
    assert all(a.call is Call.REMOVAL_UNINSTALL for a in taken if a.do is Do.UNINSTALL)
    assert taken[-1].do is Do.DROP_FINALIZER and base == {"3": "DEACTIVATED"}


def test_a_stray_biz_is_cleaned_up_then_the_module_fails_for_good() -> None:
    obs = live(answer=(Call.INSTALL, Answer.OTHER_BIZ), stray=("other", "9"))
    cleanup = plan(obs)
    assert (cleanup.do, cleanup.call, cleanup.name, cleanup.version) == (
        Do.UNINSTALL, Call.CLEANUP_UNINSTALL, "other", "9")
    for answer in Answer:
        after = plan(replace(obs, answer=(Call.CLEANUP_UNINSTALL, answer)))
        assert (after.do, after.reason, after.final) == (Do.FAIL, Reason.VERSION_MISMATCH, True)
    owned = plan(replace(obs, stray_owned=True))
    assert (owned.do, owned.reason, owned.final) == (Do.FAIL, Reason.VERSION_MISMATCH, True)


@pytest.mark.parametrize("installs, installed_once, restarted, expected", [
    (0, False, None, Event.NEEDS_INSTALL),
    (INSTALLS_PER_GENERATION - 1, False, None, Event.NEEDS_INSTALL),
    (INSTALLS_PER_GENERATION, False, None, Event.INSTALLS_USED_UP),  # ask health first
    (INSTALLS_PER_GENERATION, False, False, Event.INSTALL_NOT_KEPT),
    (INSTALLS_PER_GENERATION, True, False, Event.INSTALL_NOT_KEPT),  # the bound first: final
    (1, True, None, Event.INSTALL_NOT_VERIFIED),
])
def test_the_install_gate(installs: int, installed_once: bool, restarted: bool | None,
                          expected: Event) -> None:
    obs = live(installs=installs, installed_once=installed_once, restarted=restarted)
    assert classify(obs) == (Stage.LIVE, expected)


def test_master_biz_fails_for_good_live_and_is_left_on_removal() -> None:
    assert plan(live(listing={"2": "ACTIVATED", "1": "ACTIVATED"},
                     answer=(Call.UNINSTALL, Answer.MASTER_BIZ))).reason is Reason.MASTER_BIZ
    left = plan(removing(listing={"2": "ACTIVATED"},
                         answer=(Call.REMOVAL_UNINSTALL, Answer.MASTER_BIZ)))
    assert (left.do, left.reason, left.version) == (Do.NEXT_VERSION, Reason.MASTER_BIZ, "2")

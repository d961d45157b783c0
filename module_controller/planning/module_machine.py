"""The Module's lifecycle as a pure machine: ``plan(observation) -> action``.

The reconciler (controllers/module.py) observes the Module, its base pod, Arklet's listing and
the answer to its last call, asks :func:`plan`, executes the action, folds what it learnt into
the next observation, and asks again until the action ends the reconcile. :func:`classify`
names the stage and the first event that holds (the order of :class:`module_table.Event`);
:data:`module_table.TABLE` says what to do; :func:`plan` adds the action's details (which
version, which Module it replaces, how long to wait). Answers are read through
:func:`arklet_answers.react` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from ..api.common import UpgradePolicy
from ..api.module import ModulePhase
from .arklet_answers import BUSY_RECHECK, Answer, Call, Next, react
from .module_lifecycle import (ACTIVATED, Kind, MinReady, PodView, Step, may_install,
                               next_step, removal_step)
from .module_table import TABLE, Do, Event, Impossible, Reason, Row, Stage

#: Seconds before a superseded Module looks again: which Module is the release's target can
#: change (a rollback), and no event need say so.
SUPERSEDED_RECHECK = 2.0
#: Seconds before a Module whose base the cache thought gone, and the API server did not,
#: looks again.
CACHE_BEHIND_RECHECK = 0.1


@dataclass(frozen=True)
class Observation:
    """All the machine needs, as plain data. Fields only some events look at have defaults."""

    wanted: str                                   # spec.module.version
    policy: UpgradePolicy = UpgradePolicy.INSTALL_THEN_UNINSTALL
    deleting: bool = False
    finalizer: bool = True
    invalid_spec: bool = False
    url_scheme_allowed: bool = True
    bound: bool = True                            # binding labels name a base pod
    bind_failed: bool = False                     # no eligible base in this reconcile
    owners_template: bool = True                  # spec is its ModuleReplicaSet's template
    pod: PodView = PodView(exists=True, ready=True, ip="")
    pod_read: bool = False                        # the pod was read from the API server
    skip_uninstall: bool = False                  # the pod's annotation: nothing to uninstall
    selector_matches: bool = True
    installed: str | None = None                  # status.installedVersion
    phase: str | None = None                      # status.status
    gave_up: bool = False                         # Failed for good for this generation
    removal_begun: bool = False                   # Terminating written in this reconcile
    listing: Mapping[str, str] | None = None      # this module's versions on the base, by state
    claimed: frozenset[str] = frozenset()         # versions other Modules on the pod stand for
    superseded_by: str | None = None              # a newer Module of the name on the pod
    #: (name, version) of the Modules it replaces on the pod that read Available
    replacing: tuple[tuple[str, str], ...] = ()
    installs: int = 0                             # installs answered as done, this generation
    installed_once: bool = False                  # ... of them in this reconcile
    restarted: bool | None = None                 # base restarted since the last install
    answer: tuple[Call, Answer] | None = None     # the last call's answer, not yet acted on
    stray: tuple[str, str] | None = None          # the biz an OTHER_BIZ answer named
    stray_owned: bool = False                     # another Module on the pod stands for it
    min_ready: MinReady = field(default_factory=MinReady)

    def __post_init__(self) -> None:
        """An answer is one the stage's calls can give and the reconciler still holds: a
        listing that came is the listing (never a DONE query), and a change was planned from
        a listing, kept until the next query."""
        if self.answer is None:
            return
        call, answer = self.answer
        if call not in (DELETING_CALLS if self.deleting else LIVE_CALLS):
            raise ValueError(f"{call.value} is no call of a {'deleted' if self.deleting else 'live'}"
                             " Module")
        if call in (Call.QUERY, Call.REMOVAL_QUERY) and answer is Answer.DONE:
            raise ValueError("a query answered is a listing, not an answer")
        if call not in (Call.QUERY, Call.REMOVAL_QUERY) and self.listing is None:
            raise ValueError(f"{call.value} is planned from a listing")


#: The calls of each stage (an answer of the other stage's calls is never observed).
LIVE_CALLS = frozenset({Call.QUERY, Call.INSTALL, Call.SWITCH, Call.UNINSTALL,
                        Call.CLEANUP_UNINSTALL})
DELETING_CALLS = frozenset({Call.REMOVAL_QUERY, Call.REMOVAL_UNINSTALL})


@dataclass(frozen=True)
class Action:
    do: Do
    reason: Reason
    event: Event
    final: bool = False
    leads_on: bool = False
    call: Call | None = None          # the Arklet call (row of the answer table) it makes
    name: str | None = None           # UNINSTALL: the biz name when not the Module's own
    version: str | None = None        # INSTALL, SWITCH, UNINSTALL, NEXT_VERSION
    replaced: tuple[str, ...] = ()    # MARK_REPLACED: the Modules to write not Available
    phase: ModulePhase | None = None  # SUPERSEDED: the phase it reports
    after: float | None = None        # seconds until the reconcile looks again
    counts_install: bool = False      # QUERY: the answer before counts one more install
    completing: bool = False          # COMPLETING: write Completing first


def _answer_event(obs: Observation) -> Event:
    assert obs.answer is not None
    call, answer = obs.answer
    reaction = react(call, answer)
    if reaction.next is Next.OBSERVE:
        return Event.ANSWER_OBSERVE
    if reaction.next is Next.LOOK_AGAIN:
        return Event.ANSWER_BUSY
    if reaction.next is Next.NEXT_VERSION:
        return Event.ANSWER_UNINSTALLED
    if reaction.next is Next.ASK_API:
        return Event.ARKLET_SILENT_POD_THERE if obs.pod_read else Event.ARKLET_SILENT
    if reaction.next is Next.FINAL:
        if call is Call.INSTALL and answer is Answer.OTHER_BIZ and obs.stray is not None \
                and not obs.stray_owned:
            return Event.ANSWER_OTHER_BIZ
        return Event.ANSWER_FINAL
    return Event.ANSWER_RETRY


def _gone(pod: PodView) -> bool:
    return not pod.exists or pod.deleting


def _classify_deleting(obs: Observation) -> Event:
    if not obs.finalizer:
        return Event.NO_FINALIZER
    if not obs.removal_begun:
        return Event.REMOVAL_STARTS
    if not obs.pod.exists or not obs.pod.ip:
        return Event.BASE_GONE
    if obs.skip_uninstall:
        return Event.SKIP_UNINSTALL
    if obs.answer is not None:
        return _answer_event(obs)
    if obs.listing is None:
        return Event.NOT_LISTED
    step = removal_step(obs.pod, dict(obs.listing), obs.claimed)
    return Event.NEEDS_UNINSTALL if step.kind is Kind.UNINSTALL else Event.ALL_REMOVED


def _classify_live(obs: Observation) -> Event:
    if obs.invalid_spec:
        return Event.INVALID_SPEC
    if not obs.url_scheme_allowed:
        return Event.URL_SCHEME_REFUSED
    if not obs.bound:
        return Event.NO_ELIGIBLE_BASE if obs.bind_failed else Event.UNBOUND
    if not obs.owners_template:
        return Event.NOT_OWNERS_TEMPLATE
    if _gone(obs.pod):
        return Event.BASE_GONE if obs.pod_read else Event.BASE_GONE_UNCONFIRMED
    if not obs.selector_matches and not obs.installed:
        return Event.SELECTOR_MISMATCH
    if obs.gave_up:
        return Event.GAVE_UP
    if not obs.pod.ready or not obs.pod.ip:
        return Event.BASE_NOT_READY
    if obs.answer is not None:
        return _answer_event(obs)
    if obs.listing is None:
        return Event.NOT_LISTED
    if obs.superseded_by is not None:
        return Event.SUPERSEDED
    step = next_step(obs.wanted, obs.policy, obs.pod, dict(obs.listing), obs.claimed)
    if step.kind is Kind.AVAILABLE:
        waiting = obs.min_ready.completing or obs.min_ready.wait is not None
        return Event.ACTIVATED_MIN_READY if waiting else Event.ACTIVATED
    if step.kind is Kind.INSTALL:
        if not may_install(obs.installs):
            if obs.restarted is None:
                return Event.INSTALLS_USED_UP
            return Event.INSTALL_NOT_KEPT
        if obs.installed_once:
            return Event.INSTALL_NOT_VERIFIED
    if _stops_replaced(step, obs.replacing):
        return Event.REPLACING
    if obs.phase == ModulePhase.AVAILABLE:
        return Event.LEAVING_AVAILABLE
    return {Kind.INSTALL: Event.NEEDS_INSTALL, Kind.SWITCH: Event.NEEDS_SWITCH}.get(
        step.kind, Event.NEEDS_UNINSTALL)


def _stops_replaced(step: Step, replacing: tuple[tuple[str, str], ...]) -> bool:
    """The step stops the version of a Module it replaces: a switch deactivates every other
    version of the name, an uninstall takes one off. (An install beside an ACTIVATED version
    leaves the new one DEACTIVATED and the old one running: docs/arklet.md, the captures.)"""
    if step.kind is Kind.SWITCH:
        return bool(replacing)
    return step.kind is Kind.UNINSTALL and step.version in {v for _, v in replacing}


def classify(obs: Observation) -> tuple[Stage, Event]:
    """The stage of the Module and the first event that holds."""
    if obs.deleting and obs.invalid_spec:
        return Stage.DELETING, Event.INVALID_SPEC
    if obs.deleting:
        return Stage.DELETING, _classify_deleting(obs)
    return Stage.LIVE, _classify_live(obs)


def _reason_of_answer(obs: Observation) -> Reason:
    assert obs.answer is not None
    return Reason(react(*obs.answer).reason or Reason.FAILED.value)


def plan(obs: Observation) -> Action:
    """The one action for ``obs``."""
    stage, event = classify(obs)
    entry = TABLE[stage, event]
    if isinstance(entry, Impossible):  # pragma: no cover - the table test rules it out
        raise AssertionError(f"{stage}/{event} is impossible: {entry.why}")
    return _detail(obs, stage, event, entry)


def _detail(obs: Observation, stage: Stage, event: Event, row: Row) -> Action:
    reason = row.reason if row.reason is not None else _reason_of_answer(obs)
    base = Action(row.do, reason, event, final=row.final, leads_on=row.leads_on)
    listing = dict(obs.listing or {})
    if row.do is Do.QUERY:
        counts = obs.answer is not None and react(*obs.answer).counts_install
        return replace(base, call=Call.REMOVAL_QUERY if stage is Stage.DELETING else Call.QUERY,
                     counts_install=counts)
    if row.do in (Do.INSTALL, Do.SWITCH, Do.UNINSTALL):
        if event is Event.ANSWER_OTHER_BIZ:
            assert obs.stray is not None
            return replace(base, call=Call.CLEANUP_UNINSTALL, name=obs.stray[0],
                         version=obs.stray[1])
        if stage is Stage.DELETING:
            step = removal_step(obs.pod, listing, obs.claimed)
            return replace(base, call=Call.REMOVAL_UNINSTALL, version=step.version)
        step = next_step(obs.wanted, obs.policy, obs.pod, listing, obs.claimed)
        calls = {Do.INSTALL: Call.INSTALL, Do.SWITCH: Call.SWITCH, Do.UNINSTALL: Call.UNINSTALL}
        return replace(base, call=calls[row.do], version=step.version or obs.wanted)
    if row.do is Do.NEXT_VERSION:
        # The listing is the one the uninstall was planned from: the same version.
        return replace(base, version=removal_step(obs.pod, listing, obs.claimed).version)
    if row.do is Do.MARK_REPLACED:
        return replace(base, replaced=tuple(name for name, _ in obs.replacing))
    if row.do is Do.SUPERSEDED:
        # Available only while its version runs and its status says so already: once the
        # Module replacing it wrote it Superseded (before it changed anything on the base),
        # it never claims Available again while it is superseded.
        keep = listing.get(obs.wanted) == ACTIVATED and obs.phase == ModulePhase.AVAILABLE
        return replace(base, reason=Reason.INSTALLED if keep else Reason.SUPERSEDED,
                     phase=ModulePhase.AVAILABLE if keep else ModulePhase.PREPARE,
                     after=SUPERSEDED_RECHECK)
    if row.do is Do.COMPLETING:
        return replace(base, completing=obs.min_ready.completing, after=obs.min_ready.wait)
    if row.do is Do.LOOK_AGAIN:
        return replace(base, after=BUSY_RECHECK)
    return base

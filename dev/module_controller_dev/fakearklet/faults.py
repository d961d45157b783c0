"""Fault injection for the fake Arklet: pure decisions, no I/O.

A :class:`FaultPlan` holds one :class:`FaultRule` per command name, or ``"*"`` for every command.
For each dispatched request the shell asks :meth:`FaultPlan.decide` what to do and gets a
:class:`FaultDecision`: extra latency before replying, and possibly a failure to produce instead
of running the command (a failed call never touches the biz store).

Combination rules (chosen to be predictable):

* the rule of the exact command and the ``"*"`` rule both apply; their latencies add up;
* the exact rule is asked first whether to fail; the ``"*"`` rule is only asked (and only then
  consumes its ``fail_count`` or a random draw) when the exact rule did not fail the call;
* within a rule: ``hang`` first, then ``fail_count`` (fail the next N calls, then behave), then
  ``fail_rate`` (one draw from the plan's seeded :class:`random.Random` per asked call).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

WILDCARD = "*"

#: What a failing call turns into. ``unlisted`` (installBiz only): the install runs and is
#: answered SUCCESS, its ``bizInfos`` claiming the biz, but the biz is then dropped, so
#: ``queryAllBiz`` never lists it (an Arklet whose answer and listing disagree).
FAIL_CODES: tuple[str, ...] = ("http500", "FAILED", "CMD_PROCESS_INTERNAL_ERROR", "hang", "close",
                               "unlisted")
UNLISTED = "unlisted"
UNLISTED_COMMAND = "installBiz"


@dataclass
class FaultRule:
    """Faults for one command (or ``"*"``)."""

    latency: float = 0.0
    fail_rate: float = 0.0
    fail_count: int = 0
    fail_code: str = "http500"
    hang: bool = False

    def validate(self) -> None:
        """Raise :class:`ValueError` on a value the plan cannot act on."""
        if isinstance(self.latency, bool) or not isinstance(self.latency, (int, float)) \
                or self.latency < 0:
            raise ValueError(f"latency must be a number >= 0, got {self.latency!r}")
        if isinstance(self.fail_rate, bool) or not isinstance(self.fail_rate, (int, float)) \
                or not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, got {self.fail_rate!r}")
        if isinstance(self.fail_count, bool) or not isinstance(self.fail_count, int) \
                or self.fail_count < 0:
            raise ValueError(f"fail_count must be an integer >= 0, got {self.fail_count!r}")
        if self.fail_code not in FAIL_CODES:
            raise ValueError(f"fail_code must be one of {FAIL_CODES}, got {self.fail_code!r}")
        if not isinstance(self.hang, bool):
            raise ValueError(f"hang must be a boolean, got {self.hang!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON shape used by the control app (camelCase, like its request bodies)."""
        return {"latency": self.latency, "failRate": self.fail_rate,
                "failCount": self.fail_count, "failCode": self.fail_code, "hang": self.hang}


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait ``latency`` seconds, then fail with ``action`` (or not)."""

    latency: float = 0.0
    action: str | None = None
    rule: str | None = None  # which rule chose the action ("installBiz" or "*")

    @property
    def note(self) -> str:
        """A short description for the request log ("" when nothing was injected)."""
        parts = []
        if self.action is not None:
            parts.append(f"fault[{self.rule}]: {self.action}")
        if self.latency:
            parts.append(f"fault latency {self.latency:g}s")
        return "; ".join(parts)


class FaultPlan:
    """The fault rules of one fake Arklet, with a seeded random source for ``fail_rate``."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: dict[str, FaultRule] = {}
        self._random = random.Random(seed)

    def set(
        self,
        command: str = WILDCARD,
        *,
        latency: float = 0.0,
        fail_rate: float = 0.0,
        fail_count: int = 0,
        fail_code: str = "http500",
        hang: bool = False,
    ) -> FaultRule:
        """Replace the rule for ``command`` (``"*"`` = every command) and return it.

        Replacing rather than merging keeps a rule exactly what the last call said; an all-default
        rule is the same as no rule.
        """
        if not isinstance(command, str) or not command:
            raise ValueError("command must be a non-empty string")
        rule = FaultRule(latency=latency, fail_rate=fail_rate, fail_count=fail_count,
                         fail_code=fail_code, hang=hang)
        rule.validate()
        if fail_code == UNLISTED and command != UNLISTED_COMMAND:
            raise ValueError(f"fail_code {UNLISTED!r} applies to {UNLISTED_COMMAND} only, "
                             f"not {command!r}")
        self._rules[command] = rule
        return rule

    def clear(self, command: str | None = None) -> None:
        """Drop every rule, or only the one for ``command``."""
        if command is None:
            self._rules.clear()
        else:
            self._rules.pop(command, None)

    def reseed(self, seed: int | None) -> None:
        """Restart the random sequence used by ``fail_rate``."""
        self._random.seed(seed)

    @property
    def rules(self) -> dict[str, FaultRule]:
        """A copy of the current rules, by command."""
        return {k: FaultRule(**vars(v)) for k, v in self._rules.items()}

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() for k, v in self._rules.items()}

    def decide(self, command: str) -> FaultDecision:
        """Decide the fate of one call to ``command``; consumes counts and random draws."""
        latency = 0.0
        action: str | None = None
        chosen: str | None = None
        keys = [command, WILDCARD] if command != WILDCARD else [WILDCARD]
        for key in keys:
            rule = self._rules.get(key)
            if rule is None:
                continue
            latency += rule.latency
            if action is None:
                action = self._trigger(rule)
                if action is not None:
                    chosen = key
        return FaultDecision(latency=latency, action=action, rule=chosen)

    def _trigger(self, rule: FaultRule) -> str | None:
        if rule.hang:
            return "hang"
        if rule.fail_count > 0:
            rule.fail_count -= 1
            return rule.fail_code
        if rule.fail_rate > 0 and self._random.random() < rule.fail_rate:
            return rule.fail_code
        return None

"""The decision for one (event, subscription): pure, so every rule is unit-tested with a
clock the test moves.

Two steps. ``facts`` evaluates the subscription's expressions on the event (no state):
does the filter match, what is the key, is it urgent. ``decide`` turns the facts, the
key's state and the time into a ``Verdict`` and the key's next state, in this order:

1. an expression failed → ``filter_error``;
2. on-change: a match while firing, or fewer than ``--for`` matches → ``unchanged``; a
   non-match while not firing → ``filtered``; a non-match while firing resolves (notified
   with ``--resolve``, else ``unchanged``). Without on-change a non-match is ``filtered``;
3. a silence that matches → ``silenced`` (state still moves, as in Alertmanager, so a
   key that fired while muted does not fire again when the silence ends);
4. quiet hours, unless urgent → ``held`` until they end, or ``dropped``;
5. an open group for the key → ``grouped`` into it;
6. within ``--repeat-interval`` of the key's last notification → ``throttled``;
7. ``--group-by`` → ``grouped`` into a new group released after ``--group-wait``;
8. otherwise ``delivered``.

A resolution skips 5-7: "it recovered" is never grouped away or throttled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from eventrouter.router.models.rules import Decision
from eventrouter.router.rules.expressions import Activation, Expression, ExpressionError
from eventrouter.router.rules.spec import CompiledRules
from eventrouter.router.rules.windows import window_end

MAX_KEY_LENGTH = 500
FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a subscription's expressions say about one event."""

    matched: bool
    key: str = ""
    urgent: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class KeyState:
    """What is remembered per (subscription, key); a row of ``rule_state``."""

    firing: bool = False
    streak: int = 0
    """Consecutive matches so far (on-change)."""
    notified_at: datetime | None = None
    throttled: int = 0
    """Events throttled since the last notification; told in the next one."""
    group_until: datetime | None = None
    """An open group of the key is released then (cleared when the scheduler releases it)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str = ""
    notice: dict[str, Any] | None = None
    """What the receiver is told besides the event (``state``, ``key``, ``throttled``)."""
    until: datetime | None = None
    """Held until (quiet hours end) / grouped until (the group is released)."""
    digest: str | None = None
    """``group`` or ``hold``: the kind of digest the event joins."""
    silence_id: int | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    """An active silence, as the router holds it."""

    id: int
    comment: str


def facts(rules: CompiledRules, activation: Activation) -> Facts:
    """Evaluate the filter, key and urgency of one event; an error is a fact too."""
    what = "filter"
    try:
        matched = True if rules.filter is None else rules.filter.test(activation)
        if not matched and not rules.on_change:
            return Facts(False)  # nothing else matters for an event that is filtered out
        parts = []
        if rules.key is not None:
            what = "key"
            parts.append(_key_part(rules.key, activation))
        if rules.group_by is not None:
            what = "group-by"
            parts.append(_key_part(rules.group_by, activation))
        what = "urgent"
        urgent = matched and rules.urgent is not None and rules.urgent.test(activation)
    except ExpressionError as exc:
        return Facts(False, error=f"{what}: {exc}")
    return Facts(matched, " / ".join(parts)[:MAX_KEY_LENGTH], urgent)


def decide(
    rules: CompiledRules,
    fact: Facts,
    state: KeyState,
    now: datetime,
    silence: Silence | None = None,
) -> tuple[Verdict, KeyState]:
    """The verdict for one event and the key's next state (see the module docstring)."""
    if fact.error is not None:
        return Verdict(Decision.FILTER_ERROR, fact.error), state
    notice: dict[str, Any] = {"key": fact.key} if fact.key else {}
    if rules.on_change:
        if fact.matched:
            streak = state.streak + 1
            if state.firing:
                return Verdict(Decision.UNCHANGED, f"still firing{_for(fact)}"), replace(
                    state, streak=streak
                )
            if streak < rules.for_count:
                reason = f"{streak} of {rules.for_count} consecutive matches{_for(fact)}"
                return Verdict(Decision.UNCHANGED, reason), replace(state, streak=streak)
            state = replace(state, firing=True, streak=streak)
            notice["state"] = FIRING
        else:
            if not state.firing:
                return Verdict(Decision.FILTERED, "filter is false"), replace(state, streak=0)
            state = replace(state, firing=False, streak=0)
            if not rules.resolve:
                return Verdict(Decision.UNCHANGED, f"resolved{_for(fact)}; --resolve is off"), state
            notice["state"] = RESOLVED
    elif not fact.matched:
        return Verdict(Decision.FILTERED, "filter is false"), state
    if silence is not None:
        reason = f"silence {silence.id}: {silence.comment}"
        return Verdict(Decision.SILENCED, reason, silence_id=silence.id), state
    if rules.quiet is not None and not fact.urgent:
        until = window_end(rules.quiet, now)
        if until is not None:
            if rules.hold:
                reason = f"quiet hours {rules.quiet.describe()}"
                return Verdict(Decision.HELD, reason, until=until, digest="hold"), state
            return Verdict(Decision.DROPPED, f"quiet hours {rules.quiet.describe()}"), state
    if notice.get("state") != RESOLVED:
        if state.group_until is not None:
            return _grouped(state.group_until, fact), state
        if _throttled(rules, state, now):
            assert rules.repeat_interval is not None and state.notified_at is not None
            until = state.notified_at + timedelta(seconds=rules.repeat_interval)
            verdict = Verdict(Decision.THROTTLED, f"repeat interval until {until.isoformat()}")
            return verdict, replace(state, throttled=state.throttled + 1)
        if rules.group_wait is not None:
            until = now + timedelta(seconds=rules.group_wait)
            return _grouped(until, fact), replace(state, group_until=until)
    if state.throttled:
        notice["throttled"] = state.throttled
    verdict = Verdict(Decision.DELIVERED, notice=notice or None)
    return verdict, replace(state, notified_at=now, throttled=0)


def _grouped(until: datetime, fact: Facts) -> Verdict:
    reason = f"group{_for(fact)} released at {until.isoformat()}"
    return Verdict(Decision.GROUPED, reason, until=until, digest="group")


def _throttled(rules: CompiledRules, state: KeyState, now: datetime) -> bool:
    if rules.repeat_interval is None or state.notified_at is None:
        return False
    return now < state.notified_at + timedelta(seconds=rules.repeat_interval)


def _for(fact: Facts) -> str:
    return f" for {fact.key!r}" if fact.key else ""


def _key_part(expression: Expression, activation: Activation) -> str:
    value = expression.value(activation)
    return value if isinstance(value, str) else repr(value)

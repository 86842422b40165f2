"""The rules' pure core: CEL errors, state transitions, the order of decisions, with a
clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.models.rules import Decision, Rules
from eventrouter.router.rules.engine import Facts, KeyState, Silence, decide, facts
from eventrouter.router.rules.expressions import ExpressionError, activation, compile_expression
from eventrouter.router.rules.spec import compile_rules

T0 = datetime(2026, 1, 7, 15, 0, tzinfo=UTC)  # 10:00 in New York


def variables(**payload: Any) -> dict[str, Any]:
    return activation("run:finished", "acme", "prod", payload, T0)


# -- expressions ------------------------------------------------------------------------
def test_runtime_errors_say_what_failed() -> None:
    expression = compile_expression("payload.accuracy < 0.9")
    with pytest.raises(ExpressionError, match=r"no field .accuracy.*has\(payload.x\)"):
        expression.test(variables())
    with pytest.raises(ExpressionError, match="No such overload"):
        expression.test(variables(accuracy="high"))
    with pytest.raises(ExpressionError, match="gave 'prod' \\(str\\), not true or false"):
        compile_expression("env").test(variables())


def test_has_guards_a_missing_field() -> None:
    expression = compile_expression("has(payload.score) && payload.score >= 0.6")
    assert expression.test(variables()) is False
    assert expression.test(variables(score=0.7)) is True


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("payload.score >=", "syntax error at column 17"),
        ("severity == 'high'", "unknown variable 'severity' at column 1"),
        ("1 + 'a' == 2", "No such overload"),
        ("", "is empty"),
    ],
)
def test_bad_expressions_are_refused_at_compile_time(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_expression(source)


# -- decisions --------------------------------------------------------------------------
def run(rules: Rules, events: list[dict[str, Any]], step: timedelta = timedelta(seconds=1)):
    """Feed payloads through one key's state; return (decision, notice) per event."""
    compiled = compile_rules(rules)
    state = KeyState()
    out = []
    for i, payload in enumerate(events):
        verdict, state = decide(
            compiled, facts(compiled, variables(**payload)), state, T0 + i * step
        )
        out.append((verdict.decision, verdict.notice))
    return out


def test_on_change_fires_on_the_transition_and_resolves() -> None:
    rules = Rules(filter="payload.accuracy < 0.9", notify="on-change", resolve=True)
    got = run(rules, [{"accuracy": a} for a in (0.95, 0.8, 0.7, 0.93, 0.94, 0.5)])
    assert [d for d, _ in got] == [
        Decision.FILTERED, Decision.DELIVERED, Decision.UNCHANGED,
        Decision.DELIVERED, Decision.FILTERED, Decision.DELIVERED,
    ]  # fmt: skip
    assert [n for _, n in got if n] == [
        {"state": "firing"},
        {"state": "resolved"},
        {"state": "firing"},
    ]


def test_without_resolve_recovery_is_recorded_not_sent() -> None:
    got = run(Rules(filter="payload.bad", notify="on-change"), [{"bad": True}, {"bad": False}])
    assert [d for d, _ in got] == [Decision.DELIVERED, Decision.UNCHANGED]


def test_for_needs_consecutive_matches() -> None:
    rules = Rules(filter="payload.bad", notify="on-change", for_count=3)
    got = run(rules, [{"bad": b} for b in (True, True, False, True, True, True, True)])
    assert [d for d, _ in got] == [
        Decision.UNCHANGED, Decision.UNCHANGED, Decision.FILTERED,
        Decision.UNCHANGED, Decision.UNCHANGED, Decision.DELIVERED, Decision.UNCHANGED,
    ]  # fmt: skip


def test_a_filter_error_changes_no_state() -> None:
    compiled = compile_rules(Rules(filter="payload.bad", notify="on-change"))
    state = KeyState(firing=True, streak=4)
    fact = facts(compiled, variables())
    verdict, after = decide(compiled, fact, state, T0)
    assert verdict.decision == Decision.FILTER_ERROR and "filter: no field 'bad'" in verdict.reason
    assert after == state


def test_throttling_counts_and_reports() -> None:
    rules = Rules(repeat_interval="1h")
    got = run(rules, [{}] * 4, step=timedelta(minutes=25))  # 0, 25, 50, 75 minutes
    assert [d for d, _ in got] == [
        Decision.DELIVERED, Decision.THROTTLED, Decision.THROTTLED, Decision.DELIVERED,
    ]  # fmt: skip
    assert got[3][1] == {"throttled": 2}


def test_grouping_opens_once_then_joins_until_released() -> None:
    compiled = compile_rules(Rules(group_by="payload.service", group_wait="30s"))
    fact = facts(compiled, variables(service="checkout"))
    first, state = decide(compiled, fact, KeyState(), T0)
    second, state = decide(compiled, fact, state, T0 + timedelta(seconds=40))
    assert (first.decision, first.digest, first.until) == (
        Decision.GROUPED, "group", T0 + timedelta(seconds=30),
    )  # fmt: skip
    assert second.until == first.until  # joins the open group, however late
    assert fact.key == "checkout"


def test_quiet_hours_hold_until_they_end_unless_urgent() -> None:
    rules = Rules(
        quiet_hours="09:00-17:00",
        timezone="America/New_York",
        urgent="payload.severity == 'critical'",
    )
    compiled = compile_rules(rules)
    held, _ = decide(compiled, facts(compiled, variables(severity="low")), KeyState(), T0)
    urgent, _ = decide(compiled, facts(compiled, variables(severity="critical")), KeyState(), T0)
    assert (held.decision, held.until) == (Decision.HELD, datetime(2026, 1, 7, 22, tzinfo=UTC))
    assert urgent.decision == Decision.DELIVERED
    dropping = compile_rules(rules.model_copy(update={"quiet_mode": "drop"}))
    dropped, _ = decide(dropping, facts(dropping, variables(severity="low")), KeyState(), T0)
    assert dropped.decision == Decision.DROPPED


def test_a_silence_mutes_but_state_still_moves() -> None:
    compiled = compile_rules(Rules(filter="payload.bad", notify="on-change"))
    verdict, state = decide(compiled, Facts(True), KeyState(), T0, Silence(7, "maintenance"))
    assert (verdict.decision, verdict.silence_id) == (Decision.SILENCED, 7)
    assert "maintenance" in verdict.reason and state.firing


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (Rules(resolve=True), "need --notify on-change"),
        (Rules(group_wait="30s"), "--group-wait needs --group-by"),
        (Rules(quiet_hours="23:00-07:00"), "needs --timezone"),
        (Rules(urgent="true"), "need --quiet-hours"),
        (Rules(group_by="payload.s", group_wait="0s"), "outside 100ms to 7d"),
        (Rules(repeat_interval="soon"), "not a duration"),
    ],
)
def test_inconsistent_rules_are_refused(rules: Rules, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_rules(rules)


@given(st.lists(st.booleans(), max_size=40), st.integers(1, 4))
def test_on_change_alternates_firing_and_resolved(matches: list[bool], for_count: int) -> None:
    """Whatever the sequence, notifications alternate firing / resolved, start with firing,
    and a firing comes only after ``for_count`` consecutive matches."""
    rules = Rules(filter="payload.bad", notify="on-change", resolve=True, for_count=for_count)
    got = run(rules, [{"bad": m} for m in matches])
    states = [n["state"] for d, n in got if d == Decision.DELIVERED and n]
    assert states == ["firing", "resolved"] * (len(states) // 2) + ["firing"] * (len(states) % 2)
    for index, (_, notice) in enumerate(got):
        if notice and notice["state"] == "firing":
            assert all(matches[index - for_count + 1 : index + 1])

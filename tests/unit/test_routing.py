"""RoutingTable: which destinations an event goes to (pure, no services)."""

from __future__ import annotations

import pytest

from eventrouter.router.routing import (
    MAX_PATTERN_LENGTH,
    ChannelRule,
    PlannedDelivery,
    RoutingTable,
    SubscriptionRule,
    compile_pattern,
)


def sub(
    id: int,
    channels: set[int],
    destinations: set[int],
    *,
    org: str = "acme",
    env: str | None = None,
    enabled: bool = True,
) -> SubscriptionRule:
    return SubscriptionRule(id, org, env, enabled, frozenset(channels), frozenset(destinations))


def table(
    channels: list[ChannelRule],
    subscriptions: list[SubscriptionRule],
    enabled_destinations: set[int] | None = None,
) -> RoutingTable:
    if enabled_destinations is None:
        enabled_destinations = {d for s in subscriptions for d in s.destination_ids}
    return RoutingTable(channels, subscriptions, enabled_destinations)


def destinations(plan: tuple[PlannedDelivery, ...]) -> set[int]:
    return {p.destination_id for p in plan}


def one_pattern(pattern: str) -> RoutingTable:
    return table([ChannelRule(1, "acme", None, pattern)], [sub(10, {1}, {100})])


# -- pattern semantics ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("payment:.*", "payment:failed", True),
        ("payment:.*", "payment:", True),
        ("payment:.*", "xpayment:failed", False),
        ("payment:.*", "payments:failed", False),
        ("pay", "payment", False),
        ("pay", "pay", True),
        ("payment", "payment:failed", False),
        ("payment:(failed|refunded)", "payment:refunded", True),
        ("payment:(failed|refunded)", "payment:refunded:late", False),
        ("payment:(failed|refunded)", "payment:failedx", False),
        (".*:failed", "run:failed", True),
        (".*:failed", "run:failed:twice", False),
        ("run:.+", "run:", False),
        ("metric:acc.*", "metric:accuracy", True),
        # An alternation is anchored as a whole, not just its first branch.
        ("a|b", "ab", False),
        ("a|b", "b", True),
    ],
)
def test_patterns_match_the_whole_name(pattern: str, name: str, matches: bool) -> None:
    plan = one_pattern(pattern).plan(name, "acme", None)
    assert (plan == (PlannedDelivery(100, 10),)) is matches


def test_explicit_anchors_are_harmless() -> None:
    rt = one_pattern("^payment:.*$")
    assert destinations(rt.plan("payment:failed", "acme", None)) == {100}
    assert rt.plan("xpayment:failed", "acme", None) == ()


def test_matching_channels_reports_every_match() -> None:
    rt = table(
        [
            ChannelRule(1, "acme", None, "payment:.*"),
            ChannelRule(2, "acme", None, ".*:failed"),
            ChannelRule(3, "acme", None, "run:.*"),
        ],
        [],
    )
    assert rt.matching_channels("payment:failed", "acme", None) == {1, 2}
    assert rt.matching_channels("run:started", "acme", None) == {3}
    assert rt.matching_channels("deploy:done", "acme", None) == frozenset()


# -- scoping ----------------------------------------------------------------------------
def test_channels_and_subscriptions_are_scoped_to_their_org() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, ".*"), ChannelRule(2, "globex", None, ".*")],
        [sub(10, {1}, {100}, org="acme"), sub(20, {2}, {200}, org="globex")],
    )
    assert destinations(rt.plan("payment:failed", "acme", None)) == {100}
    assert destinations(rt.plan("payment:failed", "globex", None)) == {200}
    assert rt.plan("payment:failed", "initech", None) == ()


def test_subscription_cannot_use_a_channel_of_another_org() -> None:
    # The subscription lists globex's channel, but belongs to acme: an acme event
    # does not match that channel and a globex event is not in the subscription's org.
    rt = table([ChannelRule(2, "globex", None, ".*")], [sub(10, {2}, {100}, org="acme")])
    assert rt.plan("x", "acme", None) == ()
    assert rt.plan("x", "globex", None) == ()


def test_env_specific_channel_only_matches_its_env() -> None:
    rt = table([ChannelRule(1, "acme", "prod", "payment:.*")], [sub(10, {1}, {100})])
    assert destinations(rt.plan("payment:failed", "acme", "prod")) == {100}
    assert rt.plan("payment:failed", "acme", "staging") == ()
    assert rt.plan("payment:failed", "acme", None) == ()


def test_org_wide_channel_matches_every_env() -> None:
    rt = table([ChannelRule(1, "acme", None, "payment:.*")], [sub(10, {1}, {100})])
    for env in ("prod", "staging", None):
        assert destinations(rt.plan("payment:failed", "acme", env)) == {100}


def test_env_specific_subscription_only_applies_to_its_env() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, ".*")],
        [sub(10, {1}, {100}, env="prod"), sub(20, {1}, {200})],
    )
    assert destinations(rt.plan("run:failed", "acme", "prod")) == {100, 200}
    assert destinations(rt.plan("run:failed", "acme", "staging")) == {200}
    assert destinations(rt.plan("run:failed", "acme", None)) == {200}


def test_system_channels_match_events_of_every_org() -> None:
    rt = table(
        [ChannelRule(1, "system", None, "eventrouter:.*", is_system=True)],
        [sub(10, {1}, {100}, org="acme"), sub(20, {1}, {200}, org="globex")],
    )
    assert destinations(rt.plan("eventrouter:destination_disabled", "acme", None)) == {100}
    assert destinations(rt.plan("eventrouter:destination_disabled", "globex", None)) == {200}
    assert rt.plan("payment:failed", "acme", None) == ()


# -- enabled flags and de-duplication --------------------------------------------------
def test_disabled_subscriptions_plan_nothing() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, ".*")],
        [sub(10, {1}, {100}, enabled=False), sub(20, {1}, {200})],
    )
    assert destinations(rt.plan("x", "acme", None)) == {200}


def test_disabled_destinations_are_excluded() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, ".*")],
        [sub(10, {1}, {100, 101, 102})],
        enabled_destinations={100, 102},
    )
    assert destinations(rt.plan("x", "acme", None)) == {100, 102}


def test_subscription_without_enabled_destinations_plans_nothing() -> None:
    rt = table([ChannelRule(1, "acme", None, ".*")], [sub(10, {1}, {100})], set())
    assert rt.plan("x", "acme", None) == ()


def test_one_delivery_per_destination_recording_the_lowest_subscription() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, "payment:.*"), ChannelRule(2, "acme", None, ".*:failed")],
        # Given out of order on purpose: the lowest id wins, not the first listed.
        [sub(30, {2}, {100, 300}), sub(7, {1}, {100}), sub(12, {1, 2}, {100, 200})],
    )
    plan = rt.plan("payment:failed", "acme", None)
    assert sorted(plan, key=lambda p: p.destination_id) == [
        PlannedDelivery(100, 7),
        PlannedDelivery(200, 12),
        PlannedDelivery(300, 30),
    ]


def test_subscription_listing_two_matching_channels_delivers_once() -> None:
    rt = table(
        [ChannelRule(1, "acme", None, "payment:.*"), ChannelRule(2, "acme", None, ".*:failed")],
        [sub(10, {1, 2}, {100})],
    )
    assert rt.plan("payment:failed", "acme", None) == (PlannedDelivery(100, 10),)


def test_no_channels_means_no_deliveries() -> None:
    assert RoutingTable.empty().plan("payment:failed", "acme", None) == ()
    assert RoutingTable.empty().version == -1


def test_plan_is_stable_across_calls_and_cached_per_scope() -> None:
    rt = table(
        [ChannelRule(1, "acme", "prod", ".*")],
        [sub(10, {1}, {100})],
    )
    first = rt.plan("x", "acme", "prod")
    assert rt.plan("x", "acme", "prod") == first == (PlannedDelivery(100, 10),)
    # The cache key includes env and org: another scope gets its own answer.
    assert rt.plan("x", "acme", "dev") == ()
    assert rt.plan("x", "globex", "prod") == ()


# -- bad patterns -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("payment:(", "missing )"),
        ("[a-", "missing ]"),
        ("a{2,1}", "invalid repetition size"),
        ("*oops", "no argument for repetition operator"),
        (r"(a)\1", "invalid escape sequence"),  # RE2 has no backreferences
        ("(?=x)", "invalid perl operator"),  # nor lookarounds
    ],
)
def test_invalid_patterns_raise_value_error_saying_why(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match="invalid pattern") as info:
        compile_pattern(pattern)
    assert repr(pattern) in str(info.value)
    assert reason in str(info.value)


def test_empty_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        compile_pattern("")


def test_pattern_length_limit() -> None:
    compile_pattern("a" * MAX_PATTERN_LENGTH)
    with pytest.raises(ValueError, match=f"limit is {MAX_PATTERN_LENGTH}"):
        compile_pattern("a" * (MAX_PATTERN_LENGTH + 1))


def test_table_ignores_an_invalid_stored_pattern_and_says_why() -> None:
    # Written around the CLI (plain SQL): one bad row must not stop all routing.
    rt = table([ChannelRule(1, "acme", None, "bad(")], [])
    assert rt.matching_channels("bad(", "acme", None) == frozenset()
    assert "invalid pattern" in rt.broken[1]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*b", "(a*)*c", "(x+x+)+y"])
def test_catastrophic_backtracking_patterns_run_in_linear_time(pattern: str) -> None:
    rt = one_pattern(pattern)
    name = "a" * 199 + "!"  # the classic ReDoS input: almost matches, then fails
    for _ in range(50):
        assert rt.matching_channels(name, "acme", None) == frozenset()

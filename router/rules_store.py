"""Rules applied to one batch of new events, inside the router's store transaction.

For each stored event and each subscription its channels reach, one decision: the
subscription's rules (``router.rules.engine``) are evaluated once, with the key's state
locked in Postgres for stateful rules. What is delivered becomes planned deliveries;
what is grouped or held joins a digest the scheduler releases later; every verdict is a
``decisions`` row. People a subscription names follow the event either way: delivered to
them, or into a digest of their own beside the subscription's (``plan_people``). The
store's transaction covers all of it, so a killed router loses nothing and a replayed
entry (not a new event) decides nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection

from eventrouter.router.db import people
from eventrouter.router.db import rules as store
from eventrouter.router.db.ingest import PlannedRow
from eventrouter.router.db.rules import DecisionRow, DigestRow
from eventrouter.router.events import Event
from eventrouter.router.models.rules import Decision
from eventrouter.router.people.merge import Media, PersonVerdict, Reach, merge
from eventrouter.router.people.preferences import UserPreferences
from eventrouter.router.routing import RoutingTable, SubscriptionRule
from eventrouter.router.rules.engine import Facts, KeyState, Silence, Verdict, decide, facts
from eventrouter.router.rules.expressions import Activation, activation


@dataclass
class _Pending:
    """A stateful (event, subscription) waiting for its key's state."""

    event: Event
    sub: SubscriptionRule
    fact: Facts
    silence: Silence | None


@dataclass(frozen=True)
class _RulesDigest:
    """The subscription's own group or hold an event joined: its people get it when it is
    released, each in a digest of their own."""

    kind: str
    key: str
    until: datetime
    decision: Decision
    reason: str


@dataclass(frozen=True)
class _ForPeople:
    """A delivered, grouped or held (event, subscription) whose people are still to be
    decided."""

    event: Event
    sub: SubscriptionRule
    notice: str | None
    urgent: bool
    joined: _RulesDigest | None = None
    """Set when the subscription's rules grouped or held the event."""

    @property
    def at(self) -> datetime | None:
        """When the event reaches people: now, or when the rules' digest is released."""
        return None if self.joined is None else self.joined.until


class _Person(NamedTuple):
    """Whose row it is and where it goes: a person on one medium."""

    user_id: int
    destination_id: int | None
    recipient: str
    address: str | None


@dataclass
class RuledBatch:
    planned: list[PlannedRow] = field(default_factory=list)
    decisions: list[DecisionRow] = field(default_factory=list)
    _digests: dict[tuple[int, str, str], DigestRow] = field(default_factory=dict)
    _digest_members: list[tuple[int, tuple[int, str, str]]] = field(default_factory=list)
    _planned_for: set[tuple[str, int, int]] = field(default_factory=set)

    people: list[_ForPeople] = field(default_factory=list)
    """(event, subscription) pairs whose subscription names people, delivered or joining
    the subscription's digest."""
    channels: dict[str, frozenset[int]] = field(default_factory=dict)
    """Each event's matching channels (ids)."""

    def deliver(
        self,
        event: Event,
        sub: SubscriptionRule,
        notice: str | None = None,
        *,
        urgent: bool = False,
    ) -> None:
        """Plan ``sub``'s destinations for ``event``; one delivery per destination even
        when several subscriptions reach it (the lowest subscription id is recorded).
        Its people are planned once the batch knows who they are (``plan_people``)."""
        for destination_id in sorted(sub.destination_ids):
            self._plan(PlannedRow(event.id, destination_id, sub.id, notice))
        if sub.users is not None:
            self.people.append(_ForPeople(event, sub, notice, urgent))

    def _plan(self, row: PlannedRow) -> None:
        target = (row.event_id, row.destination_id, row.user_id or 0)
        if target not in self._planned_for:
            self._planned_for.add(target)
            self.planned.append(row)

    def record(
        self,
        event: Event,
        sub: SubscriptionRule,
        verdict: Verdict,
        key: str,
        now: datetime,
        *,
        urgent: bool = False,
    ) -> None:
        """The subscription's verdict: its destinations' deliveries or its digest, and
        its decision; its people follow the event into either (``plan_people``)."""
        if verdict.decision == Decision.DELIVERED:
            notice = verdict.notice
            if notice is not None and "state" in notice:
                # One incident per (rule, key): PagerDuty's resolve closes what trigger opened.
                notice = {**notice, "dedup_key": f"eventrouter-rule-{sub.id}-{key}"}
            self.deliver(event, sub, store.notice_json(notice), urgent=urgent)
        group_key = key if verdict.digest == "group" else ""
        if verdict.digest is not None and verdict.until is not None and sub.users is not None:
            joined = _RulesDigest(
                verdict.digest, group_key, verdict.until, verdict.decision, verdict.reason
            )
            self.people.append(_ForPeople(event, sub, None, urgent, joined))
        self._conclude(
            event,
            sub,
            now,
            verdict.decision,
            verdict.reason,
            until=verdict.until,
            digest=None if verdict.digest is None else (verdict.digest, group_key),
            silence_id=verdict.silence_id,
        )

    def record_person(
        self,
        item: _ForPeople,
        person: UserPreferences,
        verdict: PersonVerdict,
        now: datetime,
    ) -> None:
        """A person's verdict: a delivery to their address, or a place in their own hold
        or digest (keyed by person and medium), and always a decision that names them.

        When the subscription's rules grouped or held the event, the verdict is the
        person's at its release: "delivered" then means a digest of their own, released
        with the subscription's, so each person gets one digest per medium."""
        event, sub = item.event, item.sub
        to = _Person(person.user_id, verdict.destination_id, verdict.recipient, verdict.address)
        own_key = f"user:{person.user_id}/{verdict.medium.value}"
        if verdict.decision != Decision.DELIVERED or verdict.destination_id is None:
            digest = None if verdict.digest is None else (verdict.digest, own_key)
            self._conclude(
                event, sub, now, verdict.decision, verdict.reason,
                until=verdict.until, digest=digest, person=to,
            )  # fmt: skip
        elif item.joined is None:
            self._plan(
                PlannedRow(
                    event.id, verdict.destination_id, sub.id, item.notice,
                    to.user_id, to.recipient, to.address,
                )
            )  # fmt: skip
            self._conclude(event, sub, now, verdict.decision, verdict.reason, person=to)
        else:
            # Its own key: a person's quiet-hours hold of the same subscription may be open,
            # and released later than this one.
            joined = item.joined
            key = f"{own_key} {joined.kind}" + (f":{joined.key}" if joined.key else "")
            reason = "; ".join(r for r in (joined.reason, verdict.reason) if r)
            self._conclude(
                event, sub, now, joined.decision, reason,
                until=joined.until, digest=(joined.kind, key), person=to,
            )  # fmt: skip

    def _conclude(
        self,
        event: Event,
        sub: SubscriptionRule,
        now: datetime,
        decision: Decision,
        reason: str,
        *,
        until: datetime | None = None,
        digest: tuple[str, str] | None = None,
        silence_id: int | None = None,
        person: _Person | None = None,
    ) -> None:
        """The part every verdict shares: joining a digest (``(kind, key)``, released at
        ``until``; a person's goes to that person only) and the decision row."""
        if digest is not None and until is not None:
            kind, key = digest
            row = DigestRow(sub.id, kind, key, until, now, now, 1, event.id)
            if person is not None:
                row = row._replace(
                    user_id=person.user_id,
                    destination_id=person.destination_id,
                    recipient=person.recipient,
                    address=person.address,
                )
            self._join(row)
        self.decisions.append(
            DecisionRow(
                event.id,
                sub.id,
                decision.value,
                reason,
                silence_id=silence_id,
                until=until,
                recipient=None if person is None else person.recipient,
            )
        )

    def _join(self, row: DigestRow) -> None:
        """Join the batch's digest for the row's target (one release time: the first's)."""
        target = (row.subscription_id, row.kind, row.key)
        joined = self._digests.get(target)
        if joined is not None:
            row = row._replace(
                release_at=joined.release_at,
                first_at=joined.first_at,
                events=joined.events + 1,
            )
        self._digests[target] = row
        self._digest_members.append((len(self.decisions), target))

    def write_digests(self, conn: Connection) -> None:
        """Open or join the batch's digests and link their decisions to them."""
        ids = store.upsert_digests(conn, list(self._digests.values()))
        for index, target in self._digest_members:
            self.decisions[index] = self.decisions[index]._replace(digest_id=ids.get(target))


def apply_rules(
    conn: Connection, table: RoutingTable, events: Sequence[Event], now: datetime | None = None
) -> RuledBatch:
    """Decide every (event, subscription) of ``events`` (new, not duplicates)."""
    now = now or datetime.now(UTC)
    batch = RuledBatch()
    pending: list[_Pending] = []
    for event in events:
        subs, channels = table.subscriptions_for(event.name, event.org, event.env)
        if not subs:
            continue
        batch.channels[event.id] = channels
        ruled = table.has_silences(event.org) or any(s.rules is not None for s in subs)
        if not ruled:  # the common case: deliver, one decision each
            for sub in subs:
                batch.deliver(event, sub)
                batch.decisions.append(DecisionRow(event.id, sub.id, Decision.DELIVERED.value))
            continue
        variables = _variables(event, now)
        silence = table.silence_for(event.org, channels, variables, now)
        for sub in subs:
            if sub.broken is not None:
                verdict = Verdict(Decision.FILTER_ERROR, sub.broken)
                batch.record(event, sub, verdict, "", now)
            elif sub.compiled is None:
                verdict = (
                    Verdict(Decision.DELIVERED)
                    if silence is None
                    else Verdict(
                        Decision.SILENCED,
                        f"silence {silence.id}: {silence.comment}",
                        silence_id=silence.id,
                    )
                )
                batch.record(event, sub, verdict, "", now)
            else:
                fact = facts(sub.compiled, variables)
                if sub.compiled.stateful and fact.error is None:
                    pending.append(_Pending(event, sub, fact, silence))
                else:
                    verdict, _ = decide(sub.compiled, fact, KeyState(), now, silence)
                    batch.record(event, sub, verdict, fact.key, now, urgent=fact.urgent)
    if pending:
        _decide_stateful(conn, batch, pending, now)
    if batch.people:
        plan_people(conn, table, batch, now)
    batch.write_digests(conn)
    store.insert_decisions(conn, batch.decisions)
    return batch


def _decide_stateful(
    conn: Connection, batch: RuledBatch, pending: list[_Pending], now: datetime
) -> None:
    """Lock the keys' state, decide in stream order, write the state back."""
    states = store.lock_states(conn, [(p.sub.id, p.fact.key) for p in pending])
    for item in pending:
        assert item.sub.compiled is not None
        target = (item.sub.id, item.fact.key)
        verdict, states[target] = decide(
            item.sub.compiled, item.fact, states.get(target, KeyState()), now, item.silence
        )
        batch.record(item.event, item.sub, verdict, item.fact.key, now, urgent=item.fact.urgent)
    store.save_states(conn, states)


def plan_people(conn: Connection, table: RoutingTable, batch: RuledBatch, now: datetime) -> None:
    """Decide, for every (event, subscription) that names people, each person and medium
    (``router.people.merge``), with the people and media as they are now. An event the
    subscription's rules grouped or held is decided as of the digest's release: the
    person's quiet hours or digest then may keep it longer."""
    orgs = {item.event.org for item in batch.people}
    media = people.media(conn, orgs)
    persons = people.org_people(conn, orgs)
    for item in batch.people:
        assert item.sub.users is not None
        matched = batch.channels.get(item.event.id, frozenset()) & item.sub.channel_ids
        names = frozenset(table.channel_names.get(c, "") for c in matched)
        reach = Reach(names, item.sub.mandatory, item.urgent)
        org_media = media.get(item.event.org, Media())
        for person in persons.get(item.event.org, ()):
            if item.sub.users.includes(person.email, person.role):
                for verdict in merge(person, org_media, reach, item.at or now):
                    batch.record_person(item, person, verdict, now)


def _variables(event: Event, now: datetime) -> Activation:
    return activation(event.name, event.org, event.env, event.payload, now)

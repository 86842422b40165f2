"""The preference merge: subscription, user, channel and time → one verdict per medium.

Pure, so every combination is property-tested with a clock the test sets. For each
medium, the first rule that applies decides:

1. the org names no destination for the medium (``people set``) → ``unreachable``;
2. the user turned the medium off → ``medium_off``. A mandatory subscription respects
   this too (the user chose *how* to be reached), except when the user turned every
   medium off: then it uses them all, so a mandatory notice never reaches no one;
3. no address (no override, no login email / Slack id or channel) → ``unreachable``;
4. the user turned off every channel of the event the subscription covers →
   ``opted_out``; a mandatory subscription ignores opt-outs (Novu's "critical");
5. inside the user's quiet hours (their time zone), unless the event is urgent (the
   subscription's ``--urgent`` rule) → ``held`` until they end, or ``dropped``;
6. an hourly or daily digest, unless urgent → ``digested`` until it is sent;
7. otherwise ``delivered`` now, to the address.

Urgent skips the digest as well as quiet hours: an event urgent enough to wake someone
is not kept for their morning summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from eventrouter.router.models.rules import Decision, QuietMode
from eventrouter.router.people.preferences import (
    Medium,
    UserPreferences,
    next_digest_at,
    quiet_until,
)

HOLD = "hold"
DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Media:
    """The org's destinations for people (``eventrouter people set``); ``None`` = none."""

    email_via: int | None = None
    slack_via: int | None = None

    def via(self, medium: Medium) -> int | None:
        return self.email_via if medium is Medium.EMAIL else self.slack_via


@dataclass(frozen=True, slots=True)
class Reach:
    """What the subscription says about this event for its people."""

    channels: frozenset[str]
    """Names of the event's channels that the subscription lists."""
    mandatory: bool = False
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class PersonVerdict:
    medium: Medium
    recipient: str
    """``user:<email>/<medium>``: the name of the delivery in listings."""
    decision: Decision
    reason: str = ""
    destination_id: int | None = None
    address: str | None = None
    until: datetime | None = None
    """Held until (quiet hours end) or the digest's time."""
    digest: str | None = None
    """``hold`` or ``digest``: the kind of digest the event joins for this person."""


def recipient_name(email: str, medium: Medium) -> str:
    return f"user:{email}/{medium.value}"


class Addressee(NamedTuple):
    """One person on one medium: whose delivery row it is, and where it is sent."""

    user_id: int
    recipient: str
    """``user:<email>/<medium>``."""
    address: str


def merge(
    person: UserPreferences, media: Media, reach: Reach, now: datetime
) -> list[PersonVerdict]:
    """One verdict per medium (email, then Slack)."""
    prefs = person.preferences
    none_enabled = not any(prefs.medium_enabled(m) for m in Medium)
    return [
        _verdict(person, media, reach, medium, now, override_off=reach.mandatory and none_enabled)
        for medium in Medium
    ]


def _verdict(
    person: UserPreferences,
    media: Media,
    reach: Reach,
    medium: Medium,
    now: datetime,
    *,
    override_off: bool,
) -> PersonVerdict:
    name = recipient_name(person.email, medium)
    prefs = person.preferences
    destination_id = media.via(medium)
    if destination_id is None:
        how = f"eventrouter people set --{medium.value}-via DESTINATION"
        reason = f"the org has no {medium.value} destination ({how})"
        return PersonVerdict(medium, name, Decision.UNREACHABLE, reason)
    if not prefs.medium_enabled(medium) and not override_off:
        return PersonVerdict(medium, name, Decision.MEDIUM_OFF, f"{medium.value} is off")
    address = person.address(medium)
    if address is None:
        return PersonVerdict(medium, name, Decision.UNREACHABLE, _no_address(medium))
    if not reach.mandatory and _opted_out(prefs.channels, reach.channels):
        reason = f"opted out of {', '.join(sorted(reach.channels))}"
        return PersonVerdict(medium, name, Decision.OPTED_OUT, reason)
    deliver = PersonVerdict(medium, name, Decision.DELIVERED, "", destination_id, address)
    if reach.urgent:
        return deliver if not _quiet(person, now) else _urgent(deliver)
    until = quiet_until(prefs, person.timezone, now)
    if until is not None and prefs.quiet_hours is not None:
        window = prefs.quiet_hours
        hours = f"quiet hours {window.window}{' ' + window.days if window.days else ''}"
        zone = person.timezone or "UTC"
        if window.mode is QuietMode.DROP:
            return _with(deliver, Decision.DROPPED, f"{hours} ({zone})")
        return _with(deliver, Decision.HELD, f"{hours} ({zone})", until, HOLD)
    digest_at = next_digest_at(prefs, person.timezone, now)
    if digest_at is not None:
        return _with(deliver, Decision.DIGESTED, f"{prefs.digest} digest", digest_at, DIGEST)
    return deliver


def _opted_out(choices: dict[str, bool], channels: Iterable[str]) -> bool:
    """Off for every channel of the event (a channel not named is on)."""
    named = list(channels)
    return bool(named) and not any(choices.get(channel, True) for channel in named)


def _quiet(person: UserPreferences, now: datetime) -> bool:
    return quiet_until(person.preferences, person.timezone, now) is not None


def _urgent(deliver: PersonVerdict) -> PersonVerdict:
    return _with(deliver, Decision.DELIVERED, "urgent: quiet hours bypassed")


def _with(
    verdict: PersonVerdict,
    decision: Decision,
    reason: str,
    until: datetime | None = None,
    digest: str | None = None,
) -> PersonVerdict:
    return PersonVerdict(
        verdict.medium,
        verdict.recipient,
        decision,
        reason,
        verdict.destination_id,
        verdict.address,
        until,
        digest,
    )


def _no_address(medium: Medium) -> str:
    if medium is Medium.EMAIL:
        return "no email address"
    return "no Slack member id or channel (users set … --slack-user, or preferences slack_target)"

"""Silences: runtime mutes with a CEL filter, an optional channel, a time range or a
recurring window, and a comment (Alertmanager's word and shape).

Developers may add and expire them: muting a noisy alert during an incident is an
on-call task, not a configuration change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eventrouter.router.control.caller import Role
from eventrouter.router.control.channels import no_channel
from eventrouter.router.control.service import Service
from eventrouter.router.db import config as config_store
from eventrouter.router.db import silences as store
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models.rules import Silence, SilenceIn
from eventrouter.router.rules.expressions import compile_expression
from eventrouter.router.rules.windows import parse_every, window_end

MAX_COMMENT = 1000
MAX_SILENCE_SECONDS = 366 * 86400.0


def no_silence(silence_id: int) -> NotFound:
    return NotFound(f"no silence {silence_id}; see 'eventrouter silences list'")


class Silences(Service):
    def list(self, *, include_expired: bool = False) -> list[Silence]:
        self.caller.require(Role.VIEWER, "listing silences")
        with self.transaction() as conn:
            found = store.list_silences(conn, self.org, include_expired=include_expired)
        return [_recurring_now(s) for s in found]

    def add(self, spec: SilenceIn) -> Silence:
        self.caller.require(Role.DEVELOPER, "adding a silence")
        try:
            compile_expression(spec.filter, "--filter")
            if spec.every is not None:
                parse_every(spec.every, spec.timezone or "UTC")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if spec.timezone is not None and spec.every is None:
            raise ConfigError("--timezone applies to --every; give --every too")
        comment = spec.comment.strip()
        if not comment or len(comment) > MAX_COMMENT:
            raise ConfigError(f"--comment is required (1-{MAX_COMMENT} chars): say why")
        ends_at = _ends_at(spec)
        with self.transaction() as conn:
            channel_id = None
            if spec.channel is not None:
                found = config_store.find_channels(conn, self.org, [spec.channel])
                if spec.channel not in found:
                    raise no_channel(spec.channel)
                channel_id = found[spec.channel].id
            new_id = store.insert_silence(
                conn,
                self.org,
                filter=spec.filter,
                comment=comment,
                channel_id=channel_id,
                ends_at=ends_at,
                every=spec.every,
                timezone=spec.timezone if spec.every else None,
                created_by=f"user {self.caller.user_id}" if self.caller.user_id else "cli",
            )
            return _recurring_now(store.list_silences(conn, self.org, silence_id=new_id)[0])

    def expire(self, silence_id: int) -> None:
        """End a silence now; events from then on are delivered again."""
        self.caller.require(Role.DEVELOPER, "expiring a silence")
        with self.transaction() as conn:
            if not store.expire_silence(conn, self.org, silence_id):
                raise no_silence(silence_id)


def _ends_at(spec: SilenceIn) -> datetime | None:
    """The end of the silence; one of ``duration``/``ends_at`` unless it recurs."""
    if spec.duration is not None and spec.ends_at is not None:
        raise ConfigError("give --duration or --until, not both")
    now = datetime.now(UTC)
    if spec.duration is not None:
        try:
            seconds = parse_duration(spec.duration)
        except ValueError as exc:
            raise ConfigError(f"--duration: {exc}") from None
        if not 0 < seconds <= MAX_SILENCE_SECONDS:
            raise ConfigError(f"--duration {spec.duration!r} is outside 1s to 366d")
        return now + timedelta(seconds=seconds)
    if spec.ends_at is not None:
        ends_at = spec.ends_at if spec.ends_at.tzinfo else spec.ends_at.replace(tzinfo=UTC)
        if ends_at <= now:
            raise ConfigError(f"--until {ends_at.isoformat()} is in the past; give a later time")
        return ends_at
    if spec.every is None:
        raise ConfigError("a silence needs --duration, --until or --every")
    return None


def _recurring_now(silence: Silence) -> Silence:
    """A recurring silence is active only inside one of its windows."""
    if not silence.active or silence.every is None:
        return silence
    window = parse_every(silence.every, silence.timezone or "UTC")
    inside = window_end(window, datetime.now(UTC)) is not None
    return silence.model_copy(update={"active": inside})

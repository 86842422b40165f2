"""People settings: which destinations carry people's notifications (``people set``).

A medium names one existing destination of the org: an email destination (it sends to a
person's address instead of its own ``to``) or a Slack destination with a bot token (it
posts to a person's DM or channel; an incoming webhook can only post where it was made
for). Checked here, so the router never plans a person's delivery a worker cannot send.
"""

from __future__ import annotations

from sqlalchemy import Connection

from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.subscriptions import no_destination
from eventrouter.router.db import config as config_store
from eventrouter.router.db import people as store
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.people import PeopleSettings, PeopleSettingsIn

KINDS = {"email_via": "email", "slack_via": "slack"}


class People(Service):
    def show(self) -> PeopleSettings:
        self.caller.require(Role.VIEWER, "reading the people settings")
        with self.transaction() as conn:
            return PeopleSettings.model_validate(store.settings(conn, self.org)._asdict())

    def set(self, change: PeopleSettingsIn) -> PeopleSettings:
        self.caller.require(Role.ADMIN, "changing the people settings")
        given = change.model_fields_set
        if not given:
            raise ConfigError("nothing to change: give --email-via or --slack-via")
        with self.transaction() as conn:
            email_via = self._medium(conn, "email_via", change.email_via)
            slack_via = self._medium(conn, "slack_via", change.slack_via)
            store.save_settings(
                conn,
                self.org,
                email_via=email_via,
                slack_via=slack_via,
                set_email="email_via" in given,
                set_slack="slack_via" in given,
            )
            return PeopleSettings.model_validate(store.settings(conn, self.org)._asdict())

    def _medium(self, conn: Connection, field: str, name: str | None) -> int | None:
        """The id of the destination ``name`` for ``field``; refused when it is of the wrong
        kind or (Slack) has no bot token."""
        if name is None:
            return None
        found = config_store.list_destinations(conn, self.org, [name])
        if not found:
            raise no_destination(name)
        destination = found[0]
        refusal = medium_refusal(
            field, name, destination.kind, bool(destination.config.get("bot_token"))
        )
        if refusal is not None:
            raise ConfigError(refusal, field=(field,))
        return destination.id


def medium_refusal(field: str, name: str, kind: str, has_bot_token: bool) -> str | None:
    """Why destination ``name`` (of ``kind``) cannot carry the medium ``field``
    (``email_via``, ``slack_via``), or ``None``; shared by ``people set`` and ``apply``."""
    flag, wanted = "--" + field.replace("_", "-"), KINDS[field]
    if kind != wanted:
        return f"{flag}: {name!r} is a {kind} destination; name a {wanted} one"
    if wanted == "slack" and not has_bot_token:
        return (
            f"{flag}: {name!r} posts through an incoming webhook, which cannot reach a "
            "person; give it a bot token (destinations update … --bot-token)"
        )
    return None

"""People as recipients: the org's media (``people_settings``) and who the router may
notify. The router reads them per batch, only for batches that reach a subscription with
people, so a user added, removed or changed is seen by the next event (no cache to wait
for, and no user removed mid-flight planned again).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db import preferences
from eventrouter.router.people.merge import Media
from eventrouter.router.people.preferences import UserPreferences

# A medium whose destination is disabled reaches no one, like one never set.
MEDIA = text(
    """
    SELECT p.org, e.id AS email_via, s.id AS slack_via
    FROM people_settings p
    LEFT JOIN destinations e ON e.id = p.email_via AND e.enabled
    LEFT JOIN destinations s ON s.id = p.slack_via AND s.enabled
    WHERE p.org = ANY(CAST(:orgs AS text[]))
    """
)
ORG_USERS = text("SELECT id, org FROM users WHERE org = ANY(CAST(:orgs AS text[]))")
SETTINGS = text(
    """
    SELECT e.name AS email_via, s.name AS slack_via, p.updated_at
    FROM people_settings p
    LEFT JOIN destinations e ON e.id = p.email_via
    LEFT JOIN destinations s ON s.id = p.slack_via
    WHERE p.org = :org
    """
)
# Only the media given change; NULL for a medium given as None clears it.
SAVE_SETTINGS = text(
    """
    INSERT INTO people_settings AS p (org, email_via, slack_via)
    VALUES (:org, :email_via, :slack_via)
    ON CONFLICT (org) DO UPDATE SET
        email_via = CASE WHEN :set_email THEN excluded.email_via ELSE p.email_via END,
        slack_via = CASE WHEN :set_slack THEN excluded.slack_via ELSE p.slack_via END,
        updated_at = now()
    """
)


class PeopleSettingsRow(NamedTuple):
    email_via: str | None
    slack_via: str | None


def media(conn: Connection, orgs: Collection[str]) -> dict[str, Media]:
    rows = conn.execute(MEDIA, {"orgs": sorted(orgs)})
    return {row.org: Media(row.email_via, row.slack_via) for row in rows}


def org_people(conn: Connection, orgs: Collection[str]) -> dict[str, list[UserPreferences]]:
    """Every user of ``orgs`` with their preferences (defaults where never saved)."""
    org_of = {int(row.id): row.org for row in conn.execute(ORG_USERS, {"orgs": sorted(orgs)})}
    people: dict[str, list[UserPreferences]] = {org: [] for org in orgs}
    if org_of:
        for user_id, person in sorted(preferences.load_many(conn, list(org_of)).items()):
            people.setdefault(org_of[user_id], []).append(person)
    return people


def settings(conn: Connection, org: str) -> PeopleSettingsRow:
    row = conn.execute(SETTINGS, {"org": org}).one_or_none()
    return PeopleSettingsRow(None, None) if row is None else PeopleSettingsRow(*row[:2])


def save_settings(
    conn: Connection,
    org: str,
    *,
    email_via: int | None,
    slack_via: int | None,
    set_email: bool,
    set_slack: bool,
) -> None:
    conn.execute(
        SAVE_SETTINGS,
        {
            "org": org,
            "email_via": email_via,
            "slack_via": slack_via,
            "set_email": set_email,
            "set_slack": set_slack,
        },
    )

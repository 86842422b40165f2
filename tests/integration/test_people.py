"""Users and API tokens: the services, ``authenticate`` and the CLI, on real Postgres."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.control.tokens import authenticate
from eventrouter.router.errors import ConfigError, Conflict, Forbidden, NotFound, Unauthorized
from eventrouter.router.models.people import TokenIn, UserIn
from eventrouter.router.settings import Settings
from tests.integration.conftest import Run


def control(engine: Engine, settings: Settings, org: str = "acme", **caller: object) -> Control:
    return Control(engine, settings, Caller(org=org, **caller))  # type: ignore[arg-type]


def test_a_token_is_shown_once_stored_hashed_and_acts_with_its_users_role(
    clean_db: Engine, settings: Settings
) -> None:
    admin = control(clean_db, settings)
    user = admin.users.add(UserIn(email="Ana@Example.com", role="developer", name="Ana"))
    created = admin.tokens.create(TokenIn(user="ana@example.com", name="laptop"))
    assert created.token.startswith("er_") and len(created.token) == 58
    assert created.prefix == created.token[:15] and created.user == "Ana@Example.com"
    with clean_db.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_tokens")).one()._mapping
    assert created.token not in str(dict(stored))
    assert bytes(stored["secret_hash"]) == hashlib.sha256(created.token.encode()).digest()

    caller = authenticate(clean_db, settings, created.token)
    assert caller == Caller(org="acme", role=Role.DEVELOPER, user_id=user.id)
    # The role follows the user at once; removing the user removes the token.
    admin.users.set_role("ana@example.com", "viewer")
    assert authenticate(clean_db, settings, created.token).role is Role.VIEWER
    admin.users.remove("ANA@example.com")
    with pytest.raises(Unauthorized, match="unknown token"):
        authenticate(clean_db, settings, created.token)


def test_revoked_expired_unknown_and_malformed_tokens_are_refused(
    clean_db: Engine, settings: Settings
) -> None:
    admin = control(clean_db, settings)
    service = admin.tokens.create(TokenIn(service="billing", role="developer", expires_in="never"))
    assert service.expires_at is None and service.role == "developer"
    assert authenticate(clean_db, settings, service.token).user_id is None

    revoked = admin.tokens.create(TokenIn(service="old"))
    assert admin.tokens.revoke(revoked.id).revoked_at is not None
    assert admin.tokens.revoke(revoked.id).revoked_at is not None  # idempotent
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(clean_db, settings, revoked.token)

    expiring = admin.tokens.create(TokenIn(service="brief", expires_in="1h"))
    with clean_db.begin() as conn:
        conn.execute(
            text("UPDATE api_tokens SET expires_at = now() - interval '1s' WHERE id = :id"),
            {"id": expiring.id},
        )
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(clean_db, settings, expiring.token)

    forged = service.token[:-4] + ("AAAA" if not service.token.endswith("AAAA") else "BBBB")
    for bad, reason in [
        (None, "missing"),
        ("", "missing"),
        ("Bearer x", "malformed"),
        ("er_" + "z" * 55, "malformed"),
        ("er_" + "0" * 55, "unknown"),
        (forged, "unknown"),
    ]:
        with pytest.raises(Unauthorized, match=reason):
            authenticate(clean_db, settings, bad)


def test_people_are_managed_by_admins_within_their_org(
    clean_db: Engine, settings: Settings
) -> None:
    admin = control(clean_db, settings)
    admin.users.add(UserIn(email="bo@example.com", role="admin", timezone="Europe/Paris"))
    with pytest.raises(Conflict, match="already exists"):
        admin.users.add(UserIn(email="BO@example.com", role="viewer"))
    for bad, message in [
        (UserIn(email="not-an-email", role="viewer"), "not an email"),
        # The same check as a person's own address: a control character would reach SMTP.
        (UserIn(email="a\x1bb@example.com", role="viewer"), "not an email"),
        (UserIn(email="c@example.com", role="owner"), "unknown role 'owner'"),
        (UserIn(email="c@example.com", role="viewer", timezone="Mars/Olympus"), "time zone"),
    ]:
        with pytest.raises(ConfigError, match=message):
            admin.users.add(bad)
    with pytest.raises(ConfigError, match="one user or one service"):
        admin.tokens.create(TokenIn())
    with pytest.raises(ConfigError, match="bad expiry"):
        admin.tokens.create(TokenIn(service="x", expires_in="forever"))
    with pytest.raises(NotFound, match="no user"):
        admin.tokens.create(TokenIn(user="nobody@example.com"))

    developer = control(clean_db, settings, role=Role.DEVELOPER)
    with pytest.raises(Forbidden, match="admin"):
        developer.users.list()
    with pytest.raises(Forbidden, match="admin"):
        developer.tokens.create(TokenIn(service="x"))

    other = control(clean_db, settings, org="globex")
    assert other.users.list().items == []
    with pytest.raises(NotFound):
        other.users.get("bo@example.com")
    token = admin.tokens.create(TokenIn(service="x"))
    with pytest.raises(NotFound):
        other.tokens.revoke(token.id)

    # An admin acting through their own token cannot lock themselves out.
    bo = admin.users.get("bo@example.com")
    as_bo = control(clean_db, settings, user_id=bo.id)
    with pytest.raises(ConfigError, match="yourself"):
        as_bo.users.set_role("bo@example.com", "viewer")
    with pytest.raises(ConfigError, match="yourself"):
        as_bo.users.remove("bo@example.com")
    assert as_bo.users.me().email == "bo@example.com"


def test_user_and_token_lists_page_without_gaps(clean_db: Engine, settings: Settings) -> None:
    admin = control(clean_db, settings)
    for i in range(7):
        admin.users.add(UserIn(email=f"u{i}@example.com", role="viewer"))
        admin.tokens.create(TokenIn(user=f"u{i}@example.com"))
    for service in (admin.users, admin.tokens):
        seen, cursor = [], None
        while True:
            page = service.list(limit=3, cursor_token=cursor)  # type: ignore[attr-defined]
            seen += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == list(range(1, 8)) and len(seen) == 7


def test_the_cli_manages_users_and_tokens(run: Run, clean_db: Engine, settings: Settings) -> None:
    assert run("users", "add", "ops@example.com", "--role", "admin", "--name", "Ops").code == 0
    listed = run("users", "list")
    assert "ops@example.com" in listed.out and "admin" in listed.out
    created = run("tokens", "create", "--user", "ops@example.com", "--expires", "30d")
    assert created.code == 0, created.err
    token = created.out.strip()
    assert token.startswith("er_") and "not shown again" in created.err
    assert authenticate(clean_db, settings, token).role is Role.ADMIN
    listed = run("tokens", "list")
    assert token[:15] in listed.out and token not in listed.out
    assert run("users", "set-role", "ops@example.com", "viewer").code == 0
    assert authenticate(clean_db, settings, token).role is Role.VIEWER
    assert run("tokens", "revoke", "1").code == 0
    with pytest.raises(Unauthorized):
        authenticate(clean_db, settings, token)

    bad = run("users", "add", "ops@example.com", "--role", "viewer")
    assert bad.code == 2 and "already exists" in bad.err and "Traceback" not in bad.err
    bad = run("tokens", "create", "--service", "ci", "--expires", "soon")
    assert bad.code == 2 and bad.err.startswith("error: bad expiry")
    bad = run("tokens", "revoke", "99")
    assert bad.code == 2 and "no token with id 99" in bad.err
    assert run("users", "remove", "ops@example.com").code == 0
    assert run("users", "list").out.strip() == "no users"


def test_the_cli_sets_a_users_slack_contact(run: Run) -> None:
    added = run("users", "add", "ana@example.com", "--role", "viewer", "--slack-user", "U0ANA")
    assert added.code == 0, added.err
    changed = run("users", "set", "ana@example.com", "--slack-channel", "C0OPS", "--json")
    assert changed.code == 0, changed.err
    assert '"slack_user": "U0ANA"' in changed.out and '"slack_channel": "C0OPS"' in changed.out
    cleared = run("users", "set", "ana@example.com", "--slack-user", "", "--name", "Ana")
    assert cleared.code == 0, cleared.err
    listed = run("users", "list")
    assert "C0OPS" in listed.out and "U0ANA" not in listed.out and "Ana" in listed.out
    bad = run("users", "set", "ana@example.com", "--slack-user", "@ana")
    assert bad.code == 2 and "not a Slack member id" in bad.err and "Traceback" not in bad.err
    bad = run("users", "set", "ana@example.com")
    assert bad.code == 2 and "nothing to change" in bad.err


def test_the_cli_shows_and_sets_a_users_preferences(run: Run) -> None:
    assert run("channels", "add", "payments", "--pattern", "payment:.*").code == 0
    assert run("users", "add", "ana@example.com", "--role", "viewer").code == 0
    shown = run("preferences", "show", "--user", "ana@example.com")
    assert shown.code == 0, shown.err
    assert "email: on → ana@example.com" in shown.out and "digest: immediate" in shown.out
    changed = run(
        "preferences", "set", "--user", "ana@example.com", "--no-slack",
        "--channel", "payments=off", "--quiet-hours", "22:00-07:00", "--quiet-days", "mon-fri",
        "--quiet-mode", "drop", "--timezone", "Asia/Tokyo", "--digest", "daily 08:30",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    assert "(Asia/Tokyo)" in changed.out and "slack: off" in changed.out
    assert "channels off: payments" in changed.out
    assert "quiet hours: 22:00-07:00 mon-fri, drop" in changed.out
    as_json = run(
        "preferences", "set", "--user", "ana@example.com", "--quiet-hours", "off", "--json"
    )
    assert '"quiet_hours": null' in as_json.out and '"digest": "daily 08:30"' in as_json.out

    for args, message in [
        (["--channel", "nope=off"], "channels: no channel 'nope'"),
        (["--channel", "payments"], "write NAME=on or NAME=off"),
        (["--digest", "weekly"], "digest: 'weekly': use immediate"),
        (["--timezone", "Mars/X"], "timezone: unknown time zone 'Mars/X'"),
        (["--quiet-days", "sat"], "go with --quiet-hours"),
        ([], "nothing to change"),
    ]:
        bad = run("preferences", "set", "--user", "ana@example.com", *args)
        assert bad.code == 2 and message in bad.err, (args, bad.err)
        assert "Traceback" not in bad.err and len(bad.err.strip().splitlines()) == 1
    bad = run("preferences", "show", "--user", "nobody@example.com")
    assert bad.code == 2 and "no user 'nobody@example.com'" in bad.err

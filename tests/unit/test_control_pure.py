"""The pure parts of the control plane: roles, cursors, terminal-safe output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventrouter.router.cli.output import cell, printable
from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Caller, Role
from eventrouter.router.errors import ConfigError, Forbidden


def test_each_role_includes_the_ones_before() -> None:
    assert Role.ADMIN.includes(Role.DEVELOPER) and Role.ADMIN.includes(Role.VIEWER)
    assert Role.DEVELOPER.includes(Role.VIEWER) and not Role.DEVELOPER.includes(Role.ADMIN)
    assert not Role.VIEWER.includes(Role.DEVELOPER)


def test_a_caller_below_the_role_is_refused_with_the_role_named() -> None:
    viewer = Caller(org="acme", role=Role.VIEWER)
    viewer.require(Role.VIEWER, "reading")
    with pytest.raises(Forbidden, match="adding a channel needs the admin role"):
        viewer.require(Role.ADMIN, "adding a channel")


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    token = cursor.encode("2026-12-02T10:00:00+00:00", "01a2")
    assert cursor.decode(token, 2) == ["2026-12-02T10:00:00+00:00", "01a2"]
    for bad in ("", "not-base64!", cursor.encode(1), "eyJ"):
        with pytest.raises(ConfigError, match="invalid cursor"):
            cursor.decode(bad, 2)


def test_typed_cursors_refuse_keys_of_the_wrong_shape() -> None:
    assert cursor.decode_id(cursor.encode(42)) == 42
    when = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    made = cursor.encode(when.isoformat(), "01a2")
    assert cursor.decode_time_and_id(made, str) == (when, "01a2")
    for bad in (cursor.encode("42"), cursor.encode(True), cursor.encode(None), cursor.encode(1.5)):
        with pytest.raises(ConfigError, match="invalid cursor"):
            cursor.decode_id(bad)
    for bad in (
        cursor.encode(1, "01a2"),
        cursor.encode("yesterday", "01a2"),
        cursor.encode(when.isoformat(), 7),
        cursor.encode(when.isoformat(), None),
    ):
        with pytest.raises(ConfigError, match="invalid cursor"):
            cursor.decode_time_and_id(bad, str)
    with pytest.raises(ConfigError, match="invalid cursor"):
        cursor.decode_time_and_id(cursor.encode(when.isoformat(), "7"), int)


def test_a_page_read_one_row_longer_says_whether_there_is_more() -> None:
    full = cursor.next_page([1, 2, 3], 2, lambda n: [n])
    assert full.items == [1, 2] and full.next_cursor == cursor.encode(2)
    last = cursor.next_page([1, 2], 2, lambda n: [n])
    assert last.items == [1, 2] and last.next_cursor is None


@pytest.mark.parametrize("limit", [0, -1, cursor.MAX_PAGE + 1])
def test_page_sizes_have_a_hard_maximum(limit: int) -> None:
    with pytest.raises(ConfigError, match="limit must be between"):
        cursor.check_limit(limit)


def test_terminal_control_characters_from_outside_are_shown_not_obeyed() -> None:
    hostile = "ok\x1b[2J\x1b]0;pwned\x07\r\x9b31m"
    shown = printable(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "\x9b" not in shown
    assert shown.startswith("ok\\x1b[2J")
    assert "\x1b" not in cell(hostile) and "\x1b" not in cell({"body": hostile})
    assert printable("naïve — ünïcode") == "naïve — ünïcode"

"""How the CLI prints: aligned tables for people, one JSON document for scripts, and one
line on stderr for an error. Text that came from outside (a receiver's body, an event's
payload) is printed with control characters escaped: a receiver must not be able to move
the cursor or recolour an operator's terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from pydantic import BaseModel

from eventrouter.router.errors import ConfigError

USAGE_EXIT = 2
SERVICE_EXIT = 1

_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), 0x7F) if code != 0x0A}
_CONTROL.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
_CONTROL[0x09] = " "


def printable(text: str) -> str:
    """``text`` with terminal control characters (ESC, CR, C1 codes…) shown as ``\\xNN``."""
    return text.translate(_CONTROL)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(document: Any) -> None:
    """One JSON document; non-ASCII kept, control characters escaped by JSON itself."""
    click.echo(json.dumps(_plain(document), default=_json_default, indent=2, ensure_ascii=False))


LOCAL_TIME = False
"""Times in the machine's zone (``--local``) instead of UTC."""


def when(value: datetime) -> str:
    """A time with its zone: UTC unless ``--local`` was given."""
    shown = value.astimezone() if LOCAL_TIME else value.astimezone(UTC)
    return shown.strftime("%Y-%m-%d %H:%M:%S ") + ("%s" % (shown.tzname() or ""))


def relative(value: datetime, now: datetime | None = None) -> str:
    """``in 12 s``, ``in 5 min``, ``3 h ago``: how far a time is from now."""
    seconds = (value - (now or datetime.now(UTC))).total_seconds()
    size = abs(seconds)
    if size < 1:
        return "now"
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if size >= span:
            amount = f"{int(size // span)} {unit}"
            break
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def plural(count: int, noun: str) -> str:
    """``1 delivery``, ``2 deliveries``, ``1 attempt``, ``3 attempts``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return printable(json.dumps(value, default=str, ensure_ascii=False))
    text = printable(str(value).replace("\n", " "))
    return text if len(text) <= 60 else text[:59] + "…"


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Plain aligned columns, like ``kubectl get``."""
    if not rows:
        click.echo(empty)
        return
    cells = [[cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def listing(
    items: Sequence[BaseModel] | Sequence[dict[str, Any]],
    as_json: bool,
    columns: Sequence[str],
    empty: str,
    *,
    rows: Sequence[dict[str, Any]] | None = None,
) -> None:
    """``items`` as JSON for scripts, else ``rows`` (the items, made fit to read) as a table."""
    if as_json:
        emit_json(list(items))
    else:
        emit_table(rows if rows is not None else [_plain(i) for i in items], columns, empty)


def report(as_json: bool, document: Any, message: str) -> None:
    """Print ``document`` as JSON for scripts, else ``message`` for people."""
    if as_json:
        emit_json(document)
    else:
        click.echo(message)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def given(**options: Any) -> dict[str, Any]:
    """The options a person gave (click leaves the others ``None``), for an ``…Update``."""
    return {name: value for name, value in options.items() if value is not None}


def env_change(env: str | None, all_envs: bool) -> dict[str, Any]:
    """``--env E`` / ``--all-envs`` as the ``env`` field of an ``…Update`` (or nothing)."""
    if env is not None and all_envs:
        raise ConfigError("give --env or --all-envs, not both")
    if all_envs:
        return {"env": None}
    return {} if env is None else {"env": env}

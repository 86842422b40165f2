"""``eventrouter apply``, ``export`` and ``schema``: routing kept as code (YAML in git)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import emit_json
from eventrouter.router.control.routing_export import json_schema
from eventrouter.router.errors import ConfigError

SUFFIXES = (".yaml", ".yml")


def read_files(path: str) -> list[tuple[str, str]]:
    """``(name, text)`` of the routing file at ``path``, every ``*.yaml``/``*.yml`` in a
    directory (in name order), or standard input for ``-``."""
    if path == "-":
        return [("<stdin>", sys.stdin.read())]
    where = Path(path)
    if where.is_dir():
        found = sorted(p for p in where.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not found:
            raise ConfigError(f"no .yaml or .yml file in {path!r}")
    else:
        found = [where]
    try:
        return [(str(p), p.read_text()) for p in found]
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path!r} is not UTF-8 text: {exc.reason}") from None


@click.command("apply")
@click.option("-f", "--file", "path", required=True, help="Routing file, directory, or - (stdin).")
@click.option("--prune", is_flag=True, help="Also remove what the file does not name.")
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@pass_ctx
def apply(ctx: Context, path: str, prune: bool, dry_run: bool, as_json: bool) -> None:
    """Make the org's channels, destinations and subscriptions (with their rules and
    people) and its people settings what a routing file says.

    Everything is checked first (every problem is listed, with file:line), then applied
    in one transaction; applying the same file again changes nothing.
    """
    files = read_files(path)
    service = ctx.control.configuration
    plan = service.plan(files, prune=prune) if dry_run else service.apply(files, prune=prune)
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "changes": [
                    {"action": c.action, "kind": c.noun, "name": c.name, "details": list(c.details)}
                    for c in plan.changes
                ],
            }
        )
        return
    for change in plan.changes:
        click.echo(str(change))
    if not plan.changes:
        click.echo("no changes")
    elif dry_run:
        click.echo(f"{plan.summary()} (dry run: nothing written)")
    else:
        click.echo(f"applied: {plan.summary()}")


@click.command("export")
@pass_ctx
def export(ctx: Context) -> None:
    """Print the org's configuration as a routing file (secrets as references)."""
    click.echo(ctx.control.configuration.export(), nl=False)


@click.command("schema")
def schema() -> None:
    """Print the JSON Schema of routing files (for editors)."""
    click.echo(json.dumps(json_schema(), indent=2))

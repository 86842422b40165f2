"""``eventrouter dev``: the whole stack on one machine, for a try-out or development."""

from __future__ import annotations

from pathlib import Path

import click

from eventrouter.router.cli.context import Context, pass_ctx


@click.command("dev")
@click.option(
    "--data-dir",
    default=".eventrouter",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where private Postgres/Redis keep their data, and the log.",
)
@click.option(
    "--services-only",
    is_flag=True,
    help="Start only Postgres and Redis (where nothing answers), not the router and worker.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes.",
)
@click.option(
    "--api-port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="Port of the HTTP API on 127.0.0.1.",
)
@click.option("--no-api", is_flag=True, help="Run no HTTP API.")
@pass_ctx
def dev(
    ctx: Context,
    data_dir: Path,
    services_only: bool,
    concurrency: int,
    api_port: int,
    no_api: bool,
) -> None:
    """Run Postgres, Redis, a router, a worker and the API with one log, until Ctrl-C.

    Postgres and Redis are used where the configured URLs answer; where nothing answers,
    private servers start on those addresses with their data in --data-dir (installed
    binaries, else the pip packages of eventrouter[dev-services]). The data is kept.
    """
    from eventrouter.router.devstack import DevOptions, DevStack

    options = DevOptions(
        data_dir.absolute(), services_only, concurrency, None if no_api else api_port
    )
    code = DevStack(ctx.settings, options, click.echo).run()
    if code:
        raise SystemExit(code)

"""Credentials inside a destination URL (user-info, query string) are sealed in Postgres,
masked in every listing, and used as given to send."""

from __future__ import annotations

import base64
import json

import httpx
from sqlalchemy import Engine

from eventrouter.router.destinations import SendContext
from eventrouter.router.models.configuration import DestinationIn
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, control_for, scalar
from tests.integration.conftest import Run
from tests.receiver import Receiver, ok


def stored(engine: Engine, name: str) -> str:
    return str(scalar(engine, "SELECT config::text FROM destinations WHERE name = :n", n=name))


def test_a_webhook_url_with_credentials_is_sealed_masked_and_sent_as_given(
    settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    admin = control_for(clean_db, settings).destinations
    with Receiver(ok()) as rx:
        base = rx.url_for("/hooks/team").replace("http://", "")
        url = f"http://bot:pa55word@{base}?token=t0k3n-s3cret&v=2"
        created = admin.add(DestinationIn(name="teams", type="webhook", config={"url": url}))
        raw = stored(clean_db, "teams")
        assert "pa55word" not in raw and "t0k3n" not in raw and '"url": "enc:v1:' in raw
        configs = [created.config, created.target, *[d.config for d in admin.list()]]
        shown = json.dumps(configs, ensure_ascii=False)
        assert "pa55word" not in shown and "t0k3n" not in shown and "bot" not in shown
        assert f"http://…@{base}?…" in shown
        delivery = seed.delivery(seed.event(), int(created.id))
        with httpx.Client() as http:
            summary = deliver_batch(
                clean_db, SendContext(http=http), settings, int(created.id), [delivery]
            )
        assert summary.succeeded == 1
        (request,) = rx.requests()
    assert request.path == "/hooks/team?token=t0k3n-s3cret&v=2"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"bot:pa55word").decode()


def test_a_url_without_credentials_stays_readable(settings: Settings, clean_db: Engine) -> None:
    control_for(clean_db, settings).destinations.add(
        DestinationIn(name="plain", type="webhook", config={"url": "https://hooks.example.com/x"})
    )
    assert '"url": "https://hooks.example.com/x"' in stored(clean_db, "plain")


def test_the_cli_never_prints_the_credentials(run: Run) -> None:
    url = "https://user:hunter2@hooks.example.com/services/x?code=abc123secret"
    results = [
        run("destinations", "add", "d", "--type", "webhook", "--url", url),
        run("destinations", "list"),
        run("destinations", "list", "--json"),
    ]
    for result in results:
        assert result.code == 0, result
        assert "hunter2" not in result.out + result.err
        assert "abc123secret" not in result.out + result.err
    assert "https://…@hooks.example.com/services/x?…" in results[-1].out


def test_reencrypt_seals_urls_stored_in_clear_before(
    settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    seed.destination("https://hooks.example.com/x?token=old-clear-token", name="old")
    assert "old-clear-token" in stored(clean_db, "old")
    assert control_for(clean_db, settings).destinations.reencrypt_all() == 1
    assert "old-clear-token" not in stored(clean_db, "old")

"""Destination secrets are encrypted in Postgres, masked in listings, decrypted only to
send, re-encrypted on key rotation, and need a key only when there is a secret."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from eventrouter.router.cli import main
from eventrouter.router.control import Control
from eventrouter.router.crypto import SecretBox, generate_key
from eventrouter.router.destinations import SendContext
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import DestinationIn
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, control_for, scalar
from tests.receiver import Receiver, ok

TOKEN = "Bearer sk_live_0123456789abcdef"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def admin(settings: Settings, clean_db: Engine) -> Control:
    return control_for(clean_db, settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def stored_config(engine: Engine, name: str) -> str:
    return str(scalar(engine, "SELECT config::text FROM destinations WHERE name = :n", n=name))


def test_secrets_are_ciphertext_in_postgres_and_masked_in_listings(
    admin: Control, clean_db: Engine
) -> None:
    admin.destinations.add(
        DestinationIn(
            name="hook",
            type="webhook",
            config={
                "url": "https://hooks.example.com/x",
                "headers": {"Authorization": TOKEN},
                "secret": SIGNING,
            },
        )
    )
    raw = stored_config(clean_db, "hook")
    assert "sk_live" not in raw and "MfKQ9r8" not in raw
    assert raw.count("enc:v1:") == 2
    assert "https://hooks.example.com/x" in raw  # the rest stays readable with SQL
    listed = json.dumps(admin.destinations.list(), default=str, ensure_ascii=False)
    assert "sk_live" not in listed and "MfKQ9r8" not in listed
    assert "…cdef" in listed  # masked from the plaintext, not from the ciphertext


def test_the_worker_decrypts_to_send(
    admin: Control, clean_db: Engine, settings: Settings, receiver: Receiver, seed: Seed
) -> None:
    created = admin.destinations.add(
        DestinationIn(
            name="hook",
            type="webhook",
            config={"url": receiver.url_for("/h"), "headers": {"Authorization": TOKEN}},
        )
    )
    delivery = seed.delivery(seed.event(), created.id)
    with httpx.Client() as http:
        summary = deliver_batch(clean_db, SendContext(http=http), settings, created.id, [delivery])
    assert summary.succeeded == 1
    assert receiver.requests()[0].headers["authorization"] == TOKEN
    assert "sk_live" not in str(
        scalar(
            clean_db,
            "SELECT array_agg(coalesce(error, '') || "
            "coalesce(response_body, '')) FROM "
            "delivery_attempts",
        )
    )


def test_a_worker_without_the_key_fails_the_attempt_with_the_reason(
    admin: Control, clean_db: Engine, settings: Settings, receiver: Receiver, seed: Seed
) -> None:
    created = admin.destinations.add(
        DestinationIn(
            name="hook",
            type="webhook",
            config={"url": receiver.url_for("/h"), "headers": {"X-Key": "abcdefghij"}},
        )
    )
    delivery = seed.delivery(seed.event(), created.id)
    other_key = settings.model_copy(update={"secret_key": generate_key()})
    with httpx.Client() as http:
        deliver_batch(clean_db, SendContext(http=http), other_key, created.id, [delivery])
    error = scalar(clean_db, "SELECT last_error FROM deliveries WHERE id = :id", id=delivery)
    assert "cannot be decrypted" in error
    assert receiver.count() == 0


def test_key_rotation_reencrypts_with_the_first_key(
    admin: Control, clean_db: Engine, settings: Settings
) -> None:
    admin.destinations.add(
        DestinationIn(
            name="hook",
            type="webhook",
            config={"url": "https://x.example/h", "headers": {"X-Key": "abcdefghij"}},
        )
    )
    new_key, old_key = generate_key(), settings.secret_key or ""
    rotated = control_for(
        clean_db, settings.model_copy(update={"secret_key": f"{new_key},{old_key}"})
    )
    assert rotated.destinations.reencrypt_all() == 1
    header = json.loads(stored_config(clean_db, "hook"))["headers"]["X-Key"]
    assert SecretBox([new_key]).decrypt(header) == "abcdefghij"
    with pytest.raises(ConfigError):
        SecretBox([old_key]).decrypt(header)


def test_no_key_is_needed_without_secrets_and_a_clear_error_with_them(
    clean_db: Engine, settings: Settings, tmp_path: Path
) -> None:
    keyless = control_for(
        clean_db,
        settings.model_copy(
            update={"secret_key": None, "secret_key_file": str(tmp_path / "missing")}
        ),
    )
    keyless.destinations.add(
        DestinationIn(name="plain", type="webhook", config={"url": "https://x.example/h"})
    )
    with pytest.raises(ConfigError, match="eventrouter db upgrade"):
        keyless.destinations.add(
            DestinationIn(
                name="secret",
                type="webhook",
                config={"url": "https://x.example/h", "headers": {"X-Key": "v" * 12}},
            )
        )
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 1


def test_db_upgrade_creates_a_private_key_file_and_says_where(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "conf" / "secret-key"
    monkeypatch.setenv("EVENTROUTER_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("EVENTROUTER_SECRET_KEY", raising=False)
    monkeypatch.setenv("EVENTROUTER_SECRET_KEY_FILE", str(key_file))
    main(["db", "upgrade"])  # returns normally on success (errors exit)
    out = capsys.readouterr().out
    assert str(key_file) in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    SecretBox([key_file.read_text().strip()])  # a valid Fernet key
    main(["db", "upgrade"])  # a second run keeps the key
    assert "generated" not in capsys.readouterr().out

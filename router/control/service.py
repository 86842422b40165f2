"""What every service shares: the database, the settings and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, ProgrammingError

from eventrouter.router.control.caller import Caller
from eventrouter.router.db import translating_errors
from eventrouter.router.errors import ConfigError
from eventrouter.router.settings import Settings


class Service:
    """Operations on one org's data for one caller. Each operation is one transaction: it
    completes or raises an ``EventRouterError`` meant for a person; nothing is half-written."""

    def __init__(self, engine: Engine, settings: Settings, caller: Caller) -> None:
        self.engine = engine
        self.settings = settings
        self.caller = caller

    @property
    def org(self) -> str:
        return self.caller.org

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.database_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def database_errors(self) -> Iterator[None]:
        """Postgres unreachable or without the schema: an error that says what to do."""
        with translating_errors(self.settings.database_url):
            try:
                yield
            except ProgrammingError as exc:
                if "does not exist" in str(exc.orig):
                    raise ConfigError(
                        "the database has no eventrouter schema; run 'eventrouter db upgrade'"
                    ) from exc
                raise
            except DataError as exc:
                # Postgres text and jsonb cannot hold a NUL byte; psycopg refuses it before
                # sending. Whichever name or filter carried it, the input is what to fix.
                if "NUL" in str(exc.orig) or "\\u0000" in str(exc.orig):
                    raise ConfigError(
                        "text cannot contain a NUL (0x00) byte; remove it and send again"
                    ) from exc
                raise

"""The baseline: what a user would write by hand with Celery, naively and correctly.

One task per (event, destination), published with ``.delay()``; the task POSTs the
event with a module-level ``httpx.Client``, INSERTs one attempt row per try with the
SQLAlchemy ORM, and on failure retries with ``self.retry(countdown=…)``; ``acks_late``;
run as a prefork worker with concurrency 2::

    celery -A bench.baseline worker --pool prefork --concurrency 2 -Q bench-naive

It uses the benchmark's Redis, Postgres and key prefix (``bench.services.BenchConfig``)
and its own table, ``naive_attempts``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import httpx
from celery import Celery
from sqlalchemy import DateTime, Integer, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.services import BenchConfig

_config = BenchConfig()
REDIS_URL = _config.redis_url
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", _config.database_url)
QUEUE = _config.baseline_queue

app = Celery("naive", broker=REDIS_URL)
app.conf.update(task_default_queue=QUEUE, task_ignore_result=True, worker_hijack_root_logger=False)

engine = create_engine(DATABASE_URL)
http = httpx.Client(timeout=10)


class Base(DeclarativeBase):
    pass


class NaiveAttempt(Base):
    __tablename__ = "naive_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


@app.task(bind=True, acks_late=True, max_retries=7)  # type: ignore[untyped-decorator]
def deliver(self: Any, event: dict[str, Any], url: str) -> None:
    status_code: int | None = None
    error: str | None = None
    try:
        response = http.post(url, json=event)
        status_code = response.status_code
        if status_code >= 300:
            error = f"HTTP {status_code}"
    except httpx.HTTPError as exc:
        error = str(exc) or type(exc).__name__
    with Session(engine) as session, session.begin():
        session.add(
            NaiveAttempt(
                event_id=event["id"],
                url=url,
                attempt=self.request.retries + 1,
                status_code=status_code,
                error=error,
            )
        )
    if error is not None:
        raise self.retry(countdown=5 * 2**self.request.retries)


def create_table() -> None:
    Base.metadata.create_all(engine)

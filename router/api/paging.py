"""Query parameters every list takes: ``limit`` (default 20, at most 100) and ``cursor``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="The next_cursor of the previous page."),
]

"""A batch of rows as one JSON parameter, for ``json_to_recordset`` to unpack in Postgres.

Why not one typed array per column: psycopg builds each array's text in Python, item by
item, and escapes every quoted item with a regex substitution (a payload's quotes, one
call each); for the router's batches that was most of its CPU. ``json_to_recordset``
(plain ``json``: one pass of its parser, no tree) unpacks the rows for less Postgres CPU
than ``unnest`` of the arrays too.

The rows are written with these helpers rather than by ``json.dumps`` of a dict per row,
which costs about twice as much: strings go through the C string encoder (non-ASCII
escaped, so a string Postgres cannot hold fails there, as a refused batch, not in the
driver), numbers are checked for their type, and a JSON document the router already
holds as text (a validated payload) is placed as it is, never decoded to be encoded
again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

_string = json.encoder.encode_basestring_ascii


def string(value: str | None) -> str:
    """A string as a JSON value; ``None`` is ``null`` (SQL NULL)."""
    return "null" if value is None else _string(value)


def integer(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def number(value: float | None) -> str:
    """A float as JSON; one that is not finite is not JSON, and Postgres refuses the batch."""
    return "null" if value is None else repr(float(value))


def document(value: str | None) -> str:
    """A JSON document held as text, placed as it is."""
    return "null" if value is None else value


def array(rows: Iterable[str]) -> str:
    """Rows written as JSON objects, as the one array ``json_to_recordset`` takes."""
    return f"[{','.join(rows)}]"

"""A batch of rows as one JSON parameter, for ``json_to_recordset`` to unpack in Postgres.

Why not one typed array per column: psycopg builds each array's text in Python, item by
item, and escapes every quoted item with a regex substitution (a payload's quotes, one
call each); for the router's batches that was most of its CPU. ``json.dumps`` does the
same work in C, and ``json_to_recordset`` (plain ``json``: one pass of its parser, no
tree) unpacks the rows for less Postgres CPU than ``unnest`` of the arrays too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

_encode = json.JSONEncoder(separators=(",", ":")).encode


def records(rows: Sequence[Mapping[str, object]]) -> str:
    """``rows`` as a JSON array of objects; ``None`` becomes SQL NULL. Values must be what
    ``json`` encodes (strings, numbers, booleans, None); non-ASCII text is escaped, so a
    string Postgres cannot hold fails there, as a refused batch, not in the driver."""
    return _encode(rows)


def records_with_json(
    rows: Sequence[Mapping[str, object]], field: str, documents: Iterable[str | None]
) -> str:
    """Like ``records``, each row also given ``field``: a JSON document as text (a payload
    the router already validated and encoded), placed as it is instead of being decoded
    to be encoded again, or being sent as a string Postgres would parse twice."""
    parts = [
        f'{_encode(row)[:-1]},"{field}":{document or "null"}}}'
        for row, document in zip(rows, documents, strict=True)
    ]
    return f"[{','.join(parts)}]"

"""The JSON values a batch parameter is written with (``router.db.records``)."""

from __future__ import annotations

import json

import pytest

from eventrouter.router.db.records import array, document, integer, number, string

AWKWARD = 'quote " backslash \\ slash / tab \t newline \n é 漢字 😀 \u2028 nul \x00 {"x": [1]}'


def test_values_are_written_as_json() -> None:
    assert json.loads(array([f'{{"s":{string(AWKWARD)},"i":{integer(7)},"d":{document("[1]")}}}']))
    assert [integer(None), document(None)] == ["null", "null"]
    assert string(None) == "null"
    assert json.loads(string(AWKWARD)) == AWKWARD
    assert string(AWKWARD).isascii()
    assert json.loads(number(1733200000.123456)) == 1733200000.123456
    with pytest.raises(ValueError):
        json.loads(number(float("nan")), parse_constant=_refuse)


def _refuse(name: str) -> float:
    raise ValueError(f"{name} is not JSON")

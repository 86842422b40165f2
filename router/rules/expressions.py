"""CEL expressions over an event: compiled once, evaluated per event.

The variables are ``name``, ``org``, ``env``, ``payload`` (the JSON object) and
``received_at`` (a timestamp). A syntax error or an unknown variable is refused when
the rule is created, with its position; at run time an error (a missing field, a type
mismatch) is an ``ExpressionError`` the caller records, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import cel

VARIABLES = ("name", "org", "env", "payload", "received_at")
MAX_EXPRESSION_LENGTH = 4000
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_IDENTIFIER = r"(?<![\w.]){}(?!\w)"


Activation = Any
"""A ``cel.Context`` from ``activation`` (or a plain dict of the variables)."""


class ExpressionError(Exception):
    """An expression failed on one event (missing field, wrong type, not a bool)."""


class Expression:
    """A compiled CEL expression; ``source`` is what the person wrote."""

    __slots__ = ("_program", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source = source
        self._program = program

    def value(self, activation: Activation) -> Any:
        """The expression's value for ``activation``; ``ExpressionError`` says why not."""
        try:
            return self._program.execute(activation)
        except KeyError as exc:
            raise ExpressionError(
                f"no field {exc.args[0]!r} (guard it with has(), e.g. has(payload.x) && …)"
            ) from None
        except Exception as exc:  # the CEL runtime raises TypeError, RuntimeError, ValueError…
            raise ExpressionError(_first_sentence(str(exc))) from None

    def test(self, activation: Activation) -> bool:
        """Whether the event matches; a value that is not a bool is an ``ExpressionError``."""
        result = self.value(activation)
        if not isinstance(result, bool):
            raise ExpressionError(f"gave {result!r} ({type(result).__name__}), not true or false")
        return result

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(source: str, what: str = "filter") -> Expression:
    """Compile ``source``; ``ValueError`` names the problem and where it is."""
    if not source.strip():
        raise ValueError(f"{what} is empty; write a CEL expression, e.g. payload.score >= 0.6")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"{what} is {len(source)} chars; the limit is {MAX_EXPRESSION_LENGTH}")
    try:
        program = cel.compile(source)
    except Exception as exc:
        raise ValueError(f"{what} {source!r}: {_syntax_error(str(exc))}") from None
    for variable in program.variables():
        if variable not in VARIABLES:
            column = _column_of(source, variable)
            raise ValueError(
                f"{what} {source!r}: unknown variable {variable!r} at column {column}; "
                f"use {', '.join(VARIABLES)}"
            )
    expression = Expression(source, program)
    if not program.variables():  # a constant: its type errors show now, not per event
        try:
            expression.value({})
        except ExpressionError as exc:
            raise ValueError(f"{what} {source!r}: {exc}") from None
    return expression


def activation(
    name: str, org: str, env: str | None, payload: Mapping[str, Any], received_at: datetime
) -> Activation:
    """The variables an expression sees for one event, converted to CEL values once.

    Converting the payload is most of an evaluation's cost (bench/RESULTS-rules.md): an
    event's variables are built once and shared by every expression that reads them.
    """
    context = cel.Context()
    context.add_variable("name", name)
    context.add_variable("org", org)
    context.add_variable("env", env)
    context.add_variable("payload", payload)
    context.add_variable("received_at", received_at)
    return context


def _syntax_error(message: str) -> str:
    match = _POSITION.search(message)
    if match is None:
        return _first_sentence(message)
    line, column, reason = match.groups()
    where = f"column {column}" if line == "1" else f"line {line}, column {column}"
    reason = reason.split(" expecting ")[0].removeprefix("Syntax error: ")
    return f"syntax error at {where}: {reason}"


def _column_of(source: str, identifier: str) -> int:
    match = re.search(_IDENTIFIER.format(re.escape(identifier)), source)
    return match.start() + 1 if match else 1


def _first_sentence(text: str) -> str:
    """CEL's messages run to paragraphs; their first sentence says what went wrong."""
    line = text.strip().splitlines()[0] if text.strip() else "failed"
    head, dot, _ = line.partition(". ")
    return head + ("." if dot else "")

"""``${...}`` templates: JSON bodies (webhook, Slack) and plain text (email subjects).

Placeholders: ``${name}``, ``${id}``, ``${org}``, ``${env}``, ``${timestamp}`` (ISO 8601
UTC at send time), ``${payload_json}`` (the whole payload, an object) and
``${payload.a.b}`` (a value inside the payload; a digit segment indexes a list). ``$$``
is a literal ``$``.

In a JSON template the position of a placeholder decides what it becomes, so a template
that compiles can never render broken JSON, whatever the payload holds:

- inside a JSON string (``"alert: ${name}"``) it inserts the value as text, JSON-escaped
  (quotes, backslashes, newlines, control characters); objects become their JSON text;
- outside a string (``{"amount": ${payload.amount}}``) it inserts the value as a JSON
  value: a number stays a number, a string gets quotes, a missing value is ``null``.

``${payload_json}`` is an object slot and must stand outside quotes; a template putting it
inside a string, or one that is not valid JSON once filled, is refused when compiled, with
the line, column and a snippet marking the bad spot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventrouter.router.events import Event

FIELDS = ("name", "id", "org", "env", "timestamp")
OBJECT_SLOT = "payload_json"
PATH_PREFIX = "payload."
_PLACEHOLDER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[^.}\s]+)*")
KNOWN = ", ".join(f"${{{n}}}" for n in (*FIELDS, OBJECT_SLOT, "payload.some.path"))


class TemplateError(ValueError):
    """A template that cannot work; the message shows where."""


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    quoted: bool
    """Inside a JSON string: insert text. Outside: insert a JSON value."""
    start: int
    """Index of ``$`` in the template source."""


def _spot(source: str, index: int, problem: str) -> TemplateError:
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    before = source[max(0, index - 30) : index].replace("\n", " ")
    after = source[index : index + 30].replace("\n", " ")
    return TemplateError(f"{problem} at line {line}, column {column}: …{before}»«{after}…")


def _scan(source: str, *, json_mode: bool) -> tuple[tuple[str | Slot, ...], list[int]]:
    """Split ``source`` into literal text and slots (with each part's source offset)."""
    parts: list[str | Slot] = []
    offsets: list[int] = []
    literal: list[str] = []
    literal_start = 0
    in_string = False
    i = 0
    while i < len(source):
        char = source[i]
        if not literal:
            literal_start = i
        if char == "$" and source.startswith("$$", i):
            literal.append("$")
            i += 2
            continue
        if char == "$" and source.startswith("${", i):
            end = source.find("}", i + 2)
            if end == -1:
                raise _spot(source, i, "unterminated placeholder '${' (missing '}')")
            name = source[i + 2 : end]
            if not _known(name):
                shown = " ".join(name.split())
                raise _spot(source, i, f"unknown placeholder ${{{shown}}}; use {KNOWN}")
            if json_mode and in_string and name == OBJECT_SLOT:
                raise _spot(
                    source,
                    i,
                    "${payload_json} is an object slot and cannot sit inside quotes; "
                    'write {"payload": ${payload_json}}',
                )
            if literal:
                parts.append("".join(literal))
                offsets.append(literal_start)
                literal = []
            parts.append(Slot(name, json_mode and in_string, i))
            offsets.append(i)
            i = end + 1
            continue
        if json_mode:
            if char == "\\" and in_string:
                literal.append(source[i : i + 2])
                i += 2
                continue
            if char == '"':
                in_string = not in_string
        literal.append(char)
        i += 1
    if literal:
        parts.append("".join(literal))
        offsets.append(literal_start)
    return tuple(parts), offsets


def _known(name: str) -> bool:
    if name in FIELDS or name == OBJECT_SLOT:
        return True
    return name.startswith(PATH_PREFIX) and bool(_PLACEHOLDER.fullmatch(name))


def event_values(event: Event, now: datetime | None = None) -> dict[str, Any]:
    """The values of the fixed placeholders for ``event``, stamped with the send time."""
    sent = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "name": event.name,
        "id": event.id,
        "org": event.org,
        "env": event.env,
        "timestamp": sent.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        OBJECT_SLOT: event.payload,
    }


def lookup(payload: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``payload``; ``None`` when any step is missing."""
    value = payload
    for segment in path.split("."):
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return None
    return value


def as_text(value: Any) -> str:
    """A value as a person reads it: strings as they are, everything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _value(slot: Slot, values: dict[str, Any]) -> Any:
    if slot.name.startswith(PATH_PREFIX):
        return lookup(values[OBJECT_SLOT], slot.name.removeprefix(PATH_PREFIX))
    return values[slot.name]


@dataclass(frozen=True, slots=True)
class JsonTemplate:
    """A compiled JSON template; ``compile`` refuses one that could render broken JSON."""

    source: str
    parts: tuple[str | Slot, ...]

    @classmethod
    def compile(cls, source: str) -> JsonTemplate:
        parts, offsets = _scan(source, json_mode=True)
        template = cls(source, parts)
        sample, starts = template._fill(None)
        try:
            json.loads(sample)
        except ValueError as exc:
            pos = getattr(exc, "pos", 0)
            index = len(source)
            for part, part_start, source_start in zip(parts, starts, offsets, strict=True):
                if part_start > pos:
                    break
                index = source_start + (pos - part_start if isinstance(part, str) else 0)
            reason = getattr(exc, "msg", str(exc))
            raise _spot(
                source, min(index, len(source)), f"template is not valid JSON ({reason})"
            ) from None
        return template

    def _fill(self, values: dict[str, Any] | None) -> tuple[str, list[int]]:
        """The filled text and where each part starts in it. ``None`` fills samples."""
        out: list[str] = []
        starts: list[int] = []
        size = 0
        for part in self.parts:
            if isinstance(part, str):
                text = part
            else:
                value = "" if values is None and part.quoted else None
                if values is not None:
                    value = _value(part, values)
                if part.quoted:
                    text = json.dumps(as_text(value), ensure_ascii=False)[1:-1]
                else:
                    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            starts.append(size)
            out.append(text)
            size += len(text)
        return "".join(out), starts

    def render(self, event: Event, now: datetime | None = None) -> str:
        """The filled JSON text; ``TemplateError`` if it somehow does not parse."""
        text, _ = self._fill(event_values(event, now))
        try:
            json.loads(text)
        except ValueError as exc:
            raise TemplateError(f"the filled template is not valid JSON: {exc}") from None
        return text

    def render_value(self, event: Event, now: datetime | None = None) -> Any:
        return json.loads(self.render(event, now))


@dataclass(frozen=True, slots=True)
class TextTemplate:
    """A compiled one-line text template (an email subject): values inserted as text."""

    source: str
    parts: tuple[str | Slot, ...]

    @classmethod
    def compile(cls, source: str) -> TextTemplate:
        if "\r" in source or "\n" in source:
            raise TemplateError("a subject template must be one line")
        parts, _ = _scan(source, json_mode=False)
        return cls(source, parts)

    def render(self, event: Event, now: datetime | None = None) -> str:
        values = event_values(event, now)
        text = "".join(
            part if isinstance(part, str) else as_text(_value(part, values)) for part in self.parts
        )
        return " ".join(text.split())  # no line breaks can reach a mail header


def check_json_template(source: str) -> str:
    """Validator helper: compile ``source`` (raising ``TemplateError``) and return it."""
    JsonTemplate.compile(source)
    return source

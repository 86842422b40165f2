"""How every dashboard form is handled: read what was posted (``Posted``), call one service,
and on a refusal show the form again with the service's message next to the field it is
about (``save``). Handlers then only say which service to call and where to go next."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from eventrouter.router.errors import ConfigError

Errors = dict[str, str]
"""Field name → message; ``""`` holds what belongs to no one field."""
FORM_ERROR = ""
FieldOf = Callable[[ConfigError], str]


@dataclass(frozen=True, slots=True)
class Submitted:
    """A posted form: each field's text (stripped), and every value of repeated fields
    (a group of checkboxes)."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def many(self, name: str) -> list[str]:
        return self.lists.get(name, [])

    def optional(self, name: str) -> str | None:
        """The field's text, ``None`` when blank (an absent CLI flag)."""
        return self.get(name) or None


async def submitted(request: Request) -> Submitted:
    form = await request.form()
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values[key] = value.strip()
            lists.setdefault(key, []).append(value.strip())
    return Submitted(values, lists)


Posted = Annotated[Submitted, Depends(submitted)]
"""A handler's parameter: the posted form, read before the (sync) handler runs."""


def flag_field(message: str, flags: Mapping[str, str]) -> str:
    """The field of the first CLI flag (of ``flags``: flag → field) that ``message``
    mentions, else none (the message goes above the form)."""
    for flag in re.findall(r"--[a-z][a-z-]*", message):
        if flag in flags:
            return flags[flag]
    return FORM_ERROR


def field_named(exc: ConfigError) -> str:
    """The field a service's message is about: the last part of the field it names
    (``("rules", "filter")`` → ``filter``), else none."""
    return exc.field[-1] if exc.field else FORM_ERROR


def save(
    show: Callable[[Errors], Response],
    action: Callable[[], Response],
    field_of: FieldOf = field_named,
) -> Response:
    """``action()`` (a service call and the page to go to next), or, when the service
    refuses with a ``ConfigError``, ``show`` the form again with its message by the field.
    Any other error (``Forbidden``…) becomes its error page as usual."""
    try:
        return action()
    except ConfigError as exc:
        return show({field_of(exc): str(exc)})

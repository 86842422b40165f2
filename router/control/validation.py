"""The rules for names of configuration objects and for environment labels."""

from __future__ import annotations

import re

from eventrouter.router.errors import ConfigError, InvalidEvent
from eventrouter.router.events import check_scope

OBJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}")


def check_object_name(noun: str, name: str, *, field: str = "name") -> str:
    """A channel, destination or subscription name: 1-100 characters, no spaces."""
    if not OBJECT_NAME.fullmatch(name):
        raise ConfigError(
            f"{noun} name {name!r} is invalid: use 1-100 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit",
            field=(field,),
        )
    return name


def check_env(env: str | None) -> str | None:
    """An environment label, by the same rule events obey (``events.check_scope``)."""
    try:
        return check_scope("env", env)
    except InvalidEvent as exc:
        raise ConfigError(str(exc), field=("env",)) from None

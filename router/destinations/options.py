"""A destination kind's settings as people give them: CLI flags and dashboard form fields.

Each kind declares its ``Option``s next to its config model, so the CLI's ``destinations add``
and ``update``, the dashboard's form and the HTTP API all describe the same settings and a new
kind needs nothing but its own module. An option names where its value goes in the config;
``assemble`` builds the config dict from the options a person gave, which the kind's config
model then validates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eventrouter.router.errors import ConfigError

ValueType = Literal["text", "number", "integer", "port", "choice", "flag"]


@dataclass(frozen=True, slots=True)
class Option:
    """One setting of a destination kind."""

    name: str
    """Parameter name, e.g. ``smtp_port``; the flag is ``--smtp-port`` unless ``flag`` says."""
    help: str
    path: tuple[str, ...] = ()
    """Where the value goes in the config; ``(name,)`` when empty."""
    type: ValueType = "text"
    choices: tuple[str, ...] = ()
    multiple: bool = False
    """Repeatable flag; the value is a list (or what ``parse`` makes of it)."""
    secret: bool = False
    """A credential: forms hide it while typing; listings mask it (the config model says so)."""
    flag: str | None = None
    metavar: str | None = None
    parse: Callable[[Any], Any] | None = None
    """Turns what was typed into the config value (e.g. ``Name: value`` headers → a dict)."""
    requires: str | None = None
    """Another option that must be given with this one (``--smtp-port`` needs ``--smtp-host``)."""

    @property
    def cli_flag(self) -> str:
        return "--" + (self.flag or self.name).replace("_", "-")

    @property
    def config_path(self) -> tuple[str, ...]:
        return self.path or (self.name,)


COMMON = (
    Option(
        "timeout",
        "Most seconds one request may take, connect to last byte "
        "[default: EVENTROUTER_REQUEST_TIMEOUT_SECONDS].",
        type="number",
    ),
)
"""Options every kind has (their config models all have ``timeout``)."""


def assemble(
    options: tuple[Option, ...], given: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """The config dict for the ``given`` option values (only those a person gave).
    ``partial``: a change to a stored config, whose other options are already there."""
    by_name = {option.name: option for option in (*COMMON, *options)}
    config: dict[str, Any] = {}
    for name, value in given.items():
        option = by_name[name]
        if not partial and option.requires is not None and option.requires not in given:
            raise ConfigError(f"{option.cli_flag} needs {by_name[option.requires].cli_flag}")
        if option.parse is not None:
            value = option.parse(value)
        elif option.multiple:
            value = list(value)
        target = config
        for key in option.config_path[:-1]:
            target = target.setdefault(key, {})
        target[option.config_path[-1]] = value
    return config


def parse_header(value: str) -> tuple[str, str]:
    name, sep, header_value = value.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"--header {value!r} must look like 'Name: value'")
    return name.strip(), header_value.strip()


def parse_headers(values: Any) -> dict[str, str]:
    return dict(parse_header(value) for value in values)


def read_template(value: str) -> str:
    """A template given inline, or ``@path`` to read it from a file."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read template file {value[1:]!r}: {exc.strerror}") from None

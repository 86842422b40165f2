"""Configuration as code: a routing file's text as data, with the line of every value, and
the problems found in it written as ``file:line: path: message``. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from eventrouter.router.errors import ConfigError

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a routing file, where it is."""

    source: str
    line: int | None
    path: Path
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {'.'.join(self.path) or '(top)'}: {self.message}"


class RoutingFileError(ConfigError):
    """Every problem of a routing file at once (nothing was written)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"routing file not applied, {count}: " + "; ".join(map(str, problems)))


@dataclass(slots=True)
class Source:
    """One file's data with the line of every value, for error messages."""

    name: str
    data: Any
    lines: dict[Path, int]

    def line(self, path: Path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.name, self.line(path), path, message)


def parse(text: str, name: str) -> tuple[Source | None, list[Problem]]:
    """The YAML ``text`` of the file called ``name``, with line numbers; duplicate keys are
    problems (YAML would silently keep the last)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(name, line, (), f"not valid YAML: {reason}")]
    source = Source(name, None, {})
    problems: list[Problem] = []
    source.data = _value(node, (), source, problems) if node is not None else {}
    return source, problems


def _value(node: yaml.Node, path: Path, source: Source, problems: list[Problem]) -> Any:
    source.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.SafeLoader(" ").construct_object(key_node))
            if key in result:
                line = key_node.start_mark.line + 1
                problems.append(Problem(source.name, line, (*path, key), "named twice"))
            result[key] = _value(value_node, (*path, key), source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _value(item, (*path, str(i)), source, problems) for i, item in enumerate(node.value)
        ]
    return yaml.SafeLoader(" ").construct_object(node)

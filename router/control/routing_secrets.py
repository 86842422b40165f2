"""Configuration as code: secrets given by reference (``${env:NAME}``, ``{secret_file:
path}``) replaced by their values, each reference remembered so ``export`` writes it back
instead of the value. Pure: the resolver that reads the environment and files is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from eventrouter.router.control.routing_source import Path, Problem, Source

ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")

SecretResolver = Callable[[Any, Path], tuple[Any, str | None]]
"""Resolves a secret reference: ``(value, None)``, or ``(None, why not)``."""


def resolve_secrets(
    node: Any,
    path: Path,
    inner: Path,
    source: Source,
    problems: list[Problem],
    resolve: SecretResolver,
    refs: dict[str, Any],
) -> Any:
    """``node`` with every ``${env:X}`` and ``{secret_file: …}`` replaced by its value."""
    if isinstance(node, dict) and set(node) == {"secret_file"}:
        return _resolved(node, path, inner, source, problems, resolve, refs)
    if isinstance(node, str) and ENV_REFERENCE.fullmatch(node):
        return _resolved(node, path, inner, source, problems, resolve, refs)
    if isinstance(node, dict):
        return {
            k: resolve_secrets(v, path, (*inner, k), source, problems, resolve, refs)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [
            resolve_secrets(v, path, (*inner, str(i)), source, problems, resolve, refs)
            for i, v in enumerate(node)
        ]
    return node


def _resolved(
    reference: Any,
    path: Path,
    inner: Path,
    source: Source,
    problems: list[Problem],
    resolve: SecretResolver,
    refs: dict[str, Any],
) -> Any:
    value, error = resolve(reference, (source.name,))
    if error is not None:
        problems.append(source.problem((*path, *inner), error))
        return None
    refs[".".join(inner)] = reference
    return value

"""Config field helpers shared by every kind: the secret marker, URL checks, redaction.

Every field holding a credential is declared with ``Secret`` (or ``SecretValues`` for a
mapping whose values are credentials, such as custom headers). That marker is the one
place that says what is secret: ``redact`` masks those fields for listings, and
``secret_paths`` names them for anything that must treat them specially (encryption at
rest). A new credential field needs nothing but the marker.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

SECRET_MARK = "secret"
Secret = Annotated[str, Field(json_schema_extra={SECRET_MARK: "value"})]
"""A string that is a credential (token, key, password, signing secret, secret URL)."""
SecretValues = Annotated[dict[str, str], Field(json_schema_extra={SECRET_MARK: "values"})]
"""A mapping whose values may be credentials (e.g. ``Authorization`` headers)."""

Path = tuple[str, ...]
"""Keys from a config's root to a secret; ``"*"`` stands for every list item or map value."""


def check_http_url(url: str) -> str:
    """Accept only absolute http(s) URLs with a host; say what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL; use e.g. https://example.com/hook")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port") from None
    return url


def _models_in(annotation: Any) -> Iterator[tuple[type[BaseModel], bool]]:
    """Model classes inside an annotation, each with whether it sits in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
        return
    origin = get_origin(annotation)
    if origin in (list, tuple):
        for arg in get_args(annotation):
            for model, _ in _models_in(arg):
                yield model, True
    elif origin in (Union, types.UnionType, Annotated):
        for arg in get_args(annotation):
            yield from _models_in(arg)


def _mark_in(annotation: Any) -> str | None:
    """The secret mark of an ``Annotated[..., Field(...)]`` inside an annotation (``X | None``)."""
    if get_origin(annotation) is Annotated:
        for meta in annotation.__metadata__:
            extra = getattr(meta, "json_schema_extra", None)
            if isinstance(extra, dict) and isinstance(extra.get(SECRET_MARK), str):
                return str(extra[SECRET_MARK])
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            mark = _mark_in(arg)
            if mark is not None:
                return mark
    return None


def secret_paths(model: type[BaseModel]) -> list[Path]:
    """Every path to a secret in configs of ``model`` (nested models included)."""
    paths: list[Path] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        extra = info.json_schema_extra
        mark = extra.get(SECRET_MARK) if isinstance(extra, dict) else None
        mark = mark or _mark_in(info.annotation)
        if mark == "value":
            paths.append((key,))
        elif mark == "values":
            paths.append((key, "*"))
        else:
            for nested, in_list in _models_in(info.annotation):
                prefix = (key, "*") if in_list else (key,)
                paths.extend(prefix + sub for sub in secret_paths(nested))
    return paths


def mask(value: object) -> str:
    """Only the last four characters of a secret (nothing of a short one)."""
    text = value if isinstance(value, str) else ""
    return "…" + text[-4:] if len(text) > 8 else "…"


def _mask_at(data: Any, path: Path) -> Any:
    if not path:
        return mask(data) if data not in (None, "") else data
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, list):
            return [_mask_at(item, rest) for item in data]
        if isinstance(data, dict):
            return {k: _mask_at(v, rest) for k, v in data.items()}
        return data
    if isinstance(data, dict) and head in data:
        return {**data, head: _mask_at(data[head], rest)}
    return data


def redact(model: type[BaseModel], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` fit to print: every secret of ``model`` shown as ``…last4``."""
    shown: Any = config
    for path in secret_paths(model):
        shown = _mask_at(shown, path)
    return dict(shown)

"""Config field helpers shared by every kind: the secret marker, URL checks, redaction.

Every field holding a credential is declared with ``Secret`` (or ``SecretValues`` for a
mapping whose values are credentials, such as custom headers, or ``SecretURL`` for a URL
that may carry them). That marker is the one place that says what is secret: ``redact``
masks those fields for listings, and ``secret_paths`` names them for anything that must
treat them specially (encryption at rest). A new credential field needs nothing but the
marker.

A ``SecretURL`` is secret only in part: the user-info (``user:pw@``) and the query string
(``?token=…``) are where Teams, Discord and many internal hooks put their credentials.
Such a URL is sealed at rest whole and shown as ``https://…@host/path?…``; a URL without
either stays readable in the database and in listings.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

SECRET_MARK = "secret"
Secret = Annotated[str, Field(json_schema_extra={SECRET_MARK: "value"})]
"""A string that is a credential (token, key, password, signing secret, secret URL)."""
SecretValues = Annotated[dict[str, str], Field(json_schema_extra={SECRET_MARK: "values"})]
"""A mapping whose values may be credentials (e.g. ``Authorization`` headers)."""
SecretURL = Annotated[str, Field(json_schema_extra={SECRET_MARK: "url"})]
"""A URL whose user-info and query string may be credentials (a webhook's ``url``)."""

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


def _marked_paths(model: type[BaseModel]) -> list[tuple[Path, str]]:
    """Every path to a marked field of ``model`` (nested models included), with its mark."""
    paths: list[tuple[Path, str]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        extra = info.json_schema_extra
        mark = extra.get(SECRET_MARK) if isinstance(extra, dict) else None
        mark = mark or _mark_in(info.annotation)
        if mark in ("value", "url"):
            paths.append(((key,), str(mark)))
        elif mark == "values":
            paths.append(((key, "*"), "values"))
        else:
            for nested, in_list in _models_in(info.annotation):
                prefix = (key, "*") if in_list else (key,)
                paths.extend((prefix + sub, m) for sub, m in _marked_paths(nested))
    return paths


def secret_paths(model: type[BaseModel], config: Any = None) -> list[Path]:
    """Every path to a secret in configs of ``model`` (nested models included).

    Given a ``config``, a ``SecretURL`` counts only where that config's URL carries
    credentials (``url_has_secret``): the paths to seal in exactly that config.
    """
    paths: list[Path] = []
    for path, mark in _marked_paths(model):
        if mark != "url" or config is None:
            paths.append(path)
            continue
        for concrete, value in _values_with_paths(config, path):
            if url_has_secret(value) and concrete not in paths:
                paths.append(concrete)
    return paths


def _values_with_paths(node: Any, path: Path, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """The values at ``path`` in ``node``, each with the path that reaches it: a map's
    ``*`` becomes the key; a list's stays ``*`` (sealing then covers every item)."""
    if not path:
        yield prefix, node
        return
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(node, list):
        for child in node:
            yield from _values_with_paths(child, rest, (*prefix, "*"))
    elif head == "*" and isinstance(node, dict):
        for key, child in node.items():
            yield from _values_with_paths(child, rest, (*prefix, str(key)))
    elif isinstance(node, dict) and head in node:
        yield from _values_with_paths(node[head], rest, (*prefix, head))


def url_has_secret(url: object) -> bool:
    """Whether ``url`` carries user-info or a query string (or fragment): what to seal."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return bool(
        parts.username is not None or parts.password is not None or parts.query or parts.fragment
    )


def mask_url(url: object) -> str:
    """``https://…@host:port/path?…``: scheme, host and path readable, credentials not."""
    if not isinstance(url, str) or url.startswith("enc:"):
        return mask(url)  # sealed, and no key here to open it
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{'…@' if '@' in parts.netloc else ''}{host}{parts.path}"
    return shown + ("?…" if parts.query else "") + ("#…" if parts.fragment else "")


def mask(value: object) -> str:
    """Only the last four characters of a secret (nothing of a short one)."""
    text = value if isinstance(value, str) else ""
    return "…" + text[-4:] if len(text) > 8 else "…"


def _mask_at(data: Any, path: Path, masker: Callable[[object], str] = mask) -> Any:
    if not path:
        return masker(data) if data not in (None, "") else data
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, list):
            return [_mask_at(item, rest, masker) for item in data]
        if isinstance(data, dict):
            return {k: _mask_at(v, rest, masker) for k, v in data.items()}
        return data
    if isinstance(data, dict) and head in data:
        return {**data, head: _mask_at(data[head], rest, masker)}
    return data


def redact(model: type[BaseModel], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` fit to print: every secret of ``model`` shown as ``…last4``, every
    ``SecretURL`` as ``https://…@host/path?…``."""
    shown: Any = config
    for path, mark in _marked_paths(model):
        shown = _mask_at(shown, path, mask_url if mark == "url" else mask)
    return dict(shown)

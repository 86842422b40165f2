"""What an adapter reads of an HTTP answer: status, headers, text.

``httpx.Response`` has all three, and so does ``Reply``, the worker's lean client's answer
(``transport.WebhookClient.send_bytes``): building an ``httpx.Response`` (header
normalisation, byte streams, charset detection through ``email.message``) cost more CPU
than the request itself once the transport was lean, and the adapters never needed more.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Protocol

_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:+-]+)""", re.IGNORECASE)


class Answer(Protocol):
    """The part of an HTTP response an adapter classifies."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...


class ReplyHeaders(dict[str, str]):
    """Response headers by lower-cased name (repeated ones joined by ``, `` as httpx does);
    looked up case-insensitively."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


class Reply:
    """An HTTP answer as the lean client read it; headers and text decoded on first use."""

    __slots__ = ("_headers", "_raw_headers", "content", "status_code")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes):
        self.status_code = status_code
        self.content = content
        self._raw_headers = raw_headers
        self._headers: ReplyHeaders | None = None

    @property
    def headers(self) -> ReplyHeaders:
        if self._headers is None:
            headers = self._headers = ReplyHeaders()
            for raw_name, raw_value in self._raw_headers:
                name = raw_name.decode("latin-1").lower()
                try:
                    value = raw_value.decode("utf-8")
                except UnicodeDecodeError:
                    value = raw_value.decode("latin-1")
                headers[name] = (
                    f"{dict.__getitem__(headers, name)}, {value}" if name in headers else value
                )
        return self._headers

    @property
    def text(self) -> str:
        """The body decoded as its ``charset`` says (UTF-8 when it says none or one Python
        does not know), undecodable bytes replaced: what ``httpx.Response.text`` gives."""
        if not self.content:
            return ""
        return self.content.decode(self._charset(), "replace")

    def _charset(self) -> str:
        content_type = self.headers.get("content-type")
        found = _CHARSET.search(content_type) if content_type else None
        if found is not None:
            try:
                return codecs.lookup(found.group(1)).name
            except LookupError:
                pass
        return "utf-8"

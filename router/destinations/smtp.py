"""Sending one message over SMTP, with TLS as configured and never less.

``ssl`` is implicit TLS (port 465), ``starttls`` upgrades a plain connection and refuses
to go on if the server does not offer it, ``none`` is cleartext and only when asked for
(a local relay; a password is never sent in cleartext). The server certificate is
verified against the system CAs, or ``ca_file`` when given.

Classification: 4xx replies, timeouts and dropped connections retry; 5xx replies,
authentication failures, TLS failures and a server without STARTTLS are permanent.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

import httpcore
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eventrouter.router.destinations.base import Outcome
from eventrouter.router.destinations.fields import Secret
from eventrouter.router.netguard import IPNetwork, UnsafeDestination, check_host, dial

Tls = Literal["ssl", "starttls", "none"]
MAX_REPLY_BYTES = 64 * 1024
"""The longest SMTP reply (all lines of a multi-line one) read before hanging up."""
MAX_LINE_BYTES = 8192
"""The longest reply line (smtplib's own limit)."""
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class SmtpConfig(BaseModel):
    """How to reach an SMTP server."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    """Default 465 for ``ssl``, 587 for ``starttls``, 25 for ``none``."""
    tls: Tls | None = None
    """Default ``ssl`` on port 465 (or no port), ``starttls`` on any other port."""
    username: str | None = None
    password: Secret | None = None
    ca_file: str | None = None
    """PEM file of CAs to trust instead of the system's (a private CA, a test server)."""

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"CA file {value!r} does not exist or is not a file")
        return value

    @model_validator(mode="after")
    def _resolve(self) -> SmtpConfig:
        if self.tls is None:
            self.tls = "ssl" if self.port in (None, 465) else "starttls"
        if self.port is None:
            self.port = DEFAULT_PORTS[self.tls]
        if (self.username is None) != (self.password is None):
            raise ValueError("give both --username and --password, or neither")
        if self.tls == "none" and self.password is not None:
            raise ValueError(
                "refusing to send a password in cleartext; use --smtp-tls ssl or starttls"
            )
        return self

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def _by_code(code: int, what: str, reply: str) -> Outcome:
    if 400 <= code < 500:
        return Outcome.retry(f"SMTP {what}: {reply}", response_body=reply)
    return Outcome.failed(f"SMTP {what}: {reply}", response_body=reply)


class _Pinned:
    """Dial the address the SSRF guard checked; TLS still verifies ``config.host``
    (smtplib passes its own ``_host`` as the server name). Replies are read within bounds:
    one reply (all its lines) at most ``MAX_REPLY_BYTES``, and within ``timeout`` from its
    first byte to its last, so a server sending an endless or trickling reply cannot grow
    or hold the worker."""

    allowed: tuple[IPNetwork, ...] | None = None
    _host: str
    _pending: bytes = b""
    _last_command: str = ""
    sock: socket.socket | None
    timeout: float

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        connect: Callable[[str, int, float], socket.socket] = super()._get_socket  # type: ignore[misc]
        if self.allowed is None:
            return connect(host, port, timeout)
        return dial(check_host(host, port, self.allowed), lambda a: connect(a, port, timeout))

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's reply reader, bounded (see the class docstring)."""
        deadline = time.monotonic() + self.timeout
        lines: list[bytes] = []
        size = 0
        while True:
            line = self._reply_line(deadline)
            size += len(line)
            if size > MAX_REPLY_BYTES:
                self.close()
                raise smtplib.SMTPServerDisconnected(
                    f"reply longer than {MAX_REPLY_BYTES // 1024} KiB; connection closed"
                )
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                return -1, b"\n".join(lines)
            if line[3:4] != b"-":
                if self._last_command == "starttls" and self._pending:
                    # Bytes sent in clear after "go ahead" would be read as if they came
                    # over TLS (STARTTLS command injection): refuse the conversation.
                    self.close()
                    raise smtplib.SMTPServerDisconnected(
                        "the server sent data before TLS was set up; refusing to go on"
                    )
                return code, b"\n".join(lines)

    def _reply_line(self, deadline: float) -> bytes:
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                line, self._pending = self._pending[: end + 1], self._pending[end + 1 :]
                return line
            if len(self._pending) > MAX_LINE_BYTES:
                self.close()
                raise smtplib.SMTPResponseException(500, "Line too long.")
            try:
                left = deadline - time.monotonic()
                if left <= 0 or self.sock is None:
                    raise TimeoutError("timed out")
                self.sock.settimeout(min(left, self.timeout))
                chunk = self.sock.recv(4096)
            except OSError as exc:  # TimeoutError included: smtplib's words for both
                self.close()
                raise smtplib.SMTPServerDisconnected(
                    f"Connection unexpectedly closed: {exc}"
                ) from None
            if not chunk:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self._pending += chunk

    def putcmd(self, cmd: str, args: str = "") -> None:
        self._last_command = cmd.lower()
        super().putcmd(cmd, args)  # type: ignore[misc]

    def close(self) -> None:
        self._pending = b""
        super().close()  # type: ignore[misc]


class _PinnedSMTP(_Pinned, smtplib.SMTP):
    pass


class _PinnedSMTPSSL(_Pinned, smtplib.SMTP_SSL):
    pass


def _connect(
    config: SmtpConfig, timeout: float, allowed: tuple[IPNetwork, ...] | None
) -> smtplib.SMTP:
    assert config.port is not None
    smtp: _PinnedSMTP | _PinnedSMTPSSL
    if config.tls == "ssl":
        smtp = _PinnedSMTPSSL(timeout=timeout, context=config.tls_context())
    else:
        smtp = _PinnedSMTP(timeout=timeout)
    smtp.allowed = allowed
    smtp._host = config.host  # the TLS server name; smtplib only sets it when given a host
    smtp.connect(config.host, config.port)
    if config.tls == "starttls":
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            smtp.close()
            raise smtplib.SMTPNotSupportedError(
                f"{config.host}:{config.port} does not offer STARTTLS; refusing to send in "
                "cleartext (use --smtp-tls ssl, or none for a local relay)"
            )
        smtp.starttls(context=config.tls_context())
        smtp.ehlo()
    return smtp


def _transmit(smtp: smtplib.SMTP, config: SmtpConfig, msg: EmailMessage, to: list[str]) -> Outcome:
    if config.username is not None and config.password is not None:
        smtp.login(config.username, config.password)
    smtp.ehlo_or_helo_if_needed()
    sender = parseaddr(str(msg["From"]))[1]
    code, reply = smtp.mail(sender)
    if code != 250:
        return _by_code(code, f"sender {sender} refused", _reply(code, reply))
    refused: dict[str, str] = {}
    for recipient in to:
        code, reply = smtp.rcpt(parseaddr(recipient)[1])
        if code not in (250, 251):
            refused[recipient] = _reply(code, reply)
    if len(refused) == len(to):
        smtp.rset()
        retryable = any(r.startswith("4") for r in refused.values())
        detail = "; ".join(f"{r}: {why}" for r, why in refused.items())
        if retryable:
            return Outcome.retry(f"SMTP recipients refused: {detail}", response_body=detail)
        return Outcome.failed(f"SMTP recipients refused: {detail}", response_body=detail)
    code, reply = smtp.data(msg.as_bytes(policy=SMTP_POLICY))
    if code != 250:
        return _by_code(code, "message refused", _reply(code, reply))
    accepted = _reply(code, reply)
    if refused:
        accepted += "; refused: " + "; ".join(f"{r}: {why}" for r, why in refused.items())
    return Outcome.succeeded(None, accepted)


def send_smtp(
    config: SmtpConfig,
    msg: EmailMessage,
    to: list[str],
    timeout: float,
    allowed: tuple[IPNetwork, ...] | None = None,
) -> Outcome:
    """Send ``msg`` to ``to``; every failure comes back as an ``Outcome``.

    ``allowed`` turns the SSRF guard on (``None``: off): the server's address must be
    public or inside those networks, and that checked address is the one dialled.
    """
    where = f"{config.host}:{config.port}"
    try:
        with _connect(config, timeout, allowed) as smtp:
            return _transmit(smtp, config, msg, to)
    except UnsafeDestination as exc:
        return Outcome.failed(f"refused to connect: {exc}")
    except httpcore.ConnectError as exc:  # the guard could not resolve the host
        return Outcome.retry(f"SMTP {where}: {exc}")
    except smtplib.SMTPNotSupportedError as exc:
        return Outcome.failed(f"SMTP {where}: {exc}")
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib reports a read timeout as a disconnect
            return Outcome.retry(f"SMTP {where} timed out after {timeout:g}s", timed_out=True)
        return Outcome.retry(f"SMTP {where}: server disconnected ({exc})")
    except smtplib.SMTPAuthenticationError as exc:
        return Outcome.failed(
            f"SMTP authentication failed at {where}: {_reply(exc.smtp_code, exc.smtp_error)}"
        )
    except smtplib.SMTPResponseException as exc:
        return _by_code(exc.smtp_code, f"error at {where}", _reply(exc.smtp_code, exc.smtp_error))
    except ssl.SSLCertVerificationError as exc:
        return Outcome.failed(
            f"TLS certificate of {where} could not be verified ({exc.verify_message}); "
            "fix the server certificate or set --smtp-ca-file"
        )
    except ssl.SSLError as exc:
        return Outcome.failed(
            f"TLS with {where} failed ({exc.reason or exc}); does the server speak "
            f"{'implicit TLS' if config.tls == 'ssl' else 'STARTTLS'} on this port?"
        )
    except TimeoutError:
        return Outcome.retry(f"SMTP {where} timed out after {timeout:g}s", timed_out=True)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome.retry(f"SMTP {where}: {type(exc).__name__}: {exc or 'connection failed'}")

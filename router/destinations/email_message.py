"""What an alert email says: subject, plain-text and HTML bodies, and the MIME message.

The same words go out through SMTP and SendGrid. The ``Message-ID`` is derived from the
event id, so a retried send is recognisably the same message to mail systems.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from eventrouter.router.destinations import notice
from eventrouter.router.destinations.slack_blocks import main_text
from eventrouter.router.destinations.templating import TextTemplate, as_text
from eventrouter.router.events import Event

MAX_SUBJECT = 250
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")


def check_address(value: str, *, allow_name: bool = False) -> str:
    """An email address (``Name <addr>`` too when ``allow_name``); ``ValueError`` if not."""
    name, address = parseaddr(value)
    if not _ADDRESS.fullmatch(address) or (name and not allow_name):
        raise ValueError(f"{value!r} is not an email address; use e.g. alerts@example.com")
    if not allow_name and address != value.strip():
        raise ValueError(f"{value!r} is not an email address; use e.g. alerts@example.com")
    return value


def subject(event: Event, template: TextTemplate | None, now: datetime) -> str:
    """The template's subject, or ``[env] event name`` (just the name without an env)."""
    if template is not None:
        text = template.render(event, now)
    else:
        title = notice.headline(event)
        text = f"[{event.env}] {title}" if event.env else title
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


def _facts(event: Event) -> list[tuple[str, str]]:
    iso = event.published_datetime.isoformat(timespec="seconds").replace("+00:00", "Z")
    return [
        ("event", event.name),
        ("env", event.env or "-"),
        ("org", event.org),
        ("time", iso),
        ("event id", event.id),
    ]


def plain_body(event: Event) -> str:
    _, message = main_text(event.payload)
    lines = [f"{label}: {value}" for label, value in _facts(event)]
    if event.notice:
        lines = [notice.headline(event), *notice.digest_lines(event), "", *lines]
    if message:
        lines += ["", message]
    lines += ["", "payload:", json.dumps(event.payload, indent=2, ensure_ascii=False), ""]
    return "\n".join(lines)


def html_body(event: Event) -> str:
    _, message = main_text(event.payload)
    esc = html.escape
    facts = "".join(
        f"<tr><th align='left'>{esc(label)}</th><td>{esc(value)}</td></tr>"
        for label, value in _facts(event)
    )
    fields = "".join(
        f"<tr><th align='left'>{esc(str(key))}</th><td>{esc(as_text(value))}</td></tr>"
        for key, value in event.payload.items()
    )
    pretty = esc(json.dumps(event.payload, indent=2, ensure_ascii=False))
    listed = "".join(f"<li>{esc(line)}</li>" for line in notice.digest_lines(event))
    return (
        "<!DOCTYPE html><html><body>"
        f"<h2>{esc(notice.headline(event))}</h2>"
        + (f"<ul>{listed}</ul>" if listed else "")
        + (f"<p>{esc(message)}</p>" if message else "")
        + f"<table>{facts}</table>"
        + (f"<h3>payload</h3><table>{fields}</table>" if fields else "")
        + f"<pre>{pretty}</pre></body></html>"
    )


def message_id(event: Event, sender: str, recipients: list[str]) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "eventrouter"
    digest = hashlib.sha256("\n".join(recipients).encode()).hexdigest()[:12]
    return f"<{event.id}.{digest}@{domain}>"


def mime_message(
    event: Event, *, sender: str, to: list[str], subject_line: str, now: datetime
) -> EmailMessage:
    """The multipart/alternative message (plain text first, then HTML)."""
    msg = EmailMessage()
    msg["Subject"] = subject_line
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(event, sender, to)
    msg["X-Eventrouter-Event-Id"] = event.id
    msg.set_content(plain_body(event))
    msg.add_alternative(html_body(event), subtype="html")
    return msg


def sendgrid_body(event: Event, *, sender: str, to: list[str], subject_line: str) -> dict[str, Any]:
    """The SendGrid v3 ``/mail/send`` body for the same message."""
    name, address = parseaddr(sender)
    from_: dict[str, str] = {"email": address}
    if name:
        from_["name"] = name
    return {
        "personalizations": [{"to": [{"email": parseaddr(r)[1]} for r in to]}],
        "from": from_,
        "subject": subject_line,
        "content": [
            {"type": "text/plain", "value": plain_body(event)},
            {"type": "text/html", "value": html_body(event)},
        ],
        "headers": {"X-Eventrouter-Event-Id": event.id},
    }

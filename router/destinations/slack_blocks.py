"""Slack messages as Block Kit, within Slack's limits, with every cut made visible.

Limits (Slack's Block Kit reference): 50 blocks per message; a header's text 150
characters; a section's text 3000; at most 10 section fields of 2000 each; 10 context
elements. Top-level ``text`` (the notification and fallback) is kept to 4000. Anything
longer is cut and ends in ``…`` (headers) or ``… (truncated)``; dropped fields or blocks
are replaced by a note saying how many were left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from eventrouter.router.destinations import notice
from eventrouter.router.destinations.templating import as_text
from eventrouter.router.events import Event
from eventrouter.router.interactive import (
    Interactions,
    Resolution,
    iso,
    resolution_lines,
)

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT = 4000
CUT = "… (truncated)"
ACTION_PREFIX = "eventrouter_"
"""Every button's ``action_id`` starts with this; the rest names the action."""
APPROVE, REJECT, ACK = "approve", "reject", "ack"
MESSAGE_KEYS = ("message", "summary", "text", "description")
"""Payload keys whose string value becomes the message's main text, first found wins."""


def cut(text: str, limit: int, marker: str = CUT) -> str:
    """``text`` within ``limit`` characters, ending in ``marker`` when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def escape(text: str) -> str:
    """Slack's mrkdwn control characters, escaped as Slack asks (``&``, ``<``, ``>``): what
    a payload says is shown, never read as a mention (``<!channel>``, ``<!here>``,
    ``<@U123>``), a link or a date."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def main_text(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(key, text)`` of the payload's message-like field, if it has one."""
    for key in MESSAGE_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return key, value
    return None, None


def default_message(event: Event, now: datetime) -> dict[str, Any]:
    """The rich message: header, main text, payload fields, then env and time."""
    env = event.env or "no env"
    message_key, message = main_text(event.payload)
    title = notice.headline(event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    ]
    if message is not None:
        blocks.append({"type": "section", "text": _mrkdwn(escape(message))})
    listed = notice.digest_lines(event)
    if listed:
        blocks.append({"type": "section", "text": _mrkdwn(escape("\n".join(listed)))})
    fields = [
        _mrkdwn(f"*{escape(key)}*\n{escape(as_text(value) or '-')}")
        for key, value in event.payload.items()
        if key != message_key
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    published = int(event.published_at)
    iso = event.published_datetime.isoformat(timespec="seconds").replace("+00:00", "Z")
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(f"*env* {escape(env)}"),
                _mrkdwn(f"<!date^{published}^{{date_short_pretty}} {{time_secs}}|{iso}>"),
                _mrkdwn(f"*org* {escape(event.org)} · event `{event.id}`"),
            ],
        }
    )
    # The top-level text is mrkdwn too (notifications, fallback): a payload's "<!channel>"
    # or "<@U…>" must arrive as text, not as a mention, so it is escaped like the blocks.
    text = escape(f"[{env}] {title}" + (f": {message}" if message else ""))
    return {"text": text, "blocks": blocks}


def _limit_block(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    block = dict(block)
    kind = block.get("type")
    text = block.get("text")
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        limit, marker = (MAX_HEADER, "…") if kind == "header" else (MAX_SECTION_TEXT, CUT)
        block["text"] = {**text, "text": cut(text["text"], limit, marker)}
    fields = block.get("fields")
    if isinstance(fields, list):
        if len(fields) > MAX_FIELDS:
            hidden = len(fields) - (MAX_FIELDS - 1)
            fields = [*fields[: MAX_FIELDS - 1], _mrkdwn(f"_…and {hidden} more fields_")]
        block["fields"] = [
            {**f, "text": cut(f["text"], MAX_FIELD_TEXT)}
            if isinstance(f, dict) and isinstance(f.get("text"), str)
            else f
            for f in fields
        ]
    elements = block.get("elements")
    if kind == "context" and isinstance(elements, list) and len(elements) > MAX_CONTEXT_ELEMENTS:
        hidden = len(elements) - (MAX_CONTEXT_ELEMENTS - 1)
        block["elements"] = [
            *elements[: MAX_CONTEXT_ELEMENTS - 1],
            _mrkdwn(f"_…and {hidden} more_"),
        ]
    return block


def enforce_limits(message: dict[str, Any], *, reserve: int = 0) -> dict[str, Any]:
    """``message`` with every Block Kit limit applied; cuts are visible in the message.
    ``reserve``: blocks kept free for what is appended after (buttons, a decision)."""
    out = dict(message)
    if "text" in out:
        out["text"] = cut(as_text(out["text"]), MAX_TEXT)
    blocks = out.get("blocks")
    if isinstance(blocks, list):
        room = MAX_BLOCKS - reserve
        if len(blocks) > room:
            hidden = len(blocks) - (room - 1)
            note = {"type": "context", "elements": [_mrkdwn(f"_…{hidden} more blocks not shown_")]}
            blocks = [*blocks[: room - 1], note]
        out["blocks"] = [_limit_block(b) for b in blocks]
    return out


INTERACTIVE_BLOCKS = 4
"""At most: the prompt, its context line, the buttons, the decision."""


def _button(text: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": ACTION_PREFIX + action,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def interactive_blocks(
    event: Event, interactions: Interactions, resolution: Resolution
) -> list[dict[str, Any]]:
    """The approval prompt, the buttons still open, link buttons, and what was decided.

    A button's value is the event id and nothing else: a reference looked up when clicked,
    never data trusted from the click.
    """
    blocks: list[dict[str, Any]] = []
    buttons: list[dict[str, Any]] = []
    approval = interactions.approval
    if approval is not None:
        blocks.append(
            {"type": "section", "text": _mrkdwn(f"*Approval requested:* {escape(approval.prompt)}")}
        )
        if resolution.decision is None:
            expires = int(event.published_at + approval.timeout_seconds)
            shown = iso(datetime.fromtimestamp(expires, UTC))
            who = " ".join(f"<@{user}>" for user in approval.approvers or ())
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        _mrkdwn(
                            f"Expires <!date^{expires}^{{date_short_pretty}} {{time}}|{shown}> "
                            f"(after {approval.timeout_text}); no answer means "
                            f"*{approval.on_timeout.value}*"
                            + (f" · approvers: {who}" if who else "")
                        )
                    ],
                }
            )
            buttons += [
                _button("Approve", APPROVE, event.id, "primary"),
                _button("Reject", REJECT, event.id, "danger"),
            ]
    if interactions.ack and resolution.acked_by is None:
        buttons.append(_button("Acknowledge", ACK, event.id))
    for index, link in enumerate(interactions.links):
        button = _button(link.text, f"link_{index}", event.id)
        button["url"] = link.url
        buttons.append(button)
    if buttons:
        blocks.append({"type": "actions", "block_id": "eventrouter", "elements": buttons})
    lines = resolution_lines(interactions, resolution)
    if lines:
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
    return blocks


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()

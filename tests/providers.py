"""Local stand-ins for Slack, PagerDuty and SendGrid: behaviours for ``tests.receiver``.

Each answers as the provider documents, error bodies included, and checks what the
provider would check (token, routing-key length, required fields). A test scripts the
next answers by name, e.g. ``SlackApi("xoxb-1", script=["ratelimited", "ok"])``; once the
script runs out every request gets ``default``. ``"slow"`` answers after ``delay`` s.

- Slack incoming webhooks: HTTP 200 ``ok``; errors as plain-text codes with the statuses
  of Slack's incoming-webhook error table (400 invalid_payload/no_text, 403
  action_prohibited, 404 channel_not_found, 410 channel_is_archived, 429 rate_limited,
  500 rollup_error).
- Slack Web API ``chat.postMessage`` (threads with ``thread_ts``) and ``chat.update``:
  HTTP 200 JSON ``{"ok": true, ...}`` or ``{"ok": false, "error": code}`` (``chat.update`` of
  a message it never posted: ``message_not_found``); 429 with ``Retry-After`` when rate
  limited. Interaction ``response_url``s are its ``/respond/…`` paths (200 ``ok``).
- ``SlackApp``: Slack's side of interactivity, sending signed clicks and slash commands
  the way Slack does (form-encoded, ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp``).
- PagerDuty Events API v2 ``/v2/enqueue``: 202 ``{"status": "success", "message":
  "Event processed", "dedup_key": …}``; 400 ``{"status": "invalid event", "message":
  "Event object is invalid", "errors": [...]}``; 429; 5xx.
- SendGrid v3 ``/v3/mail/send``: 202 with an empty body and ``X-Message-Id``; errors as
  ``{"errors": [{"message", "field", "help"}]}``; 429 with ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.receiver import Request, Response


class Scripted:
    def __init__(self, script: Iterable[str] = (), default: str = "ok", delay: float = 2.0):
        self._script = list(script)
        self._lock = threading.Lock()
        self.default = default
        self.delay = delay

    def next_mode(self) -> str:
        with self._lock:
            return self._script.pop(0) if self._script else self.default

    def then(self, *modes: str) -> None:
        with self._lock:
            self._script.extend(modes)

    def __call__(self, request: Request, n: int) -> Response:
        mode = self.next_mode()
        response = self.answer(mode, request)
        if mode == "slow":
            return Response(response.status, response.body, response.headers, self.delay)
        return response

    def answer(self, mode: str, request: Request) -> Response:
        raise NotImplementedError


class SlackWebhook(Scripted):
    ERRORS = {
        "invalid_payload": 400,
        "no_text": 400,
        "user_not_found": 400,
        "action_prohibited": 403,
        "channel_not_found": 404,
        "channel_is_archived": 410,
        "rate_limited": 429,
        "rollup_error": 500,
    }

    def __init__(self, *args: Any, retry_after: str = "1", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after

    def answer(self, mode: str, request: Request) -> Response:
        if mode in ("ok", "slow"):
            body = request.json
            if not isinstance(body, dict):
                return Response(400, "invalid_payload")
            if not body.get("text") and not body.get("blocks"):
                return Response(400, "no_text")
            return Response(200, "ok")
        headers = {"Retry-After": self.retry_after} if mode == "rate_limited" else {}
        return Response(self.ERRORS[mode], mode, headers)


class SlackApi(Scripted):
    """``chat.postMessage`` and ``chat.update`` for one bot token, keeping the messages it
    posted (``messages``: ``(channel, ts) → latest body``), and ``/respond/…`` standing in for
    interaction ``response_url``s."""

    def __init__(self, token: str, *args: Any, retry_after: str = "1", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token
        self.retry_after = retry_after
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ts = 0

    METHODS = ("/api/chat.postMessage", "/api/chat.update")

    def answer(self, mode: str, request: Request) -> Response:
        if request.path.startswith("/respond/"):
            return self.response_url(request)
        if request.path not in self.METHODS:
            return Response(404, {"ok": False, "error": "unknown_method"})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(200, {"ok": False, "error": "invalid_auth"})
        body = request.json if isinstance(request.json, dict) else {}
        if not body.get("channel"):
            return Response(200, {"ok": False, "error": "channel_not_found"})
        if mode == "ratelimited":
            return Response(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": self.retry_after}
            )
        if mode not in ("ok", "slow"):
            return Response(200, {"ok": False, "error": mode})
        if not body.get("text") and not body.get("blocks"):
            return Response(200, {"ok": False, "error": "no_text"})
        if request.path == "/api/chat.update":
            return self.update(body)
        ts = self._next_ts()
        with self._lock:
            self.messages[(body["channel"], ts)] = body
        message = {"type": "message", "text": body.get("text", ""), "ts": ts}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        return Response(200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message})

    def update(self, body: dict[str, Any]) -> Response:
        """``chat.update``: only a message this app posted, in the channel it names."""
        key = (body["channel"], str(body.get("ts")))
        with self._lock:
            if key not in self.messages:
                return Response(200, {"ok": False, "error": "message_not_found"})
            self.messages[key] = body
        return Response(
            200,
            {"ok": True, "channel": key[0], "ts": key[1], "text": body.get("text", "")},
        )

    def response_url(self, request: Request) -> Response:
        """A click's ``response_url``: 200 ``ok`` or 404 ``expired_url`` (not our path)."""
        body = request.json if isinstance(request.json, dict) else {}
        if not body.get("text") and not body.get("blocks"):
            return Response(400, "no_text")
        return Response(200, "ok")

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{int(time.time())}.{self._ts:06d}"

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies posted in the thread of the message ``(channel, ts)``."""
        with self._lock:
            return [
                m
                for (c, _), m in self.messages.items()
                if c == channel and m.get("thread_ts") == ts
            ]


class PagerDutyEvents(Scripted):
    def answer(self, mode: str, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else None
        if request.path != "/v2/enqueue" or body is None:
            return self.invalid("Event object is invalid: malformed JSON or wrong path")
        if len(str(body.get("routing_key", ""))) != 32:
            return self.invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return self.invalid(
                "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"
            )
        if action == "trigger":
            payload = body.get("payload") or {}
            for required in ("summary", "source", "severity"):
                if not payload.get(required):
                    return self.invalid(f"'payload.{required}' is missing or blank")
        elif not body.get("dedup_key"):
            return self.invalid("'dedup_key' is required for acknowledge and resolve")
        if mode == "throttle":
            return Response(429, b"")
        if mode == "error":
            return Response(500, b"")
        if mode == "invalid":
            return self.invalid("Unknown routing key")
        dedup = body.get("dedup_key") or secrets.token_hex(16)
        return Response(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )

    @staticmethod
    def invalid(reason: str) -> Response:
        return Response(
            400,
            {"status": "invalid event", "message": "Event object is invalid", "errors": [reason]},
        )


class SendGridMail(Scripted):
    def __init__(self, api_key: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = api_key

    @staticmethod
    def errors(status: int, message: str, field: str | None = None, **headers: str) -> Response:
        return Response(
            status, {"errors": [{"message": message, "field": field, "help": None}]}, headers
        )

    def answer(self, mode: str, request: Request) -> Response:
        if request.path != "/v3/mail/send":
            return self.errors(404, "Not Found")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.errors(
                401, "The provided authorization grant is invalid, expired, or revoked"
            )
        body = request.json if isinstance(request.json, dict) else {}
        for required in ("personalizations", "from", "subject", "content"):
            if not body.get(required):
                return self.errors(400, f"The {required} parameter is required.", required)
        if mode == "unverified_sender":
            return self.errors(
                400,
                "The from address does not match a verified Sender Identity. Mail cannot be "
                "sent until this error is resolved.",
                "from",
            )
        if mode == "throttle":
            reset = str(int(time.time()) + 1)
            return self.errors(
                429,
                "too many requests",
                **{
                    "X-RateLimit-Limit": "600",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset,
                },
            )
        if mode == "unavailable":
            return Response(503, b"")
        return Response(202, b"", {"X-Message-Id": "W2p0bXJ0c1ZTa0Rzd3NxX2RzLjE"})


class SlackApp:
    """Sends what Slack sends an app's Request URLs: signed, form-encoded interaction
    payloads (``payload=<json>``) and slash commands. Signed with slack_sdk's own
    ``SignatureVerifier`` algorithm, an independent check of ours."""

    def __init__(self, signing_secret: str, api_url: str, *, team: str = "T0001") -> None:
        self.secret = signing_secret
        self.api_url = api_url.rstrip("/")
        self.team = team

    def headers(self, body: bytes, at: float | None = None) -> dict[str, str]:
        ts = str(int(time.time() if at is None else at))
        return {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": SignatureVerifier(self.secret).generate_signature(
                timestamp=ts, body=body
            ),
        }

    def click_body(
        self, message: dict[str, Any], channel: str, ts: str, action_id: str, user: str
    ) -> bytes:
        """A ``block_actions`` payload for a click on the button ``action_id`` of a posted
        ``message`` (its value is read from the message, as Slack does)."""
        button = next(
            element
            for block in message.get("blocks", [])
            if block.get("type") == "actions"
            for element in block["elements"]
            if element["action_id"] == action_id
        )
        payload = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": self.team,
            },
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "trigger_id": "1.2.3",
            "team": {"id": self.team, "domain": "acme"},
            "channel": {"id": channel, "name": "ops"},
            "message": {"type": "message", "ts": ts, **message},
            "response_url": f"{self.api_url.removesuffix('/api')}/respond/{secrets.token_hex(4)}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "eventrouter",
                    "text": button["text"],
                    "value": button["value"],
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()

    def command_body(self, text: str, user: str = "U0ALICE") -> bytes:
        return urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": self.team,
                "channel_id": "C0123456789",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/eventrouter",
                "text": text,
                "response_url": f"{self.api_url.removesuffix('/api')}/respond/cmd",
                "trigger_id": "1.2.3",
                "api_app_id": "A0001",
            }
        ).encode()

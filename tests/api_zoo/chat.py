"""A Slack-shaped chat API: errors come as HTTP 200 with ``{"ok": false, "error": ...}``.

- ``GET /api/conversations.list?cursor=``: ``{"ok": true, "channels": [...],
  "response_metadata": {"next_cursor": "..."}}``, two channels a page.
- ``GET /api/conversations.members?channel=ID``: the members of a channel; an archived channel
  answers 404 ``{"ok": false, "error": "channel_not_found"}`` (nothing to extract, not a failure).
- Bearer token ``TOKEN``. A wrong token answers 200 ``{"ok": false, "error": "invalid_auth",
  "message": "token <the token sent> is not valid"}``: the API echoes the credential.
- Scripted hiccups: the first request for each cursor in `ratelimited` answers 200
  ``{"ok": false, "error": "ratelimited"}``; the first request for each cursor in `slow_down`
  answers 400 ``{"message": "Rate limit exceeded: slow down"}``.

Config: examples/chat.json.
"""

from __future__ import annotations

import threading
import typing as t
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN = "xoxb-chat-token-6d1f0e"
ARCHIVED = {"C3", "C6"}


def channels() -> list[dict[str, t.Any]]:
    return [{"id": f"C{n}", "name": f"channel-{n}", "is_archived": f"C{n}" in ARCHIVED} for n in range(1, 8)]


def members(channel: str) -> list[dict[str, t.Any]]:
    number = int(channel[1:])
    return [{"user": f"U{number}{k}", "channel_id": channel} for k in range(number % 3 + 1)]


def expected_members() -> list[dict[str, t.Any]]:
    return [m for c in channels() if c["id"] not in ARCHIVED for m in members(c["id"])]


class ChatApi(LocalServer):
    def __init__(self, ratelimited: t.Collection[str] = (), slow_down: t.Collection[str] = ()) -> None:
        super().__init__(_Handler)
        self.lock = threading.Lock()
        self.ratelimited = set(ratelimited)
        self.slow_down = set(slow_down)
        self.hits: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()


class _Handler(JsonHandler):
    server: ChatApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if sent != TOKEN:
            self._answer(
                "invalid_auth",
                200,
                {"ok": False, "error": "invalid_auth", "message": f"token {sent} is not valid"},
            )
            return
        if parts.path == "/api/conversations.list":
            cursor = query.get("cursor", "")
            with self.server.lock:
                self.server.hits[cursor] += 1
                first = self.server.hits[cursor] == 1
            if first and cursor in self.server.ratelimited:
                self._answer("ratelimited", 200, {"ok": False, "error": "ratelimited"})
                return
            if first and cursor in self.server.slow_down:
                self._answer("slow_down", 400, {"message": "Rate limit exceeded: slow down"})
                return
            start = int(cursor or 0)
            page = channels()[start : start + 2]
            following = str(start + 2) if start + 2 < len(channels()) else ""
            self._answer(
                "ok", 200, {"ok": True, "channels": page, "response_metadata": {"next_cursor": following}}
            )
        elif parts.path == "/api/conversations.members":
            channel = query.get("channel", "")
            if channel in ARCHIVED:
                self._answer("not_found", 404, {"ok": False, "error": "channel_not_found"})
                return
            self._answer("ok", 200, {"ok": True, "members": members(channel)})
        else:
            self._answer("not_found", 404, {"ok": False, "error": "unknown_method"})

    def _answer(self, kind: str, status: int, body: t.Any) -> None:
        with self.server.lock:
            self.server.answers[kind] += 1
        self.send_json(status, body)

"""An OAuth API whose access tokens stop working early, said with HTTP 200 and an error body.

- ``POST /oauth/token``: client credentials (client_secret_basic or _post); the token response
  claims ``expires_in: 3600``, but each token serves only `uses` API requests.
- ``GET /v3/invoices?page=N``: 10 invoices a page, ``{"status": "ok", "invoices": [...],
  "has_more": true}``; with a used-up token: 200 ``{"status": "error", "error": {"code":
  "SESSION_EXPIRED", "message": "Session expired or invalid"}}`` (as some CRMs answer).

Config: examples/session_expiry.json.
"""

from __future__ import annotations

import secrets
import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer, client_credentials

CLIENT_ID = "invoices-export"
CLIENT_SECRET = "invoices-client-secret-0b7c55"  # a test credential, grepped for in all output
INVOICES = 50


def invoices() -> list[dict[str, t.Any]]:
    return [{"id": n, "amount": n * 7} for n in range(1, INVOICES + 1)]


class SessionExpiryApi(LocalServer):
    def __init__(self, uses: int = 2) -> None:
        super().__init__(_Handler)
        self.uses = uses
        self.lock = threading.Lock()
        self.tokens: dict[str, int] = {}  # token -> requests it may still serve
        self.expired_answers = 0

    @property
    def issued(self) -> list[str]:
        return list(self.tokens)


class _Handler(JsonHandler):
    server: SessionExpiryApi

    def do_POST(self) -> None:
        form = {
            k: v[0]
            for k, v in parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()).items()
        }
        if client_credentials(self.headers, form) != (CLIENT_ID, CLIENT_SECRET):
            self.send_json(401, {"error": "invalid_client"})
            return
        token = secrets.token_urlsafe(16)
        with self.server.lock:
            self.server.tokens[token] = self.server.uses
        self.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.server.lock:
            left = self.server.tokens.get(token)
            if left is None:
                self.send_json(401, {"status": "error", "error": {"code": "UNAUTHORIZED"}})
                return
            if left <= 0:
                self.server.expired_answers += 1
            else:
                self.server.tokens[token] = left - 1
        if left <= 0:
            body = {
                "status": "error",
                "error": {"code": "SESSION_EXPIRED", "message": "Session expired or invalid"},
            }
            self.send_json(200, body)
            return
        parts = urlsplit(self.path)
        page = int(parse_qs(parts.query).get("page", ["1"])[0])
        rows = invoices()[(page - 1) * 10 : page * 10]
        self.send_json(200, {"status": "ok", "invoices": rows, "has_more": page * 10 < INVOICES})

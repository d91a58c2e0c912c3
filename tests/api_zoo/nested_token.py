"""A token endpoint that nests the token and gives an absolute expiry (as many vendor APIs do).

    POST /api/auth/token   JSON {"grant_type": "client_credentials", "client_id": ..., "client_secret": ...}
                           (or the same fields in the query string: request_format="query")
    -> 200 {"status": "ok", "data": {"token": {"value": "...", "expires_at": "2026-11-29T10:00:03Z"}}}
       (expires_at as ISO 8601, or epoch milliseconds with expiry="epoch_ms")

    GET /api/items?page=N&per_page=M   Authorization: Bearer <value>
    -> 401 {"status": "error", "message": "token expired"} once the token's expiry has passed

A token is refused the moment its `expires_at` passes, so a tap that ignores the
absolute expiry meets 401s (`rejections`); one that reads it renews in time.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.api_zoo import login_pages as paged

CLIENT_ID = "nested-client"
CLIENT_SECRET = "nested+secret/0c9e=5a&x"  # changes under URL and form encoding


class NestedTokenServer(LocalServer):
    def __init__(
        self,
        *,
        token_ttl: float = 3.0,
        request_format: t.Literal["json", "query"] = "json",
        expiry: t.Literal["iso", "epoch_ms"] = "iso",
        records: int = 60,
        page_delay: float = 0.1,
    ) -> None:
        super().__init__(_Handler)
        self.token_ttl = token_ttl
        self.request_format = request_format
        self.expiry = expiry
        self.records = paged.contacts(records)
        self.page_delay = page_delay
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}  # value -> wall-clock expiry
        self.token_requests = 0
        self.rejections = 0

    def secrets(self) -> list[str]:
        with self.lock:
            encoded = [quote(CLIENT_SECRET, safe=""), quote_plus(CLIENT_SECRET)]
            return [CLIENT_SECRET, *encoded, *self.tokens]

    def issue(self, fields: dict[str, t.Any]) -> tuple[int, dict[str, t.Any]]:
        with self.lock:
            self.token_requests += 1
            if fields.get("client_id") != CLIENT_ID or fields.get("client_secret") != CLIENT_SECRET:
                return 401, {"status": "error", "message": "bad client credentials"}
            if fields.get("grant_type") != "client_credentials":
                return 400, {"status": "error", "message": "grant_type must be client_credentials"}
            value = "nt_" + secrets.token_urlsafe(24)
            expires = time.time() + self.token_ttl
            self.tokens[value] = expires
        when: t.Any = (
            dt.datetime.fromtimestamp(expires, dt.timezone.utc).isoformat().replace("+00:00", "Z")
            if self.expiry == "iso"
            else int(expires * 1000)
        )
        return 200, {"status": "ok", "data": {"token": {"value": value, "expires_at": when}}}

    def authorize(self, authorization: str) -> bool:
        with self.lock:
            expires = self.tokens.get(authorization.removeprefix("Bearer "))
            if expires is None or time.time() >= expires:
                self.rejections += 1
                return False
        return True

    def tap_config(self, **auth: t.Any) -> dict[str, t.Any]:
        return {
            "api_url": f"{self.url}/api",
            "auth": {
                "type": "oauth2_client_credentials",
                "token_url": f"{self.url}/api/auth/token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "client_auth_method": "client_secret_post",
                "token_request_format": self.request_format,
                "access_token_path": "data.token.value",
                "expires_at_path": "$.data.token.expires_at",
                **auth,
            },
            "max_retries": 0,
            "streams": [paged.stream_config("/items", name="items", page_size=5)],
        }


class _Handler(JsonHandler):
    server: NestedTokenServer

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if parts.path != "/api/auth/token":
            self.send_json(404, {"status": "error", "message": "not found"})
            return
        if self.server.request_format == "json":
            if "application/json" not in (self.headers.get("Content-Type") or ""):
                self.send_json(415, {"status": "error", "message": "send JSON"})
                return
            fields = json.loads(raw or b"{}")
        else:
            fields = dict(parse_qsl(parts.query))
        status, body = self.server.issue(fields)
        self.send_json(status, body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not self.server.authorize(self.headers.get("Authorization") or ""):
            self.send_json(401, {"status": "error", "message": "token expired or unknown"})
            return
        if parts.path != "/api/items":
            self.send_json(404, {"status": "error", "message": "not found"})
            return
        time.sleep(self.server.page_delay)
        self.send_json(200, paged.page(self.server.records, dict(parse_qsl(parts.query))))

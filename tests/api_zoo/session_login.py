"""A login endpoint handing out session tokens, and an API that logs sessions out.

    POST /v2/login   JSON {"user": ..., "pass": ...}
    -> 201 {"session": {"id": "...", "expires": 1700003600}}   (epoch seconds)
    -> 401 {"message": "invalid user or password"}

    GET /v2/contacts?page=N&per_page=M   X-Session-Token: <id>   (no prefix)
    -> 401 {"message": "session ended"} for an unknown, expired or logged-out session

`logout_after=n` ends every session after the n-th API request (a server restart,
an admin logging the user out): the tap must log in again and carry on.
`token_in_header=True` answers like OpenStack Keystone: the token in an
`X-Subject-Token` header, only its expiry in the body.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qsl, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.api_zoo import login_pages as paged

USER = "etl-user"
PASSWORD = 's3ss!on pass"word'


class SessionLoginServer(LocalServer):
    def __init__(
        self,
        *,
        records: int = 45,
        session_ttl: int = 3600,
        logout_after: int | None = None,
        token_in_header: bool = False,
    ) -> None:
        super().__init__(_Handler)
        self.records = paged.contacts(records)
        self.session_ttl = session_ttl
        self.logout_after = logout_after
        self.token_in_header = token_in_header
        self.lock = threading.Lock()
        self.sessions: dict[str, float] = {}
        self.ended: set[str] = set()
        self.logins = 0
        self.failed_logins = 0
        self.api_requests = 0
        self.rejections = 0

    def secrets(self) -> list[str]:
        with self.lock:
            return [PASSWORD, json.dumps(PASSWORD)[1:-1], *self.sessions]

    def login(self, body: t.Any) -> tuple[int, dict[str, t.Any], dict[str, str]]:
        with self.lock:
            if not isinstance(body, dict) or body.get("user") != USER or body.get("pass") != PASSWORD:
                self.failed_logins += 1
                return 401, {"message": "invalid user or password"}, {}
            self.logins += 1
            session = "sess-" + secrets.token_hex(20)
            expires = time.time() + self.session_ttl
            self.sessions[session] = expires
        if self.token_in_header:
            return 201, {"session": {"expires": int(expires)}}, {"X-Subject-Token": session}
        return 201, {"session": {"id": session, "expires": int(expires)}}, {}

    def authorize(self, session: str) -> bool:
        with self.lock:
            self.api_requests += 1
            expires = self.sessions.get(session)
            ok = expires is not None and session not in self.ended and time.time() < expires
            if not ok:
                self.rejections += 1
            if self.logout_after is not None and self.api_requests == self.logout_after:
                self.ended |= set(self.sessions)
            return ok

    def tap_config(self, **auth: t.Any) -> dict[str, t.Any]:
        return {
            "api_url": f"{self.url}/v2",
            "auth": {
                "type": "session_token",
                "login_url": f"{self.url}/v2/login",
                "username": USER,
                "password": PASSWORD,
                "username_field": "user",
                "password_field": "pass",
                "access_token_path": "session.id",
                "expires_at_path": "session.expires",
                "header_name": "X-Session-Token",
                "header_prefix": "",
                **auth,
            },
            "max_retries": 0,
            "streams": [paged.stream_config("/contacts", page_size=10)],
        }


class _Handler(JsonHandler):
    server: SessionLoginServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != "/v2/login":
            self.send_json(404, {"message": "not found"})
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        status, answer, headers = self.server.login(body)
        self.send_json(status, answer, headers)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not self.server.authorize(self.headers.get("X-Session-Token") or ""):
            self.send_json(401, {"message": "session ended"})
            return
        if parts.path != "/v2/contacts":
            self.send_json(404, {"message": "not found"})
            return
        self.send_json(200, paged.page(self.server.records, dict(parse_qsl(parts.query))))

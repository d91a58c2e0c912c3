"""Salesforce-shaped login: a password grant on a login host, the API on another host.

The token response names the API host and gives no lifetime::

    POST /services/oauth2/token  (grant_type=password, client_id, client_secret, username, password)
    -> {"access_token": "00D...!AQ...", "instance_url": "http://127.0.0.1:PORT",
        "id": "http://LOGIN/id/00D000000000001/005000000000001", "token_type": "Bearer",
        "issued_at": "1700000000000", "signature": "..."}

The instance serves SOQL queries with `nextRecordsUrl` paging::

    GET /services/data/v60.0/query?q=...      -> {"totalSize": N, "done": false,
                                                  "nextRecordsUrl": "/services/data/v60.0/query/01g-10",
                                                  "records": [{"attributes": {...}, "Id": ..., "Name": ...}]}

The login host answers 404 to API paths, so a tap that ignores `instance_url` fails.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

CLIENT_ID = "3MVG9sf-consumer-key"
CLIENT_SECRET = "sf-consumer-secret-7d41b2"
USERNAME = "etl@example.com"
PASSWORD = "sf-pass+word&1"
SECURITY_TOKEN = "sfSecTok93"  # Salesforce appends it to the password
QUERY_PATH = "/services/data/v60.0/query"
PAGE_SIZE = 10


class SalesforceServer:
    def __init__(self, accounts: int = 25) -> None:
        self.accounts = [
            {"attributes": {"type": "Account"}, "Id": f"001{n:012d}", "Name": f"Account {n}"}
            for n in range(1, accounts + 1)
        ]
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.login_api_hits = 0
        self.login = LocalServer(_LoginHandler)
        self.instance = LocalServer(_InstanceHandler)
        self.login.owner = self  # type: ignore[attr-defined]
        self.instance.owner = self  # type: ignore[attr-defined]

    def __enter__(self) -> SalesforceServer:
        self.login.start()
        self.instance.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.login.stop()
        self.instance.stop()

    @property
    def token_url(self) -> str:
        return f"{self.login.url}/services/oauth2/token"

    def secrets(self) -> list[str]:
        with self.lock:
            return [CLIENT_SECRET, PASSWORD, PASSWORD + SECURITY_TOKEN, *self.tokens]

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, t.Any]]:
        with self.lock:
            self.token_requests += 1
            if form.get("grant_type") != "password":
                return 400, {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                }
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            if form.get("username") != USERNAME or form.get("password") != PASSWORD + SECURITY_TOKEN:
                return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
            token = "00D000000000001!" + secrets.token_urlsafe(32)
            self.tokens.add(token)
        return 200, {
            "access_token": token,
            "instance_url": self.instance.url,
            "id": f"{self.login.url}/id/00D000000000001/005000000000001",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": secrets.token_urlsafe(16),
        }

    def query(self, authorization: str, path: str) -> tuple[int, t.Any]:
        with self.lock:
            if authorization.removeprefix("Bearer ") not in self.tokens:
                return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        offset = int(path.rsplit("-", 1)[1]) if path.startswith(QUERY_PATH + "/") else 0
        chunk = self.accounts[offset : offset + PAGE_SIZE]
        body: dict[str, t.Any] = {"totalSize": len(self.accounts), "records": chunk}
        done = offset + PAGE_SIZE >= len(self.accounts)
        body["done"] = done
        if not done:
            body["nextRecordsUrl"] = f"{QUERY_PATH}/01gxx0000000001-{offset + PAGE_SIZE}"
        return 200, body

    def tap_auth(self, **overrides: t.Any) -> dict[str, t.Any]:
        return {
            "type": "oauth2_password",
            "token_url": self.token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "client_auth_method": "client_secret_post",
            "username": USERNAME,
            "password": PASSWORD + SECURITY_TOKEN,
            "api_url_from_token": "instance_url",
            "token_response_extras": ["id"],
            **overrides,
        }

    def tap_config(self, **auth: t.Any) -> dict[str, t.Any]:
        return {
            "api_url": f"{self.login.url}/services/data/v60.0",
            "auth": self.tap_auth(**auth),
            "max_retries": 0,
            "streams": [
                {
                    "name": "accounts",
                    "path": "/query",
                    "params": {"q": "SELECT Id, Name FROM Account"},
                    "records_path": "$.records[*]",
                    "primary_keys": ["Id"],
                    "pagination": {"type": "next_url", "next_url_path": "$.nextRecordsUrl"},
                    "schema": {
                        "type": "object",
                        "properties": {
                            "Id": {"type": "string"},
                            "Name": {"type": ["string", "null"]},
                            "attributes": {"type": ["object", "null"]},
                        },
                    },
                }
            ],
        }


class _LoginHandler(JsonHandler):
    server: t.Any

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != "/services/oauth2/token":
            self.send_json(404, {"error": "not_found"})
            return
        status, body = self.server.owner.issue(dict(parse_qsl(raw, keep_blank_values=True)))
        self.send_json(status, body)

    def do_GET(self) -> None:
        with self.server.owner.lock:
            self.server.owner.login_api_hits += 1
        self.send_json(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])


class _InstanceHandler(JsonHandler):
    server: t.Any

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not parts.path.startswith(QUERY_PATH):
            self.send_json(404, [{"errorCode": "NOT_FOUND"}])
            return
        if parts.path == QUERY_PATH and not parse_qs(parts.query).get("q"):
            self.send_json(400, [{"errorCode": "MALFORMED_QUERY"}])
            return
        status, body = self.server.owner.query(self.headers.get("Authorization") or "", parts.path)
        self.send_bytes(status, json.dumps(body).encode())

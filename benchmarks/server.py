"""The benchmark API: OAuth client credentials, page-number pages rendered once up front.

Every response body is rendered to bytes before the first request, so serving a
page is one socket write and the server is never what a benchmark measures.
An optional `delay` makes every request (token included) take that much longer,
to stand in for a remote, latency-bound API.

Endpoints:
- ``POST /oauth/token``: client credentials (HTTP Basic or form fields).
- ``GET /v1/records?page=N&per_page=SIZE``: ``{"data": [...], "meta": {"page", "total_pages",
  "total", "next_page"}}``; SIZE must equal the rendered page size.
- ``GET /v1/parents/{id}/children``: one page of children of parent `id` (1-based).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qs, unquote_plus, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"  # a local benchmark credential
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TAGS = ("alpha", "beta", "gamma", "delta")


def record(n: int) -> dict[str, t.Any]:
    """Record `n`: ten fields of mixed types (ints, floats, bools, strings, date-times, a list)."""
    created = EPOCH + dt.timedelta(minutes=n)
    # Unsorted on purpose: the bookmark must be the maximum, not the last value.
    updated = created + dt.timedelta(minutes=(n * 7919) % 1440)
    return {
        "id": n,
        "name": f"Customer {n}",
        "email": f"customer{n}@example.com",
        "active": n % 3 != 0,
        "score": round(((n * 7919) % 10000) / 100, 2),
        "quantity": n % 50,
        "balance": n % 97 if n % 2 else round(n / 7, 3),  # ints and floats in one number field
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "updated_at": updated.isoformat().replace("+00:00", "Z"),
        "tags": list(TAGS[: n % 4]),
    }


SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "active": {"type": ["boolean", "null"]},
        "score": {"type": ["number", "null"]},
        "quantity": {"type": ["integer", "null"]},
        "balance": {"type": ["number", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    },
}


def child(parent: int, k: int) -> dict[str, t.Any]:
    return {
        "id": parent * 100 + k,
        "label": f"child {k} of {parent}",
        "amount": round(parent * 1.25 + k, 2),
        "updated_at": (EPOCH + dt.timedelta(hours=parent, minutes=k)).isoformat().replace("+00:00", "Z"),
    }


class BenchServer(LocalServer):
    """`records` records in pages of `page_size`, and `children` children for each record id."""

    request_queue_size = 128

    def __init__(
        self, *, records: int, page_size: int, children: int = 0, delay: float = 0.0, port: int = 0
    ) -> None:
        super().__init__(_Handler, port)
        self.page_size = page_size
        self.records = records
        self.delay = delay
        self.total_pages = max(1, -(-records // page_size))
        self.pages = [self._render_page(p) for p in range(1, self.total_pages + 1)]
        self.children = (
            [
                json.dumps({"data": [child(p, k) for k in range(1, children + 1)]}).encode()
                for p in range(1, records + 1)
            ]
            if children
            else []
        )
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        self.requests = 0
        self.token_requests = 0
        self.first_request: float | None = None
        self.last_response: float | None = None

    def _render_page(self, page: int) -> bytes:
        first = (page - 1) * self.page_size + 1
        last = min(self.records, page * self.page_size)
        body = {
            "data": [record(n) for n in range(first, last + 1)],
            "meta": {
                "page": page,
                "total_pages": self.total_pages,
                "total": self.records,
                "next_page": page + 1 if page < self.total_pages else None,
            },
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def reset_counters(self) -> None:
        with self.lock:
            self.requests = 0
            self.token_requests = 0
            self.first_request = None
            self.last_response = None

    def span(self) -> float:
        """Seconds from the first request received to the last response sent."""
        if self.first_request is None or self.last_response is None:
            return 0.0
        return self.last_response - self.first_request


class _Handler(JsonHandler):
    server: BenchServer

    def _begin(self) -> None:
        with self.server.lock:
            self.server.requests += 1
            if self.server.first_request is None:
                self.server.first_request = time.monotonic()
        if self.server.delay:
            time.sleep(self.server.delay)

    def _send(self, status: int, payload: bytes) -> None:
        self.send_bytes(status, payload)
        with self.server.lock:
            self.server.last_response = time.monotonic()

    def do_POST(self) -> None:
        self._begin()
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            client_id, client_secret = unquote_plus(user), unquote_plus(password)
        if urlsplit(self.path).path != "/oauth/token" or (client_id, client_secret) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            self._send(401, b'{"error":"invalid_client"}')
            return
        token = secrets.token_urlsafe(24)
        with self.server.lock:
            self.server.tokens.add(token)
            self.server.token_requests += 1
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        self._send(200, json.dumps(body).encode())

    def do_GET(self) -> None:
        self._begin()
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.server.tokens:
            self._send(401, b'{"error":"invalid_token"}')
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        if segments == ["v1", "records"]:
            page = int(query.get("page", 1))
            if int(query.get("per_page", self.server.page_size)) != self.server.page_size:
                self._send(400, b'{"error":"per_page must equal the rendered page size"}')
            elif 1 <= page <= self.server.total_pages:
                self._send(200, self.server.pages[page - 1])
            else:
                self._send(200, b'{"data":[],"meta":{"next_page":null}}')
        elif len(segments) == 4 and segments[:2] == ["v1", "parents"] and segments[3] == "children":
            parent = int(segments[2])
            if 1 <= parent <= len(self.server.children):
                self._send(200, self.server.children[parent - 1])
            else:
                self._send(404, b'{"error":"no such parent"}')
        else:
            self._send(404, b'{"error":"not found"}')

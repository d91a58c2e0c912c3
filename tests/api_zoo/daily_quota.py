"""An API with a daily request quota that runs out mid-run and resets the next day.

- ``GET /v2/orders?updated_after=&page=&page_size=``: orders sorted by ``updated_at``, strictly
  after ``updated_after``; ``{"orders": [...], "total_pages": N}``.
- ``GET /v2/customers?page=&page_size=``: customers, same shape (``customers``).
- Bearer token ``TOKEN``.
- `quota` requests a day; `new_day()` starts the next one. How a spent quota is announced
  depends on `style`:

  - ``retry_after``: 429 with ``Retry-After`` (seconds until midnight, `RESET_SECONDS`);
  - ``headers``: every response carries ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
    (epoch seconds of midnight), so a client can stop before it is refused; refused with 429;
  - ``google``: 403 ``{"error": {"code": 403, "message": "Daily Limit Exceeded", "errors":
    [{"reason": "dailyLimitExceeded"}]}}`` and no hint of when it resets (a `stop` rule);
  - ``google_retry_after``: the same 403 with ``Retry-After``.

A day lasts `day_seconds` (7 hours unless a test wants the reset to come during the run); the
next one starts by itself, or at `new_day()`.

Config: examples/daily_quota.json.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import typing as t
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN = "quota-token-93ad1c"
RESET_SECONDS = 7 * 3600
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def orders() -> list[dict[str, t.Any]]:
    return [
        {
            "id": n,
            "total": n * 3,
            "updated_at": (EPOCH + dt.timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
        }
        for n in range(1, 96)
    ]


def customers() -> list[dict[str, t.Any]]:
    return [{"id": n, "name": f"Customer {n}"} for n in range(1, 31)]


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class DailyQuotaApi(LocalServer):
    def __init__(self, quota: int, style: str = "retry_after", day_seconds: float = RESET_SECONDS) -> None:
        super().__init__(_Handler)
        self.quota = quota
        self.style = style
        self.day_seconds = day_seconds
        self.lock = threading.Lock()
        self.used = 0
        self.refused = 0
        self.days = 1
        self.midnight = time.time() + day_seconds

    def new_day(self, quota: int) -> None:
        with self.lock:
            self.quota, self.used, self.refused = quota, 0, 0
            self.midnight = time.time() + self.day_seconds


class _Handler(JsonHandler):
    server: DailyQuotaApi

    def do_GET(self) -> None:
        server = self.server
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
            return
        with server.lock:
            if time.time() >= server.midnight:
                server.used, server.days = 0, server.days + 1
                server.midnight = time.time() + server.day_seconds
            server.used += 1
            allowed = server.used <= server.quota
            remaining = max(0, server.quota - server.used)
            if not allowed:
                server.refused += 1
        headers: dict[str, str] = {}
        if server.style == "headers":
            headers = {
                "X-RateLimit-Limit": str(server.quota),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(server.midnight)),
            }
        if not allowed:
            if server.style.startswith("google"):
                if server.style == "google_retry_after":
                    headers["Retry-After"] = str(math.ceil(server.midnight - time.time()))
                error = {
                    "code": 403,
                    "message": "Daily Limit Exceeded",
                    "errors": [{"reason": "dailyLimitExceeded"}],
                }
                self.send_json(403, {"error": error}, headers)
            else:
                if server.style == "retry_after":
                    headers["Retry-After"] = str(int(server.midnight - time.time()))
                self.send_json(429, {"error": "quota exceeded"}, headers)
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page, size = int(query.get("page", 1)), int(query.get("page_size", 10))
        if parts.path == "/v2/orders":
            rows = orders()
            if "updated_after" in query:
                after = _parse(query["updated_after"])
                rows = [r for r in rows if _parse(r["updated_at"]) > after]
            key = "orders"
        elif parts.path == "/v2/customers":
            rows, key = customers(), "customers"
        else:
            self.send_json(404, {"error": {"code": 404, "message": "Not Found"}}, headers)
            return
        total_pages = max(1, -(-len(rows) // size))
        self.send_json(200, {key: rows[(page - 1) * size : page * size], "total_pages": total_pages}, headers)

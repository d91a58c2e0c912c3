"""A GitHub-shaped API with a small request budget announced in rate-limit headers.

- ``GET /repos/acme/widget/issues?page=&per_page=``: a JSON list, Link-header pagination.
- ``GET /repos/acme/widget/issues/{number}/comments``: a JSON list (a child stream).
- Bearer token ``TOKEN``.
- `budget` requests per `window` seconds (windows aligned on the epoch). Each response tells
  the budget in the headers of `style`:

  - ``github``: ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch
    seconds); over budget: 403 ``{"message": "API rate limit exceeded ..."}`` (as GitHub does);
  - ``ietf``: ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds from
    now); over budget: 429;
  - ``combined``: ``RateLimit: limit=N, remaining=N, reset=S``; over budget: 429;
  - ``custom``: ``X-Quota-Left`` and ``X-Quota-Reset`` (an HTTP date); over budget: 429;
  - ``secondary``: no budget headers; over budget: 403 with ``Retry-After`` (GitHub's secondary
    rate limit).

Config: examples/github_limits.json.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
import typing as t
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN = "ghs-limits-token-4be2a7"
ISSUES = 12


def issues() -> list[dict[str, t.Any]]:
    return [{"number": n, "title": f"Issue {n}"} for n in range(1, ISSUES + 1)]


def comments(number: int) -> list[dict[str, t.Any]]:
    return [{"id": number * 10 + k, "body": f"comment {k}"} for k in range(number % 2 + 1)]


class GithubLimitsApi(LocalServer):
    def __init__(self, budget: int = 6, window: int = 1, style: str = "github") -> None:
        super().__init__(_Handler)
        self.budget = budget
        self.window = window
        self.style = style
        self.lock = threading.Lock()
        self.used: dict[int, int] = {}
        self.served = 0
        self.refused = 0

    def take(self) -> tuple[bool, int, float]:
        """Spend one request of the current window: (allowed, remaining, reset epoch)."""
        now = time.time()
        window = int(now // self.window)
        with self.lock:
            used = self.used[window] = self.used.get(window, 0) + 1
            allowed = used <= self.budget
            if allowed:
                self.served += 1
            else:
                self.refused += 1
        return allowed, max(0, self.budget - used), (window + 1) * self.window

    def headers(self, remaining: int, reset: float) -> dict[str, str]:
        seconds = math.ceil(max(0.0, reset - time.time()))
        if self.style == "github":
            return {
                "X-RateLimit-Limit": str(self.budget),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(reset)),
            }
        if self.style == "ietf":
            return {
                "RateLimit-Limit": str(self.budget),
                "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(seconds),
            }
        if self.style == "combined":
            return {"RateLimit": f"limit={self.budget}, remaining={remaining}, reset={seconds}"}
        if self.style == "secondary":
            return {}
        return {"X-Quota-Left": str(remaining), "X-Quota-Reset": email.utils.formatdate(reset, usegmt=True)}


class _Handler(JsonHandler):
    server: GithubLimitsApi

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json(401, {"message": "Bad credentials"})
            return
        allowed, remaining, reset = self.server.take()
        headers = self.server.headers(remaining, reset)
        if not allowed:
            status = 403 if self.server.style in {"github", "secondary"} else 429
            if self.server.style == "secondary":
                headers["Retry-After"] = str(math.ceil(reset - time.time()))
            self.send_json(status, {"message": "API rate limit exceeded for installation ID 1."}, headers)
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")
        if parts.path == "/repos/acme/widget/issues":
            page, size = int(query.get("page", 1)), int(query.get("per_page", 30))
            rows = issues()[(page - 1) * size : page * size]
            if page * size < ISSUES:
                base = f"{self.server.url}{parts.path}"
                headers["Link"] = f'<{base}?page={page + 1}&per_page={size}>; rel="next"'
            self.send_json(200, rows, headers)
        elif len(segments) == 6 and segments[-1] == "comments":
            self.send_json(200, comments(int(segments[4])), headers)
        else:
            self.send_json(404, {"message": "Not Found"}, headers)

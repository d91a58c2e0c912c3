"""A local API that records every request (method, path, query, headers, JSON body) and
answers each path with a handler, for tests of what the tap sends."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import typing as t
from urllib.parse import parse_qs, unquote, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent
    query: dict[str, str]
    headers: dict[str, str]
    body: t.Any
    raw_body: bytes = b""


Reply = tuple[int, t.Any, dict[str, str]]
Route = t.Callable[[Request], Reply]


class RequestServer(LocalServer):
    """Answers `routes[path](request)`, else `routes["*"]`, else 404; `delay` is added to every request.

    A route's body is sent as JSON, or as is when it is `bytes` (its Content-Type from the
    route's headers, else application/octet-stream).
    """

    def __init__(self, routes: dict[str, Route], delay: float = 0.0) -> None:
        super().__init__(_Handler)
        self.routes = routes
        self.delay = delay
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def hits(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]


class _Handler(JsonHandler):
    server: RequestServer

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", 0) or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(
            self.command,
            unquote(parts.path),
            parts.path,
            {k: v[-1] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in self.headers.items()},
            _json_or_none(raw),
            raw,
        )
        with self.server.lock:
            self.server.requests.append(request)
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            self._reply(request)
        finally:
            with self.server.lock:
                self.server.in_flight -= 1

    def _reply(self, request: Request) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        route = self.server.routes.get(request.path) or self.server.routes.get("*")
        if route is None:
            self.send_json(404, {"error": f"no route {request.path}"})
            return
        status, body, headers = route(request)
        if isinstance(body, bytes):  # a file: sent as is, with the route's Content-Type
            extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            self.send_bytes(status, body, headers.get("Content-Type", "application/octet-stream"), extra)
            return
        self.send_json(status, body, headers)

    do_GET = _handle
    do_POST = _handle


def _json_or_none(raw: bytes) -> t.Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None  # a form (token requests): read raw_body

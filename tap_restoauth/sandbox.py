"""A small local REST API behind OAuth 2.0 client credentials, for the demo and tests.

    python -m tap_restoauth.sandbox                           # a free port; prints its URL
    python -m tap_restoauth.sandbox --detach --env-file .env  # in the background, URL in .env
    python -m tap_restoauth.sandbox --stop

Endpoints (deterministic data):
- ``POST /oauth/token``: client-credentials grant; client ``sandbox-client`` /
  ``sandbox-secret`` by client_secret_basic or client_secret_post.
- ``GET /v1/users``: page-number pagination (``page``, ``per_page``), ``meta.total_pages``,
  filter ``updated_since``.
- ``GET /v1/users/{user_id}/orders``: cursor pagination (``cursor``, ``meta.next``).
- ``GET /v1/users/{user_id}/orders/{order_id}/items``: Link-header pagination.
- ``GET /v1/events``: offset pagination (``offset``, ``limit``, ``total``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import secrets
import sys
import threading
import time
import typing as t
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from tap_restoauth import launcher

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a public demo credential
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class SandboxData:
    """Deterministic users, orders, items and events."""

    def __init__(self, users: int = 120, events: int = 230) -> None:
        self.users: list[dict[str, t.Any]] = [
            {
                "id": n,
                "name": f"User {n}",
                "email": f"user{n}@example.com",
                "active": n % 3 != 0,
                "score": round(n * 1.5, 2),
                "updated_at": _iso(EPOCH + dt.timedelta(hours=n)),
                "address": {"city": ("Oslo", "Lyon", "Porto")[n % 3], "geo": {"lat": n / 10, "lon": -n / 10}},
            }
            for n in range(1, users + 1)
        ]
        self.orders: dict[int, list[dict[str, t.Any]]] = {
            user["id"]: [
                {
                    "id": user["id"] * 100 + k,
                    "total": float(k * 10 + user["id"] % 7),
                    "created_at": _iso(EPOCH + dt.timedelta(hours=user["id"], minutes=k)),
                }
                for k in range(1, user["id"] % 4 + 1)
            ]
            for user in self.users
        }
        self.events: list[dict[str, t.Any]] = [
            {"id": n, "kind": ("click", "view", "buy")[n % 3], "at": _iso(EPOCH + dt.timedelta(minutes=n))}
            for n in range(1, events + 1)
        ]

    def items(self, order_id: int) -> list[dict[str, t.Any]]:
        return [{"sku": f"SKU-{order_id}-{k}", "qty": k} for k in range(1, order_id % 5 + 2)]

    def counts(self) -> dict[str, int]:
        orders = [o for user_orders in self.orders.values() for o in user_orders]
        return {
            "users": len(self.users),
            "user_orders": len(orders),
            "order_items": sum(len(self.items(o["id"])) for o in orders),
            "events": len(self.events),
        }


_Server = t.TypeVar("_Server", bound="LocalServer")


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 (port 0: any free one) for the sandbox, tests and benchmarks."""

    daemon_threads = True  # a stuck handler must not keep the process alive
    scheme = "http"  # "https" once the socket is wrapped in TLS

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0, *, listen: bool = True) -> None:
        """Bound to `port`; `listen=False` defers accepting until `server_activate()` (clients
        that wait for the port then find everything the server prepares first)."""
        super().__init__(("127.0.0.1", port), handler, bind_and_activate=False)
        try:
            self.server_bind()
            if listen:
                self.server_activate()
        except BaseException:
            self.server_close()
            raise

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def start(self: _Server) -> _Server:
        """Serve from a daemon thread; a short poll interval makes `stop()` quick."""
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive (without Nagle's algorithm, which stalls each small response) and quiet."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: t.Any) -> None:
        """Quiet: clients log their own requests."""

    def send_bytes(
        self,
        status: int,
        payload: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_json(self, status: int, body: t.Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(body).encode(), "application/json", headers)


class SandboxServer(LocalServer):
    def __init__(
        self, port: int = 0, data: SandboxData | None = None, token_ttl: int = 3600, delay: float = 0.0
    ) -> None:
        super().__init__(_Handler, port)
        self.data = data or SandboxData()
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.lock = threading.Lock()
        self.delay = delay  # seconds added to every API request, like a remote API's latency
        self.api_requests: list[float] = []  # monotonic arrival time of each API request
        self.in_flight = 0
        self.max_in_flight = 0

    @contextlib.contextmanager
    def api_request(self) -> t.Iterator[None]:
        """Count the request (and how many overlap), after `delay`."""
        with self.lock:
            self.api_requests.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            yield
        finally:
            with self.lock:
                self.in_flight -= 1


def client_credentials(headers: Message, form: t.Mapping[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret of a token request: client_secret_basic, else client_secret_post.

    Basic credentials are form-urlencoded before base64 (RFC 6749 section 2.3.1).
    """
    header = headers.get("Authorization", "")
    if header.startswith("Basic "):
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return unquote_plus(user), unquote_plus(password)
    return form.get("client_id"), form.get("client_secret")


class _Handler(JsonHandler):
    server: SandboxServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path != "/oauth/token":
            self.send_json(404, {"error": "not found"})
            return
        if client_credentials(self.headers, form) != (CLIENT_ID, CLIENT_SECRET):
            self.send_json(401, {"error": "invalid_client", "error_description": "unknown client"})
            return
        if form.get("grant_type") != "client_credentials":
            self.send_json(400, {"error": "unsupported_grant_type"})
            return
        token = secrets.token_urlsafe(24)
        with self.server.lock:
            self.server.tokens[token] = time.monotonic() + self.server.token_ttl
            self.server.token_requests += 1
        self.send_json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.server.token_ttl}
        )

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        expiry = self.server.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        return expiry is not None and expiry > time.monotonic()

    def do_GET(self) -> None:
        with self.server.api_request():
            self._get()

    def _get(self) -> None:
        if not self._authorized():
            self.send_json(
                401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        data = self.server.data
        if segments == ["v1", "users"]:
            self._users(query)
        elif len(segments) == 4 and segments[:2] == ["v1", "users"] and segments[3] == "orders":
            self._orders(int(segments[2]), query)
        elif len(segments) == 6 and segments[3] == "orders" and segments[5] == "items":
            self._items(parts.path, int(segments[4]), query)
        elif segments == ["v1", "events"]:
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
            self.send_json(200, {"total": len(data.events), "items": data.events[offset : offset + limit]})
        else:
            self.send_json(404, {"error": "not found"})

    def _users(self, query: dict[str, str]) -> None:
        users = self.server.data.users
        since = query.get("updated_since")
        if since:
            cutoff = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
            users = [
                u
                for u in users
                if dt.datetime.fromisoformat(u["updated_at"].replace("Z", "+00:00")) >= cutoff
            ]
        page, size = int(query.get("page", 1)), int(query.get("per_page", 25))
        total_pages = max(1, -(-len(users) // size))
        chunk = users[(page - 1) * size : page * size]
        self.send_json(200, {"data": chunk, "meta": {"page": page, "total_pages": total_pages}})

    def _orders(self, user_id: int, query: dict[str, str]) -> None:
        orders = self.server.data.orders.get(user_id, [])
        start = int(query.get("cursor", 0))
        chunk = orders[start : start + 2]
        following = str(start + 2) if start + 2 < len(orders) else None
        self.send_json(200, {"orders": chunk, "meta": {"next": following}})

    def _items(self, path: str, order_id: int, query: dict[str, str]) -> None:
        items = self.server.data.items(order_id)
        page, size = int(query.get("page", 1)), 2
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = f'<{path}?{urlencode({"page": page + 1})}>; rel="next"'
        self.send_json(200, {"data": chunk}, headers)


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--env-file", type=Path, help="write its URLs here as TAP_RESTOAUTH_* lines")
    parser.add_argument("--detach", action="store_true", help="serve in the background once listening")
    parser.add_argument("--stop", action="store_true", help="stop the sandbox --detach started here")
    args = parser.parse_args(argv)
    if args.stop:
        print(launcher.stop())
        return
    stop_hint = "stop it: python -m tap_restoauth.sandbox --stop"
    if args.detach and (found := launcher.running()):
        pid, url = found
        if args.env_file:
            launcher.write_env_file(args.env_file, url)
        print(f"sandbox API already runs on {url} (pid {pid}; {stop_hint})")
        return
    try:
        server = launcher.bind(
            lambda port: SandboxServer(port, SandboxData(users=args.users), delay=args.delay), args.port
        )
    except launcher.LaunchError as error:
        launcher.fail(str(error))
    if args.env_file:
        launcher.write_env_file(args.env_file, server.url)
    if args.detach:
        pid = launcher.detach(server)
        print(f"sandbox API on {server.url} (pid {pid}; {stop_hint})")
        return
    print(json.dumps({"url": server.url, "counts": server.data.counts()}), flush=True)
    print(f"sandbox API on {server.url} (client {CLIENT_ID}; Ctrl-C stops it)", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()

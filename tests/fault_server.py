"""A local API that misbehaves on purpose: the fault-injection server for the reliability tests.

One ``ThreadingHTTPServer`` on 127.0.0.1:0 (HTTP/1.1) serving:

- ``POST /oauth/token``: client-credentials grant (client_secret_basic or client_secret_post).
- ``GET /v1/users``: page-number pagination (``page``, ``per_page``, ``meta.total_pages``), sorted by
  ``updated_at``, filter ``updated_since`` (inclusive).
- ``GET /v1/users/{id}/notes``: cursor pagination (``cursor``, ``meta.next``); 404 for deleted users.
- ``GET /v1/events``: offset pagination (``offset``, ``limit``, ``total``).

API requests need a bearer token from the token endpoint or the ``api_key`` query parameter.

Faults come from two sources:

- a `FaultPlan`: a seeded fraction of requests answered with a transient fault. The decision for the
  n-th request of a given method+path+query is drawn from ``Random(f"{seed}|{key}|{n}")``, so the same
  requests get the same faults whatever the thread interleaving, and no request is faulted more than
  ``max_in_a_row`` times in a row (so a sync with enough retries always completes);
- `Script` entries: a named behaviour for requests matching a path and a query parameter, for the
  tests that need one specific bad answer (a 403, HTML with status 200, a 429 asking for 2 s...).

Every request is recorded (`Hit`: monotonic and wall time, path, query, outcome, Authorization).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import random
import re
import secrets
import socket
import struct
import threading
import time
import typing as t
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer, client_credentials
from tests.helpers import TapRun, run_tap

CLIENT_ID = "fault-client"
CLIENT_SECRET = "fault-client-secret-5f2d9c"  # grepped for in every output
API_KEY = "fault-api-key-81c3e7"
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

# Transient faults: the tap must retry each of them and end up with the same records.
TRANSIENT_KINDS = (
    "408",
    "500",
    "502",
    "503",
    "504",
    "html_502",
    "429_seconds",
    "429_date",
    "drop",
    "reset",
    "truncate",
    "slow",
    "revoke",
)

HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclasses.dataclass
class FaultPlan:
    """Which fraction of requests fail, and how."""

    rate: float = 0.0
    seed: int = 20261127
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    max_in_a_row: int = 2
    slow_seconds: float = 1.0  # longer than the tap's timeout in the tests
    retry_after_seconds: int = 0  # Retry-After of injected 429s (both forms)
    token_endpoint: bool = True  # also inject faults into token requests


@dataclasses.dataclass
class Script:
    """Answer requests to `path` (with `param` == `value`, if given) with behaviour `kind`.

    `times` limits how many requests it applies to (None: all of them). Kinds are the
    transient fault kinds, ``status:<code>``, ``retry_after:<seconds>``,
    ``retry_after_date:<seconds>``, the bad-response kinds (``html_200``, ``empty``,
    ``invalid_json``, ``wrong_shape``, ``missing_pk``) and ``hold`` (stall until released).
    """

    path: str
    kind: str
    param: str | None = None
    value: str | None = None
    times: int | None = None
    used: int = 0

    def matches(self, path: str, query: dict[str, str]) -> bool:
        if path != self.path or (self.times is not None and self.used >= self.times):
            return False
        return self.param is None or query.get(self.param) == self.value


@dataclasses.dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    at: float  # time.monotonic() when the request line was read
    wall: float  # time.time() at the same moment
    method: str
    path: str
    query: dict[str, str]
    outcome: str  # "200", "404", or "fault:<kind>" / "script:<kind>"
    authorization: str | None

    @property
    def api(self) -> bool:
        return self.path.startswith("/v1/")


class FaultData:
    """Deterministic users (sorted by updated_at), their notes, and events."""

    def __init__(self, users: int = 120, events: int = 230, deleted: t.Iterable[int] = ()) -> None:
        self.users = [
            {
                "id": n,
                "name": f"User {n}",
                "email": f"user{n}@example.com",
                "updated_at": iso(EPOCH + dt.timedelta(hours=n)),
            }
            for n in range(1, users + 1)
        ]
        self.deleted = set(deleted)
        self.events = [
            {"id": n, "kind": ("click", "view", "buy")[n % 3], "at": iso(EPOCH + dt.timedelta(minutes=n))}
            for n in range(1, events + 1)
        ]

    def notes(self, user_id: int) -> list[dict[str, t.Any]]:
        return [{"id": user_id * 10 + k, "text": f"note {k} of {user_id}"} for k in range(user_id % 3 + 1)]


class FaultServer(LocalServer):
    def __init__(
        self,
        plan: FaultPlan | None = None,
        data: FaultData | None = None,
        token_ttl: int = 3600,
    ) -> None:
        super().__init__(_Handler)
        self.plan = plan or FaultPlan()
        self.data = data or FaultData()
        self.token_ttl = token_ttl
        self.scripts: list[Script] = []
        self.tokens: set[str] = set()
        self.issued_tokens: list[str] = []
        self.hits: list[Hit] = []
        self.faults: Counter[str] = Counter()
        self.released = threading.Event()
        self.held = threading.Event()
        self._seen: Counter[str] = Counter()
        self._streak: Counter[str] = Counter()
        self.lock = threading.Lock()

    def stop(self) -> None:
        self.released.set()  # let held requests end, or shutdown() waits for them
        super().stop()

    def script(self, path: str, kind: str, **match: t.Any) -> Script:
        entry = Script(path, kind, **match)
        self.scripts.append(entry)
        return entry

    def api_hits(self) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.api]

    def secrets_seen(self) -> set[str]:
        """Every credential that crossed the wire: for the tests that grep outputs for leaks."""
        values = {CLIENT_SECRET, API_KEY, *self.issued_tokens}
        for hit in self.hits:
            if hit.authorization:
                values.add(hit.authorization)
                values.add(hit.authorization.partition(" ")[2])
        return {value for value in values if value}

    def decide(self, method: str, path: str, query: dict[str, str]) -> tuple[str, str | None]:
        """('script'|'fault'|'ok', kind) for one request; records nothing."""
        with self.lock:
            for entry in self.scripts:
                if entry.matches(path, query):
                    entry.used += 1
                    return "script", entry.kind
            plan = self.plan
            if plan.rate <= 0 or (path == "/oauth/token" and not plan.token_endpoint):
                return "ok", None
            key = f"{method} {path}?{sorted(query.items())}"
            number = self._seen[key]
            self._seen[key] += 1
            rng = random.Random(f"{plan.seed}|{key}|{number}")
            if self._streak[key] >= plan.max_in_a_row or rng.random() >= plan.rate:
                self._streak[key] = 0
                return "ok", None
            # A token request cannot be revoked, and a revocation is never repeated in a row:
            # a token rejected right after it was issued is a real error (wrong scopes).
            revocable = path != "/oauth/token" and self._streak[key] == 0
            kind = rng.choice(tuple(k for k in plan.kinds if revocable or k != "revoke"))
            self._streak[key] += 1
            self.faults[kind] += 1
            return "fault", kind

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """Quiet: broken connections are what this server is for."""

    def record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)


class _Handler(JsonHandler):
    server: FaultServer

    # -- plumbing ---------------------------------------------------------------

    def _hit(self, path: str, query: dict[str, str], outcome: str) -> None:
        self.server.record(
            Hit(
                self._started,
                self._wall,
                self.command,
                path,
                query,
                outcome,
                self.headers.get("Authorization"),
            )
        )

    def parse_request(self) -> bool:
        self._started, self._wall = time.monotonic(), time.time()
        return super().parse_request()

    # -- entry points -----------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        source, kind = self.server.decide(self.command, path, query)
        try:
            if kind is not None:
                self._hit(path, query, f"{source}:{kind}")
                if self._misbehave(kind, path, query, body):
                    return
            if path == "/oauth/token" and self.command == "POST":
                status = self._token(body)
            else:
                status = self._api(path, query)
        except OSError:  # the client gave up (a "slow" fault) or the fault closed the socket
            self.close_connection = True
            return
        if kind is None:
            self._hit(path, query, str(status))

    # -- misbehaviour -----------------------------------------------------------

    def _misbehave(self, kind: str, path: str, query: dict[str, str], body: bytes) -> bool:
        """Answer with `kind`; False when the normal answer should follow (bad responses do their own)."""
        name, _, argument = kind.partition(":")
        handler = _MISBEHAVIOURS.get(name)
        if handler is None:
            raise ValueError(f"unknown fault kind {kind!r}")
        return handler(self, argument, path, query, body)

    def _status(self, argument: str, *_: t.Any) -> bool:
        code = int(argument)
        self.send_json(code, {"error": "injected", "status": code})
        return True

    def _retry_after(self, seconds: str, *_: t.Any) -> bool:
        self.send_json(429, {"error": "rate_limited"}, {"Retry-After": seconds})
        return True

    def _retry_after_date(self, seconds: str, *_: t.Any) -> bool:
        when = email.utils.formatdate(time.time() + float(seconds), usegmt=True)
        self.send_json(429, {"error": "rate_limited"}, {"Retry-After": when})
        return True

    def _html_502(self, *_: t.Any) -> bool:
        self.send_bytes(502, HTML_ERROR_PAGE.encode(), "text/html", None)
        return True

    def _drop(self, *_: t.Any) -> bool:
        """Close the connection without answering."""
        self.close_connection = True
        return True

    def _reset(self, *_: t.Any) -> bool:
        """Abort the connection with a TCP RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True
        return True

    def _truncate(self, argument: str, path: str, query: dict[str, str], body: bytes) -> bool:
        """Promise a full body, send half of it, close."""
        payload = json.dumps(self._api_body(path, query)[1]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        return True

    def _slow(self, *_: t.Any) -> bool:
        """Answer only after the client's timeout (the normal answer follows, to a closed socket)."""
        time.sleep(self.server.plan.slow_seconds)
        return False

    def _hold(self, *_: t.Any) -> bool:
        """Stall until the test releases the server (a tap to be killed mid-stream)."""
        self.server.held.set()
        self.server.released.wait(30)
        self.close_connection = True
        return True

    def _revoke(self, *_: t.Any) -> bool:
        with self.server.lock:
            self.server.tokens.clear()
        self._unauthorized()
        return True

    def _429_seconds(self, *_: t.Any) -> bool:
        return self._retry_after(str(self.server.plan.retry_after_seconds))

    def _429_date(self, *_: t.Any) -> bool:
        return self._retry_after_date(str(self.server.plan.retry_after_seconds))

    def _html_200(self, *_: t.Any) -> bool:
        page = "<html><body><h1>Sign in</h1><form action='/login'></form></body></html>"
        self.send_bytes(200, page.encode(), "text/html; charset=utf-8", None)
        return True

    def _empty(self, *_: t.Any) -> bool:
        self.send_bytes(200, b"", "application/json", None)
        return True

    def _invalid_json(self, *_: t.Any) -> bool:
        self.send_bytes(200, b'{"data": [{"id": 1, "name": "x"', "application/json", None)
        return True

    def _wrong_shape(self, *_: t.Any) -> bool:
        self.send_json(200, {"results": [{"id": 1}], "meta": {"page": 1, "total_pages": 9}})
        return True

    def _missing_pk(self, argument: str, path: str, query: dict[str, str], body: bytes) -> bool:
        status, payload = self._api_body(path, query)
        records = payload.get("data") or payload.get("items") or []
        if records:
            records[-1] = {k: v for k, v in records[-1].items() if k != "id"}
        self.send_json(status, payload)
        return True

    # -- the real API -----------------------------------------------------------

    def _unauthorized(self) -> None:
        self.send_json(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _token(self, body: bytes) -> int:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if client_credentials(self.headers, form) != (CLIENT_ID, CLIENT_SECRET):
            self.send_json(401, {"error": "invalid_client", "error_description": "unknown client"})
            return 401
        token = "tok-" + secrets.token_urlsafe(24)
        with self.server.lock:
            self.server.tokens.add(token)
            self.server.issued_tokens.append(token)
        self.send_json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.server.token_ttl}
        )
        return 200

    def _authorized(self, query: dict[str, str]) -> bool:
        if query.get("api_key") == API_KEY or self.headers.get("X-Api-Key") == API_KEY:
            return True
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.server.tokens

    def _api(self, path: str, query: dict[str, str]) -> int:
        if not self._authorized(query):
            self._unauthorized()
            return 401
        status, body = self._api_body(path, query)
        self.send_json(status, body)
        return status

    def _api_body(self, path: str, query: dict[str, str]) -> tuple[int, t.Any]:
        data = self.server.data
        segments = [s for s in path.split("/") if s]
        if segments == ["v1", "users"]:
            users = data.users
            since = query.get("updated_since")
            if since:
                cutoff = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
                users = [
                    u for u in users if dt.datetime.fromisoformat(u["updated_at"][:-1] + "+00:00") >= cutoff
                ]
            page, size = int(query.get("page", 1)), int(query.get("per_page", 25))
            total_pages = max(1, -(-len(users) // size))
            return 200, {
                "data": users[(page - 1) * size : page * size],
                "meta": {"page": page, "total_pages": total_pages},
            }
        if len(segments) == 4 and segments[:2] == ["v1", "users"] and segments[3] == "notes":
            user_id = int(segments[2])
            if user_id in data.deleted:
                return 404, {"error": "not_found", "message": f"user {user_id} was deleted"}
            notes = data.notes(user_id)
            start = int(query.get("cursor", 0))
            following = str(start + 2) if start + 2 < len(notes) else None
            return 200, {"notes": notes[start : start + 2], "meta": {"next": following}}
        if segments == ["v1", "events"]:
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
            return 200, {"total": len(data.events), "items": data.events[offset : offset + limit]}
        return 404, {"error": "not_found"}


_MISBEHAVIOURS: dict[str, Callable[..., bool]] = {
    "status": _Handler._status,
    "retry_after": _Handler._retry_after,
    "retry_after_date": _Handler._retry_after_date,
    "408": lambda h, *a: h._status("408"),
    "500": lambda h, *a: h._status("500"),
    "502": lambda h, *a: h._status("502"),
    "503": lambda h, *a: h._status("503"),
    "504": lambda h, *a: h._status("504"),
    "html_502": _Handler._html_502,
    "429_seconds": _Handler._429_seconds,
    "429_date": _Handler._429_date,
    "drop": _Handler._drop,
    "reset": _Handler._reset,
    "truncate": _Handler._truncate,
    "slow": _Handler._slow,
    "hold": _Handler._hold,
    "revoke": _Handler._revoke,
    "html_200": _Handler._html_200,
    "empty": _Handler._empty,
    "invalid_json": _Handler._invalid_json,
    "wrong_shape": _Handler._wrong_shape,
    "missing_pk": _Handler._missing_pk,
}

USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
NOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "text": {"type": ["string", "null"]},
        "user_id": {"type": ["integer", "null"]},
    },
}
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": ["string", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def tap_config(
    server: FaultServer, *, streams: t.Sequence[str] = ("users", "notes", "events"), **overrides: t.Any
) -> dict[str, t.Any]:
    """A tap config for `server` with short timeouts and backoffs; `overrides` replace top-level keys."""
    available: dict[str, dict[str, t.Any]] = {
        "users": {
            "name": "users",
            "path": "/v1/users",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "replication_key": "updated_at",
            "incremental": {"param": "updated_since"},
            "schema": USER_SCHEMA,
            "pagination": {
                "type": "page_number",
                "page_param": "page",
                "size_param": "per_page",
                "page_size": 25,
                "total_pages_path": "$.meta.total_pages",
            },
        },
        "notes": {
            "name": "notes",
            "path": "/v1/users/{user_id}/notes",
            "parent": "users",
            "parent_keys": {"user_id": "id"},
            "records_path": "$.notes[*]",
            "primary_keys": ["id"],
            "schema": NOTE_SCHEMA,
            "pagination": {"type": "cursor", "cursor_path": "$.meta.next", "cursor_param": "cursor"},
        },
        "events": {
            "name": "events",
            "path": "/v1/events",
            "records_path": "$.items[*]",
            "primary_keys": ["id"],
            "schema": EVENT_SCHEMA,
            "pagination": {"type": "offset", "limit": 50, "total_path": "$.total"},
        },
    }
    config: dict[str, t.Any] = {
        "api_url": server.url,
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": f"{server.url}/oauth/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        "start_date": "2024-01-01T00:00:00Z",
        "timeout": 0.5,
        "max_retries": 5,
        "backoff_factor": 0.01,
        "backoff_max_seconds": 0.05,
        "streams": [json.loads(json.dumps(available[name])) for name in streams],
    }
    config.update(overrides)
    return config


DEBUG_ENV = {"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}
RETRY_LINE = re.compile(r"; retry \d+/\d+ in ")  # the tap's warning for each retry


def sync(tmp_path: Path, server: FaultServer, config: dict[str, t.Any], **kwargs: t.Any) -> TapRun:
    """Run the tap with DEBUG logging; fail if any credential reached stdout (records, state) or stderr."""
    env = {**DEBUG_ENV, **kwargs.pop("env", {})}
    run = run_tap(tmp_path, config, env=env, **kwargs)
    assert_no_secrets(run.stdout + run.stderr, server)
    return run


def assert_no_secrets(text: str, server: FaultServer) -> None:
    leaked = sorted(value for value in server.secrets_seen() if value in text)
    assert not leaked, f"{len(leaked)} credential(s) leaked, starting {[v[:8] for v in leaked]}"

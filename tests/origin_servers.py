"""An API and a "foreign" origin that record every request they get, byte for byte.

Both are `LocalServer`s on 127.0.0.1 (different ports: different origins). Each test
routes paths to small functions returning what the server answers; the recorded raw
requests (request line, headers, body) are then searched for every credential in
every encoding.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

# Every value below is a credential; `+`, `/` and `=` make its encodings differ from it.
CLIENT_ID = "origin-client"
CLIENT_SECRET = "CS+cl1ent/secret=="
REFRESH_TOKEN = "RT+refr3sh/token=="
ACCESS_TOKEN = "AT+acc3ss/token=="
USERNAME = "origin-user"
PASSWORD = "PW+pa55/word=="
BEARER = "BT+bear3r/token=="
API_KEY = "AK+q/Key=ab12=="
TENANT_SECRET = "TS+tenant/secret=="  # a configured header named in secret_headers
PARAM_SECRET = "PS+param/secret=="  # a configured param named in secret_params
COOKIE = "CK-session-cookie-4711"

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}}}


def encodings(secret: str) -> set[str]:
    """The forms a secret can take in logs, URLs, form bodies, JSON and reprs (written out
    here independently of the tap's own list)."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }
    return (
        forms
        | {form.lower() for form in forms if "%" in form}
        | {form.replace("%2F", "%2f").replace("%2B", "%2b").replace("%3D", "%3d") for form in forms}
    )


def secret_forms(
    pairs: t.Iterable[tuple[str, str]] = ((USERNAME, PASSWORD), (CLIENT_ID, CLIENT_SECRET)),
) -> set[str]:
    """Every credential of this module in every encoding, plus the base64 Basic pairs."""
    values = [
        CLIENT_SECRET,
        REFRESH_TOKEN,
        ACCESS_TOKEN,
        PASSWORD,
        BEARER,
        API_KEY,
        TENANT_SECRET,
        PARAM_SECRET,
    ]
    forms = {form for value in values for form in encodings(value)}
    for user, password in pairs:
        forms.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        forms.add(base64.b64encode(f"{quote_plus(user)}:{quote_plus(password)}".encode()).decode())
    forms.add(COOKIE)
    return forms


def leaks(text: str, extra: t.Iterable[str] = ()) -> list[str]:
    """The credential forms (of this module's credentials and of `extra`) found in `text`."""
    forms = secret_forms() | {form for value in extra for form in encodings(value)}
    return sorted(form for form in forms if form in text)


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    raw: str  # request line, headers and body, for grepping

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("latin-1")))


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: t.Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


Route = t.Callable[[Seen], Reply]


class OriginServer(LocalServer):
    """Answers each path with its route (404 otherwise) and records every request."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def route(self, path: str, reply: Route | Reply) -> None:
        self.routes[path] = reply if callable(reply) else (lambda _seen, fixed=reply: fixed)

    def hits(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if path is None or seen.path == path]

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


class _Handler(JsonHandler):
    server: OriginServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        raw = self.requestline + "\r\n" + str(self.headers) + body.decode("latin-1")
        seen = Seen(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {name.lower(): value for name, value in self.headers.items()},
            body,
            raw,
        )
        self.server.record(seen)
        route = self.server.routes.get(parts.path)
        reply = route(seen) if route else Reply(404, {"error": "not found"})
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        content_type = "text/plain" if isinstance(reply.body, bytes) else "application/json"
        self.send_bytes(reply.status, payload, content_type, reply.headers)


def token_route(access_token: str = ACCESS_TOKEN) -> Route:
    """A token endpoint that issues `access_token` to the right client credentials."""

    def answer(seen: Seen) -> Reply:
        form = seen.form()
        basic = base64.b64encode(f"{quote_plus(CLIENT_ID)}:{quote_plus(CLIENT_SECRET)}".encode()).decode()
        by_basic = seen.headers.get("authorization") == f"Basic {basic}"
        by_post = form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
        if not (by_basic or by_post):
            return Reply(401, {"error": "invalid_client"})
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            return Reply(400, {"error": "invalid_grant"})
        return Reply(200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600})

    return answer


def auth_config(kind: str, api: OriginServer) -> dict[str, t.Any]:
    """The `auth` setting of each type, with this module's credentials."""
    token_url = f"{api.url}/oauth/token"
    return {
        "basic": {"type": "basic", "username": USERNAME, "password": PASSWORD},
        "bearer": {"type": "bearer", "token": BEARER},
        "api_key_header": {"type": "api_key", "name": "X-Api-Key", "value": API_KEY, "in": "header"},
        "api_key_query": {"type": "api_key", "name": "api_key", "value": API_KEY, "in": "query"},
        "oauth2_client_credentials": {
            "type": "oauth2_client_credentials",
            "token_url": token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        "oauth2_refresh_token": {
            "type": "oauth2_refresh_token",
            "token_url": token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "client_auth_method": "client_secret_post",
            "refresh_token": REFRESH_TOKEN,
        },
    }[kind]


AUTH_TYPES = (
    "basic",
    "bearer",
    "api_key_header",
    "api_key_query",
    "oauth2_client_credentials",
    "oauth2_refresh_token",
)


def authorized(kind: str, seen: Seen) -> bool:
    """Whether `seen` carries the credential of auth type `kind`."""
    header = seen.headers.get("authorization", "")
    if kind == "basic":
        return header == "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    if kind == "bearer":
        return header == f"Bearer {BEARER}"
    if kind == "api_key_header":
        return seen.headers.get("x-api-key") == API_KEY
    if kind == "api_key_query":
        return seen.query.get("api_key") == API_KEY
    return header == f"Bearer {ACCESS_TOKEN}"


def tap_config(
    api: OriginServer, kind: str, stream: dict[str, t.Any], **overrides: t.Any
) -> dict[str, t.Any]:
    """One stream `items` with the auth `kind`, a secret header and a secret param configured."""
    config: dict[str, t.Any] = {
        "api_url": api.url,
        "auth": auth_config(kind, api),
        "headers": {"X-Tenant-Secret": TENANT_SECRET},
        "secret_headers": ["X-Tenant-Secret"],
        "params": {"access_key": PARAM_SECRET},
        "secret_params": ["access_key"],
        "timeout": 5,
        "max_retries": 0,
        "streams": [
            {"name": "items", "path": "/items", "records_path": "$.data[*]", "schema": SCHEMA, **stream}
        ],
    }
    config.update(overrides)
    return config

"""A real OAuth 2.0 authorization server and the API it protects, in-process, for tests.

The token endpoint is Authlib's plain `AuthorizationServer` (client-credentials grant
and a rotating refresh-token grant); the API on the same port accepts only live tokens
this server issued. Both are served by a stdlib `ThreadingHTTPServer` on 127.0.0.1.

    with OAuthServer(token_ttl=2, auth_method="client_secret_post") as server:
        config = server.tap_config(server.client_credentials_auth(scopes=["read"]))
        run = run_tap(tmp_path, config)
        assert server.tokens_issued("client_credentials") == 1

Knobs: token lifetime, the client's registered auth method (the other is rejected with
`invalid_client`), allowed scopes, a required `audience`, API page delay, faults queued
for the next token or API responses (`Fault`), revoking live access tokens (now or after
the n-th API request), and counters of token requests and API rejections.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
import typing as t
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote_plus, urlsplit

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN_PATH = "/oauth/token"
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
AuthMethod = t.Literal["client_secret_basic", "client_secret_post"]


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injected response, served instead of the real one (build with the classmethods)."""

    status: int = 0  # 0: no response of its own (see `delay` and `drop`)
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait first (longer than the tap's timeout -> a timeout)
    drop: bool = False  # close the connection without answering

    @classmethod
    def http(cls, status: int, retry_after: float | None = None) -> Fault:
        """A bare status with a plain-text body, e.g. 503 or 429 (with `Retry-After`)."""
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        return cls(status, f"HTTP {status}".encode(), "text/plain", headers)

    @classmethod
    def html(cls, status: int = 500) -> Fault:
        """An HTML error page, as a proxy or a crashed framework would send."""
        page = (
            f"<!DOCTYPE html><html><head><title>{status} Internal Server Error</title></head>"
            f"<body><h1>Internal Server Error</h1><p>The server encountered an internal error "
            f"and was unable to complete your request.</p>{'<!-- padding -->' * 40}</body></html>"
        )
        return cls(status, page.encode(), "text/html; charset=utf-8")

    @classmethod
    def oauth(cls, error: str, description: str | None = None, status: int = 400) -> Fault:
        """An RFC 6749 section 5.2 error body, e.g. `invalid_grant`."""
        body: dict[str, str] = {"error": error}
        if description:
            body["error_description"] = description
        return cls(status, json.dumps(body).encode())

    @classmethod
    def ok(cls) -> Fault:
        """Answer normally: queue it first to let later faults hit later requests."""
        return cls()

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds` (to provoke client timeouts)."""
        return cls(delay=seconds)

    @classmethod
    def dropped(cls) -> Fault:
        """Close the connection without a response."""
        return cls(drop=True)


@dataclasses.dataclass
class TokenRequest:
    """What one call to the token endpoint carried (secrets left out) and how it ended."""

    grant_type: str | None
    auth_method: str  # client_secret_basic, client_secret_post or none
    scope: str | None
    form: dict[str, str]  # without client_secret and refresh_token
    headers: dict[str, str]  # without Authorization
    status: int = 0
    error: str | None = None


@dataclasses.dataclass
class AccessToken:
    value: str
    client_id: str
    scope: str
    audience: str | None
    expires_at: float | None  # time.monotonic(); None: never expires
    revoked: bool = False

    def rejection(self, audience: str | None) -> str | None:
        """Why the API refuses this token now, or None."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and time.monotonic() >= self.expires_at:
            return "expired"
        if audience is not None and self.audience != audience:
            return "audience"
        return None


@dataclasses.dataclass
class RefreshToken:
    value: str
    client_id: str
    scope: str
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclasses.dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    auth_method: AuthMethod
    grant_types: tuple[str, ...] = ("client_credentials", "refresh_token")

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class _Request(OAuth2Request):
    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    """Rotating refresh tokens: each use returns a new one and revokes the old."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        found = self.server.owner.refresh_tokens.get(refresh_token)
        return found if found is not None and not found.revoked else None

    def authenticate_user(self, refresh_token: RefreshToken) -> str:
        return f"user-of-{refresh_token.client_id}"

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        refresh_token.revoked = True


class _AuthorizationServer(AuthorizationServer):
    """Authlib's framework-free server wired to OAuthServer's in-memory state."""

    def __init__(self, owner: OAuthServer, scopes: Sequence[str] | None) -> None:
        super().__init__(scopes_supported=list(scopes) if scopes is not None else None)
        self.owner = owner
        self.register_grant(_ClientCredentialsGrant)
        self.register_grant(_RefreshTokenGrant)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "at_" + secrets.token_urlsafe(24),
                refresh_token_generator=lambda **_: "rt_" + secrets.token_urlsafe(24),
                expires_generator=lambda client, grant_type: owner.token_ttl or 0,
            ),
        )

    def query_client(self, client_id: str) -> Client | None:
        return self.owner.clients.get(client_id)

    def save_token(self, token: dict[str, t.Any], request: OAuth2Request) -> None:
        self.owner._save_token(token, request)

    def send_signal(self, name: str, *args: t.Any, **kwargs: t.Any) -> None:
        """No signal receivers."""

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(
        self, status: int, body: t.Any, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, t.Any, list[tuple[str, str]]]:
        return status, body, list(headers)


class OAuthServer:
    """Authorization server + protected paginated API on one loopback port.

    The API serves `GET /v1/<dataset>?page=N&per_page=M` as
    `{"data": [...], "meta": {"page": N, "total_pages": T}}` for each dataset, and the
    same under every record of another dataset: `GET /v1/<parents>/<id>/<dataset>`.
    """

    def __init__(
        self,
        *,
        token_ttl: int | None = 3600,
        auth_method: AuthMethod = "client_secret_basic",
        client_id: str = "tap:client",
        client_secret: str | None = None,
        scopes: Sequence[str] | None = None,
        audience: str | None = None,
        datasets: Mapping[str, int] | None = None,
        api_delay: float = 0.0,
    ) -> None:
        """Configure the server.

        token_ttl: access-token lifetime in seconds; None omits `expires_in` (tokens live until revoked).
        auth_method: the only client auth method the client is registered for.
        client_id/client_secret: the registered client; the default secret is random per server
            and contains characters that RFC 6749 2.3.1 requires to be form-encoded.
        scopes: the scopes a token may be requested for (None: any); others -> invalid_scope.
        audience: when set, the API accepts only tokens requested with this `audience`.
        datasets: {name: record count} served at /v1/<name>.
        api_delay: seconds each API response waits (makes a sync outlast a short token TTL).
        """
        self.token_ttl = token_ttl
        self.client_id = client_id
        self.client_secret = client_secret or f"s3c:{secrets.token_urlsafe(18)}/&+%"
        self.clients: dict[str, Client] = {}
        self.register_client(client_id, self.client_secret, auth_method)
        self.audience = audience
        self.api_delay = api_delay
        self.datasets = dict(datasets if datasets is not None else {"items": 50, "orders": 30})
        self.lock = threading.RLock()
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.token_requests: list[TokenRequest] = []
        self.api_requests = 0
        self.api_rejections: Counter[str] = Counter()
        self._token_faults: deque[Fault] = deque()
        self._api_faults: deque[Fault] = deque()
        self._revoke_after: int | None = None
        self._rejections_together: threading.Barrier | None = None
        self._authorization = _AuthorizationServer(self, scopes)
        self._http = _HTTPServer(self)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OAuthServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._http.url

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def api_url(self) -> str:
        return self.base_url

    # -- setup and control -----------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, auth_method: AuthMethod) -> Client:
        client = Client(client_id, client_secret, auth_method)
        self.clients[client_id] = client
        return client

    def issue_refresh_token(self, client_id: str | None = None, scope: str = "") -> str:
        """A refresh token for `client_id`, as if its user had just consented."""
        value = "rt_" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[value] = RefreshToken(value, client_id or self.client_id, scope)
        return value

    def live_refresh_tokens(self, client_id: str | None = None) -> list[str]:
        """Refresh tokens not yet used (rotation revokes each on use)."""
        wanted = client_id or self.client_id
        with self.lock:
            return [r.value for r in self.refresh_tokens.values() if r.client_id == wanted and not r.revoked]

    def fail_token_requests(self, *faults: Fault) -> None:
        """Serve these faults, in order, to the next token requests."""
        with self.lock:
            self._token_faults.extend(faults)

    def fail_api_requests(self, *faults: Fault) -> None:
        """Serve these faults, in order, to the next API requests that carry a valid token."""
        with self.lock:
            self._api_faults.extend(faults)

    def revoke_all_access_tokens(self) -> int:
        """Revoke every live access token now; returns how many."""
        with self.lock:
            live = [a for a in self.access_tokens.values() if not a.revoked]
            for token in live:
                token.revoked = True
            return len(live)

    def revoke_access_tokens_after(self, api_requests: int) -> None:
        """Revoke every live access token right after serving the n-th accepted API request."""
        with self.lock:
            self._revoke_after = api_requests

    def answer_rejections_together(self, count: int) -> None:
        """Hold each 401 until `count` requests were rejected, then answer them at once.

        The tap's threads then all hold the same rejected token when they ask for a new one
        (a 5 s timeout answers them anyway, should fewer arrive).
        """
        self._rejections_together = threading.Barrier(count, timeout=5)

    # -- observations ----------------------------------------------------------------------

    def token_attempts(self, grant_type: str | None = None) -> int:
        """Token requests received (any outcome, faults included)."""
        with self.lock:
            return sum(1 for r in self.token_requests if grant_type in (None, r.grant_type))

    def tokens_issued(self, grant_type: str | None = None) -> int:
        """Token requests answered with a token."""
        with self.lock:
            return sum(
                1 for r in self.token_requests if r.status == 200 and grant_type in (None, r.grant_type)
            )

    def records(self, dataset: str) -> list[dict[str, t.Any]]:
        return [
            {
                "id": n,
                "name": f"{dataset} {n}",
                "updated_at": (EPOCH + dt.timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
            }
            for n in range(1, self.datasets[dataset] + 1)
        ]

    def secret_values(self) -> set[str]:
        """Every secret this server knows: for leak checks (each must appear nowhere)."""
        with self.lock:
            values = {client.client_secret for client in self.clients.values()}
            for client in self.clients.values():
                for pair in (
                    f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}",
                    f"{client.client_id}:{client.client_secret}",
                ):
                    values.add(base64.b64encode(pair.encode()).decode())
                values.add(quote_plus(client.client_secret))
            values.update(self.access_tokens)
            values.update(self.refresh_tokens)
        return values

    # -- tap configuration helpers ---------------------------------------------------------

    def client_credentials_auth(self, **extra: t.Any) -> dict[str, t.Any]:
        """An `auth` setting for this server's client (client-credentials grant)."""
        client = self.clients[self.client_id]
        return {
            "type": "oauth2_client_credentials",
            "token_url": self.token_url,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "client_auth_method": client.auth_method,
            **extra,
        }

    def refresh_token_auth(self, **extra: t.Any) -> dict[str, t.Any]:
        """An `auth` setting for the refresh-token grant (add refresh_token or refresh_token_file)."""
        return {**self.client_credentials_auth(), "type": "oauth2_refresh_token", **extra}

    def stream_config(self, dataset: str, per_page: int = 10) -> dict[str, t.Any]:
        """A tap stream for one dataset, with a declared schema (no discovery requests)."""
        return {
            "name": dataset,
            "path": f"/v1/{dataset}",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "pagination": {
                "type": "page_number",
                "page_param": "page",
                "size_param": "per_page",
                "page_size": per_page,
                "total_pages_path": "$.meta.total_pages",
            },
        }

    def tap_config(
        self, auth: Mapping[str, t.Any], datasets: Sequence[str] | None = None, **overrides: t.Any
    ) -> dict[str, t.Any]:
        """A whole tap config reading `datasets` (default: all) through `auth`."""
        names = list(datasets) if datasets is not None else list(self.datasets)
        return {
            "api_url": self.api_url,
            "auth": dict(auth),
            "streams": [self.stream_config(name) for name in names],
            "backoff_max_seconds": 0,  # integers: the SDK parses fractions as Decimal
            **overrides,
        }

    # -- request handling (called by the HTTP handler) -------------------------------------

    def _save_token(self, token: dict[str, t.Any], request: OAuth2Request) -> None:
        client = request.client
        expires_in = token.get("expires_in")
        self.access_tokens[token["access_token"]] = AccessToken(
            value=token["access_token"],
            client_id=client.client_id,
            scope=token.get("scope", ""),
            audience=request.payload.data.get("audience"),
            expires_at=time.monotonic() + expires_in if expires_in else None,
        )
        if token.get("refresh_token"):
            self.refresh_tokens[token["refresh_token"]] = RefreshToken(
                token["refresh_token"], client.client_id, token.get("scope", "")
            )

    def _token_response(
        self, headers: t.Any, form: dict[str, str]
    ) -> tuple[Fault | None, tuple[int, bytes, list[tuple[str, str]]] | None]:
        """The fault to serve, or the authorization server's (status, body, headers)."""
        authorization = headers.get("Authorization") or ""
        method = (
            "client_secret_basic"
            if authorization.lower().startswith("basic ")
            else "client_secret_post"
            if "client_secret" in form
            else "none"
        )
        record = TokenRequest(
            grant_type=form.get("grant_type"),
            auth_method=method,
            scope=form.get("scope"),
            form={k: v for k, v in form.items() if k not in {"client_secret", "refresh_token"}},
            headers={k: v for k, v in headers.items() if k.lower() != "authorization"},
        )
        with self.lock:
            self.token_requests.append(record)
            fault = self._token_faults.popleft() if self._token_faults else None
            if fault is not None and (fault.status or fault.drop):
                record.status = fault.status
                record.error = _error_code(fault.body)
                return fault, None
        if fault is not None:
            time.sleep(fault.delay)
        with self.lock:
            status, body, response_headers = self._authorization.create_token_response(
                _Request(self.token_url, headers, form)
            )
            record.status = status
            record.error = body.get("error") if isinstance(body, dict) else None
        return None, (status, json.dumps(body).encode(), response_headers)

    def _authorize_api(self, authorization: str) -> str | None:
        """Why the API refuses this Authorization header, or None when it accepts it."""
        value = authorization[7:] if authorization.startswith("Bearer ") else ""
        with self.lock:
            self.api_requests += 1
            token = self.access_tokens.get(value)
            reason = "unknown" if token is None else token.rejection(self.audience)
            if reason:
                self.api_rejections[reason] += 1
        return reason

    def _after_api_request(self) -> None:
        with self.lock:
            if self._revoke_after is None:
                return
            self._revoke_after -= 1
            if self._revoke_after <= 0:
                self._revoke_after = None
                for token in self.access_tokens.values():
                    token.revoked = True

    def _page(self, dataset: str, query: dict[str, str]) -> dict[str, t.Any]:
        records = self.records(dataset)
        page, size = int(query.get("page", 1)), int(query.get("per_page", 10))
        total_pages = max(1, -(-len(records) // size))
        return {
            "data": records[(page - 1) * size : page * size],
            "meta": {"page": page, "total_pages": total_pages},
        }


_REJECTIONS = {
    "unknown": "the access token is unknown",
    "revoked": "the access token was revoked",
    "expired": "the access token has expired",
    "audience": "the access token was issued for another audience",
}


def _error_code(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload.get("error") if isinstance(payload, dict) else None


class _HTTPServer(LocalServer):
    def __init__(self, owner: OAuthServer) -> None:
        super().__init__(_Handler)
        self.owner = owner


class _Handler(JsonHandler):
    server: _HTTPServer

    def _respond(
        self, status: int, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Send `body`; Authlib's own Content-Type/Length are dropped, a client gone is no error."""
        kept = {
            name: value for name, value in headers if name.lower() not in {"content-type", "content-length"}
        }
        try:
            self.send_bytes(status, body, content_type, kept)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _serve_fault(self, fault: Fault) -> None:
        time.sleep(fault.delay)
        if fault.drop:
            self.close_connection = True
            return
        self._respond(fault.status, fault.body, fault.content_type, fault.headers)

    def _json(self, status: int, body: t.Any, headers: Sequence[tuple[str, str]] = ()) -> None:
        self._respond(status, json.dumps(body).encode(), "application/json", headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if urlsplit(self.path).path != TOKEN_PATH:
            self._json(404, {"error": "not_found"})
            return
        form = dict(parse_qsl(raw, keep_blank_values=True))
        fault, answer = self.server.owner._token_response(self.headers, form)
        if fault is not None:
            self._serve_fault(fault)
            return
        assert answer is not None
        status, body, response_headers = answer
        self._respond(status, body, "application/json", response_headers)

    def do_GET(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        reason = owner._authorize_api(self.headers.get("Authorization") or "")
        if reason:
            barrier = owner._rejections_together
            if barrier is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            self._json(
                401,
                {"error": "invalid_token", "error_description": _REJECTIONS[reason]},
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
            return
        with owner.lock:
            fault = owner._api_faults.popleft() if owner._api_faults else None
        if fault is not None and (fault.status or fault.drop):
            self._serve_fault(fault)
            return
        time.sleep(owner.api_delay + (fault.delay if fault else 0.0))
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 4 and segments[1] in owner.datasets:
            segments = segments[:1] + segments[3:]  # /v1/<parents>/<id>/<dataset>: the dataset per parent
        if len(segments) != 2 or segments[0] != "v1" or segments[1] not in owner.datasets:
            self._json(404, {"error": "not_found"})
            return
        page = owner._page(segments[1], dict(parse_qsl(parts.query)))
        owner._after_api_request()
        self._json(200, page)

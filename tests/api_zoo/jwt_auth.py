"""An authorization server that trusts keys, not secrets: Authlib's RFC 7523 server side.

Two ways in, both verified by Authlib (signature against the registered public key,
`aud` = the token URL, `exp` with 60 s leeway, `iss`):

- client credentials with ``client_auth_method: private_key_jwt`` (as Okta, Auth0 or
  Microsoft Entra accept), or ``client_secret_jwt`` (the same, HS256 with the secret):
  the form carries ``client_assertion_type`` and ``client_assertion``; Authlib also
  requires ``iss`` = ``sub`` = client_id and a ``jti`` never seen before (a replayed
  assertion is refused with ``invalid_client``);
- the JWT bearer grant (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``,
  as Google service accounts and DocuSign use): the assertion's ``iss`` names the
  client, ``sub`` a user it may act for, ``scope`` the scopes.

    POST /oauth2/v1/token -> {"access_token": "...", "token_type": "Bearer", "expires_in": 3600}
    GET /v1/contacts?page=N&per_page=M   (Bearer token) -> zoo page

Every verified assertion's header and claims are kept (`assertions`) for the tests.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import typing as t
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from joserfc.jws import extract_compact

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.api_zoo import login_pages as paged
from tests.oauth_server import _Request

TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_METHOD = JWTBearerClientAssertion.CLIENT_AUTH_METHOD


@dataclasses.dataclass
class KeyClient(ClientMixin):
    client_id: str
    public_key_pem: bytes
    key_id: str
    grant_types: tuple[str, ...]
    subjects: tuple[str, ...] = ()
    secret: str | None = None  # client_secret_jwt: an HMAC key instead of a public key

    def keys(self) -> KeySet:
        if self.secret:
            return KeySet([OctKey.import_key(self.secret)])
        loader = RSAKey if _is_rsa(self.public_key_pem) else ECKey
        return KeySet([loader.import_key(self.public_key_pem, parameters={"kid": self.key_id})])

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == ASSERTION_METHOD

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def _is_rsa(pem: bytes) -> bool:
    return isinstance(serialization.load_pem_public_key(pem), rsa.RSAPublicKey)


class _ClientAssertion(JWTBearerClientAssertion):
    def __init__(self, owner: JwtAuthServer) -> None:
        super().__init__()
        self.owner = owner

    def get_audiences(self) -> list[str]:
        return [self.owner.token_url]

    def resolve_client_public_key(self, client: KeyClient) -> KeySet:
        return client.keys()

    def validate_jti(self, claims: t.Any, jti: str) -> bool:
        if jti in self.owner.seen_jti:
            self.owner.replays += 1
            return False
        self.owner.seen_jti.add(jti)
        return True

    def process_assertion_claims(self, assertion: str, resolve_key: t.Any) -> t.Any:
        claims = super().process_assertion_claims(assertion, resolve_key)
        self.owner.assertions.append((extract_compact(assertion.encode()).headers(), dict(claims)))
        self.owner.assertion_values.append(assertion)
        return claims


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [ASSERTION_METHOD]


class _JwtBearerGrant(JWTBearerGrant):
    server: t.Any

    def resolve_issuer_client(self, issuer: str) -> KeyClient | None:
        return self.server.owner.clients.get(issuer)

    def resolve_client_public_key(self, client: KeyClient) -> KeySet:
        return client.keys()

    def authenticate_user(self, subject: str) -> str | None:
        return subject if subject in self.request.client.subjects else None

    def has_granted_permission(self, client: KeyClient, user: str) -> bool:
        return True

    def get_audiences(self) -> list[str]:
        return [self.server.owner.token_url]

    def process_assertion_claims(self, assertion: str) -> t.Any:
        claims = super().process_assertion_claims(assertion)
        owner = self.server.owner
        owner.assertions.append((extract_compact(assertion.encode()).headers(), dict(claims)))
        owner.assertion_values.append(assertion)
        return claims


class _AuthorizationServer(AuthorizationServer):
    def __init__(self, owner: JwtAuthServer) -> None:
        super().__init__()
        self.owner = owner
        self.register_grant(_ClientCredentialsGrant)
        self.register_grant(_JwtBearerGrant)
        self.register_client_auth_method(ASSERTION_METHOD, _ClientAssertion(owner))
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "jat_" + secrets.token_urlsafe(24),
                expires_generator=lambda client, grant_type: 3600,
            ),
        )

    def query_client(self, client_id: str) -> KeyClient | None:
        return self.owner.clients.get(client_id)

    def save_token(self, token: dict[str, t.Any], request: t.Any) -> None:
        self.owner.tokens[token["access_token"]] = request.form.get("grant_type", "")

    def send_signal(self, name: str, *args: t.Any, **kwargs: t.Any) -> None:
        """No receivers."""

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: t.Any, headers: t.Any) -> tuple[int, t.Any, t.Any]:
        return status, body, list(headers)


class JwtAuthServer(LocalServer):
    """`add_client(...)` registers a public key; `revoke_after=n` revokes all tokens after n API requests."""

    def __init__(self, *, records: int = 30, revoke_after: int | None = None) -> None:
        super().__init__(_Handler)
        self.records = paged.contacts(records)
        self.revoke_after = revoke_after
        self.lock = threading.Lock()
        self.clients: dict[str, KeyClient] = {}
        self.tokens: dict[str, str] = {}  # live access token -> grant type
        self.seen_jti: set[str] = set()
        self.replays = 0
        self.assertions: list[tuple[dict[str, t.Any], dict[str, t.Any]]] = []
        self.assertion_values: list[str] = []
        self.all_tokens: list[str] = []
        self.token_errors: list[dict[str, t.Any]] = []
        self.token_forms: list[dict[str, str]] = []
        self.api_requests = 0
        self.rejections = 0
        self._authorization = _AuthorizationServer(self)

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def add_client(self, client: KeyClient) -> None:
        self.clients[client.client_id] = client

    def secrets(self) -> list[str]:
        with self.lock:
            return [*self.assertion_values, *self.all_tokens]

    def token_response(self, headers: t.Any, form: dict[str, str]) -> tuple[int, bytes]:
        with self.lock:
            self.token_forms.append(form)
            status, body, _ = self._authorization.create_token_response(
                _Request(self.token_url, headers, form)
            )
            if status == 200:
                self.all_tokens.append(body["access_token"])
            else:
                self.token_errors.append(body)
        return status, json.dumps(body).encode()

    def authorize(self, authorization: str) -> bool:
        with self.lock:
            self.api_requests += 1
            ok = authorization.removeprefix("Bearer ") in self.tokens
            if not ok:
                self.rejections += 1
            if self.revoke_after is not None and self.api_requests == self.revoke_after:
                self.tokens.clear()
            return ok

    def tap_config(self, auth: dict[str, t.Any]) -> dict[str, t.Any]:
        return {
            "api_url": f"{self.url}/v1",
            "auth": {"token_url": self.token_url, **auth},
            "max_retries": 0,
            "streams": [paged.stream_config("/contacts", page_size=10)],
        }


class _Handler(JsonHandler):
    server: JwtAuthServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != TOKEN_PATH:
            self.send_json(404, {"error": "not_found"})
            return
        status, body = self.server.token_response(self.headers, dict(parse_qsl(raw, keep_blank_values=True)))
        self.send_bytes(status, body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if not self.server.authorize(self.headers.get("Authorization") or ""):
            self.send_json(
                401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
            return
        if parts.path != "/v1/contacts":
            self.send_json(404, {"error": "not_found"})
            return
        self.send_json(200, paged.page(self.server.records, dict(parse_qsl(parts.query))))

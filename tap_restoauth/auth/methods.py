"""Authentication types, chosen by `auth.type`.

Each type is a dataclass whose fields are its settings, declared by its options class
in settings.py (`BasicOptions`...), and a `requests` auth hook that puts credentials
on a request. The OAuth 2.0 types own the token lifecycle:
one token per run shared by every stream and thread, renewed early, renewed once
when the API answers 401, and refresh-token rotation handed to token stores.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import threading
import time
import typing as t
from collections.abc import Mapping
from urllib.parse import quote_plus, urljoin, urlsplit

import msgspec
import requests

from tap_restoauth.auth.client_auth import SECRET_METHODS, ClientKeyOptions
from tap_restoauth.auth.credential import credential_problem
from tap_restoauth.auth.keys import register_secret
from tap_restoauth.auth.token_response import TokenShape
from tap_restoauth.auth.token_store import FileTokenStore, RefreshTokenStore
from tap_restoauth.errors import AuthError, ConfigError, TapRestOAuthError
from tap_restoauth.http import limits, redaction
from tap_restoauth.http.origins import describe_origin
from tap_restoauth.http.retry import RetryPolicy
from tap_restoauth.http.urls import is_loopback, origin
from tap_restoauth.settings import (
    ApiKeyOptions,
    BasicOptions,
    BearerOptions,
    NoAuthOptions,
    OAuth2ClientCredentialsOptions,
    OAuth2RefreshTokenOptions,
)
from tap_restoauth.sync import interrupt

logger = logging.getLogger("tap_restoauth.auth.methods")

# Every subclass with a `type` registers here; auth/registry.py imports the modules defining
# them and builds the one a config names.
AUTH_TYPES: dict[str, type[Auth]] = {}


@dataclasses.dataclass
class HttpContext:
    """What token requests share with API requests: session (TLS settings), timeout, retries."""

    session: requests.Session
    timeout: float
    retry: RetryPolicy


class Auth(requests.auth.AuthBase):
    """Puts credentials on each request."""

    type: t.ClassVar[str]
    secret_fields: t.ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = getattr(cls, "type", None)  # declared by its options class (settings.py)
        if kind is not None and kind not in AUTH_TYPES:
            AUTH_TYPES[kind] = cls

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def bind(self, http: HttpContext) -> None:
        """Receive the HTTP session to use for the auth's own requests (token calls)."""

    def renew_after_unauthorized(self, rejected: requests.PreparedRequest) -> bool:
        """Whether fresh credentials were obtained after the API answered 401 to `rejected`.

        True means the request is worth sending once more.
        """
        return False

    def api_base_url(self, configured: str) -> str:
        """The base URL of API requests: `api_url`, unless the login decides it (Salesforce)."""
        return configured

    def token_extras(self) -> Mapping[str, t.Any]:
        """Fields of the login response kept for templates (`token_response_extras`)."""
        return {}

    @classmethod
    def normalize_settings(cls, settings: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The settings as field names (for types whose documented names differ)."""
        return dict(settings)

    def register_secrets(self) -> None:
        for name in self.secret_fields:
            register_secret(getattr(self, name, None))

    def query_params(self) -> tuple[str, ...]:
        """Names of the query parameters this auth puts credentials in."""
        return ()


@dataclasses.dataclass
class NoAuth(NoAuthOptions, Auth):
    """The API is public: `auth: {type: none}`."""


@dataclasses.dataclass
class BasicAuth(BasicOptions, Auth):
    """HTTP Basic: `auth: {type: basic, username: ..., password: ...}`."""

    secret_fields: t.ClassVar[tuple[str, ...]] = ("password",)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return requests.auth.HTTPBasicAuth(self.username, self.password)(request)

    def register_secrets(self) -> None:
        super().register_secrets()
        redaction.register_basic(self.username, self.password)


@dataclasses.dataclass
class BearerAuth(BearerOptions, Auth):
    """A static token: `auth: {type: bearer, token: ...}`."""

    secret_fields: t.ClassVar[tuple[str, ...]] = ("token",)

    def __post_init__(self) -> None:
        check_token(self.token, "auth.token")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclasses.dataclass
class ApiKeyAuth(ApiKeyOptions, Auth):
    """A key in a header or query parameter.

    ``auth: {type: api_key, name: X-Api-Key, value: ..., in: header}``
    """

    secret_fields: t.ClassVar[tuple[str, ...]] = ("value",)

    def __post_init__(self) -> None:
        check_token(self.value, "auth.value")
        check_token(self.name, "auth.name")

    def query_params(self) -> tuple[str, ...]:
        return (self.name,) if self.location == "query" else ()

    @classmethod
    def normalize_settings(cls, settings: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """`in` is the documented name; `location` (the field's, which tap-restoauth-openapi
        writes) is accepted too."""
        renamed = dict(settings)
        if "location" in renamed and "in" not in renamed:
            renamed["in"] = renamed.pop("location")
        return renamed

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.location == "header":
            request.headers[self.name] = self.value
        else:
            request.prepare_url(request.url, {self.name: self.value})
        return request


_OAUTH_HINTS = {
    "invalid_client": (
        "check auth.client_id, auth.client_secret and auth.client_auth_method "
        "(with private_key_jwt: auth.private_key and private_key_id; with tls_client_auth: client_cert)"
    ),
    "invalid_grant": (
        "the refresh token is expired, revoked or was already used: consent again and "
        "store the new refresh token"
    ),
    "invalid_scope": "check auth.scopes against the scopes this client may request",
    "unauthorized_client": "this client is not allowed to use this grant type",
    "unsupported_grant_type": "the server does not support this grant type",
    "invalid_request": "check auth.token_params, auth.audience and auth.resource",
    "access_denied": "the authorization server refused access to this client",
}


class TokenEndpointError(AuthError):
    """The token endpoint gave no token (after retries); the message says why and what to fix."""


class SharedTokenSource(t.Protocol):
    """Obtains tokens shared between processes (auth/lease.py)."""

    def obtain(self, auth: OAuth2RefreshToken, rejected: str | None) -> _Token: ...


@dataclasses.dataclass
class _Token:
    """An access token and its time.monotonic() deadlines (None when the server gave no lifetime)."""

    access_token: str
    renew_at: float | None  # expiry minus expiry_skew_seconds: renew from here on
    expires_at: float | None  # the server's lifetime ends: renewal is then mandatory


@dataclasses.dataclass
class OAuth2ClientCredentials(OAuth2ClientCredentialsOptions, TokenShape, ClientKeyOptions, Auth):
    """OAuth 2.0 client-credentials grant (RFC 6749 section 4.4).

    ``auth: {type: oauth2_client_credentials, token_url: ..., client_id: ...,
    client_secret: ..., scopes: [read]}``
    """

    grant_type: t.ClassVar[str] = "client_credentials"
    secret_fields: t.ClassVar[tuple[str, ...]] = ("client_secret",)
    scopes_in_form: t.ClassVar[bool] = True
    request_name: t.ClassVar[str] = "token request"
    error_hints: t.ClassVar[Mapping[str, str]] = {}  # the grant's own reading of RFC 6749 errors

    def __post_init__(self) -> None:
        parts = urlsplit(self.token_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"auth.token_url: expected an http(s) URL, got {self.token_url!r}")
        if parts.scheme == "http" and not is_loopback(parts.hostname) and not self.allow_insecure_token_url:
            raise ConfigError(
                "auth.token_url: plain http would send the client secret in clear; use https "
                "(or set auth.allow_insecure_token_url: true if you really must)"
            )
        for name, value in self.token_headers.items():
            check_token(str(value), f"auth.token_headers.{name}")
        self.check_token_shape()
        self.check_client_auth(self.client_auth_method, self.client_id, self.client_secret)
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._http: HttpContext | None = None
        self.token_requests = 0

    def bind(self, http: HttpContext) -> None:
        self._http = http

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._valid_token()}"
        return request

    def renew_after_unauthorized(self, rejected: requests.PreparedRequest) -> bool:
        with self._lock, interrupt.shielded():  # a rotated token must be saved
            current = self._token
            if current is None or self.carries(rejected, current.access_token):
                logger.info("The API answered 401: requesting a new access token")
                self._token = self._new_token(rejected=current.access_token if current else None)
        return True

    def carries(self, request: requests.PreparedRequest, access_token: str) -> bool:
        """Whether `request` was sent with `access_token` (not an older one)."""
        return request.headers.get("Authorization") == f"Bearer {access_token}"

    def api_base_url(self, configured: str) -> str:
        if not self.api_url_from_token:
            return configured
        self._valid_token()  # the base URL comes with the first token
        return self.base_url_from_token(configured, allow_http=self.allow_insecure_token_url)

    def token_extras(self) -> Mapping[str, t.Any]:
        if self.token_response_extras:
            self._valid_token()  # the extras come with the token
        return super().token_extras()

    def _valid_token(self) -> str:
        with self._lock, interrupt.shielded():
            token = self._token
            now = time.monotonic()
            if token is None or (token.expires_at is not None and now >= token.expires_at):
                token = self._token = self._new_token()
            elif token.renew_at is not None and now >= token.renew_at:
                token = self._renew_early(token)
            return token.access_token

    def _renew_early(self, current: _Token) -> _Token:
        """A new token; if the token endpoint fails, the current one for the rest of its life.

        The skew exists so that a slow or briefly failing token endpoint does not stop
        the run while the current token is still accepted.
        """
        try:
            self._token = self._new_token()
        except TokenEndpointError as exc:
            assert current.expires_at is not None
            left = current.expires_at - time.monotonic()
            if left <= 0:
                raise
            current.renew_at = time.monotonic() + left / 2
            logger.warning(
                "Could not renew the access token early (%s); using the current one, which expires in %.0fs",
                exc,
                left,
            )
            return current
        return self._token

    def _new_token(self, rejected: str | None = None) -> _Token:
        """A token to use from now on (`rejected`: the access token the API just refused)."""
        return self._request_token()

    def grant_fields(self) -> dict[str, str]:
        """Form fields specific to the grant."""
        return {"grant_type": self.grant_type}

    def on_token_response(self, payload: Mapping[str, t.Any]) -> None:
        """Hook for grant-specific fields of a successful token response."""

    def _request_token(self) -> _Token:
        if self._http is None:
            raise RuntimeError("auth used before bind()")
        form: dict[str, t.Any] = self.grant_fields()
        if self.scopes and self.scopes_in_form:
            form["scope"] = " ".join(self.scopes)
        if self.audience:
            form["audience"] = self.audience
        if self.resource:
            form["resource"] = self.resource
        form.update(self.token_params)
        headers = {"Accept": "application/json", **{k: str(v) for k, v in self.token_headers.items()}}
        if self.client_auth_method == "client_secret_basic":
            # RFC 6749 section 2.3.1: form-urlencode id and secret before base64.
            pair = f"{quote_plus(self.client_id or '')}:{quote_plus(self.client_secret or '')}"
            encoded = base64.b64encode(pair.encode()).decode()
            redaction.register(encoded)
            headers["Authorization"] = f"Basic {encoded}"
        elif self.client_auth_method in SECRET_METHODS:
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
        else:
            method, secret = self.client_auth_method, self.client_secret
            form.update(self.keyed_client_fields(method, self.client_id, secret, self.token_url))
        response, attempts = self._post_with_retries(form, headers)
        self._refuse_redirect(response)
        payload = _json_object(response)
        fields = None
        if payload is not None and response.ok:
            fields = self.read_token_response(payload, response.headers)
        if fields is None:
            raise TokenEndpointError(self._describe_failure(response, payload, attempts))
        access_token = fields.access_token
        check_token(access_token, "access_token", source=f"the token endpoint {origin(self.token_url)}")
        redaction.register_token(access_token)
        self.token_requests += 1
        assert payload is not None
        self.on_token_response(payload)
        lifetime = fields.lifetime
        renew_at = expires_at = None
        if lifetime is not None:
            expires_at = time.monotonic() + lifetime
            renew_at = expires_at - min(self.expiry_skew_seconds, lifetime / 2)
        logger.info(
            "Obtained an access token from %s (%s)",
            origin(self.token_url),
            f"expires in {lifetime:.0f}s" if lifetime is not None else "no expiry given",
        )
        return _Token(access_token, renew_at, expires_at)

    def _post_with_retries(
        self, form: Mapping[str, t.Any], headers: Mapping[str, str]
    ) -> tuple[requests.Response, int]:
        """The final token-endpoint response and how many attempts it took.

        Timeouts, dropped connections, 5xx and 429 are retried with the API's backoff.
        The request is built apart from the session: it carries only these headers, none
        of the API's cookies and no ~/.netrc credentials, and it follows no redirect.
        """
        assert self._http is not None
        http = self._http

        def post() -> requests.Response:
            request = requests.Request(
                "POST",
                self.token_url,
                headers={**requests.utils.default_headers(), **headers},
                hooks=http.session.hooks,  # the size and time limits (http/limits.py)
                **self.token_request_arguments(form),
            )
            return http.session.send(request.prepare(), timeout=http.timeout, allow_redirects=False)

        return http.retry.send(
            post,
            what=lambda: f"{self.request_name} to {origin(self.token_url)}",
            fail=TokenEndpointError,
            logger=logger,
        )

    def _refuse_redirect(self, response: requests.Response) -> None:
        """The token request follows no redirect: the next hop would get the client secret
        (307/308 re-post the form) or hand back a token from anywhere (302 as GET)."""
        target = _redirect_target(response)
        if target is None:
            return
        raise TokenEndpointError(
            f"token request to {origin(self.token_url)} was redirected (HTTP {response.status_code}) to "
            f"{describe_origin(urljoin(self.token_url, target))}; token requests follow no redirect, so "
            "the client secret is not sent there: set auth.token_url to the token endpoint itself"
        )

    def _describe_failure(
        self, response: requests.Response, payload: Mapping[str, t.Any] | None, attempts: int
    ) -> str:
        """One line: the RFC 6749 5.2 error with its likely fix, or what came instead of a token."""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        where = f"{self.request_name} to {origin(self.token_url)} failed{tries}: HTTP {response.status_code}"
        if payload is not None and payload.get("error"):
            error = str(payload["error"])
            description = " ".join(str(payload.get("error_description") or "").split())
            hint = self.error_hints.get(error) or _OAUTH_HINTS.get(error, "see the provider's OAuth docs")
            detail = f"{error}" + (f" ({redaction.redact(description)[:200]})" if description else "")
            return f"{where} {detail}: {hint}"
        if response.ok and payload is None:
            # A successful token response carries credentials the tap has not registered yet
            # (it could not read them): no part of it is shown.
            return (
                f"{where} but the body is not a JSON object the tap can read ({_undecodable(response)}); "
                "its content is not shown (it may carry a token)"
            )
        if payload is not None and not response.ok:
            return f"{where}: {redaction.excerpt(response.text)}"
        if payload is not None:
            keys = redaction.redact(", ".join(sorted(payload)[:10])) or "none"
            return (
                f"{where}: the JSON response has no {self.access_token_path} (keys: {keys}); "
                "is token_url right? (set auth.access_token_path if the token is elsewhere)"
            )
        content_type = response.headers.get("Content-Type", "no content type")
        text = _visible_text(response.text) if "html" in content_type.lower() else response.text
        return f"{where} ({content_type}, not JSON): {redaction.excerpt(text)}"


@dataclasses.dataclass
class OAuth2RefreshToken(OAuth2RefreshTokenOptions, OAuth2ClientCredentials):
    """OAuth 2.0 refresh-token grant (RFC 6749 section 6), for APIs a person consented to once.

    ``auth: {type: oauth2_refresh_token, token_url: ..., client_id: ..., client_secret: ...,
    refresh_token: ..., refresh_token_file: ~/.config/tap-restoauth/refresh_token}``

    A rotated refresh token is used for the rest of the run and saved to every token
    store (the file, then Secret Manager when the token came from an `sm://` reference).
    """

    grant_type: t.ClassVar[str] = "refresh_token"
    secret_fields: t.ClassVar[tuple[str, ...]] = ("client_secret", "refresh_token")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stores: list[RefreshTokenStore] = []
        self.shared: SharedTokenSource | None = None  # set by auth/lease.py when processes share tokens
        self._configured_refresh_token = self.refresh_token
        if self.refresh_token_file:
            file_store = FileTokenStore(self.refresh_token_file)
            saved = file_store.load()
            if saved:
                self.refresh_token = saved
            self.stores.append(file_store)
        if not self.refresh_token:
            raise ConfigError("auth.refresh_token is required (or a non-empty auth.refresh_token_file)")
        check_token(self.refresh_token, "auth.refresh_token")
        redaction.register(self.refresh_token)

    def add_store(self, store: RefreshTokenStore, *, authoritative: bool = False) -> None:
        """Also save rotated tokens to `store` (after those already added).

        An authoritative store (Secret Manager) is where the configured refresh_token came
        from: that value wins over refresh_token_file, which is then only a fallback copy.
        """
        if authoritative and self._configured_refresh_token:
            self.refresh_token = self._configured_refresh_token
        self.stores.append(store)

    def grant_fields(self) -> dict[str, str]:
        return {"grant_type": self.grant_type, "refresh_token": str(self.refresh_token)}

    def _new_token(self, rejected: str | None = None) -> _Token:
        if self.shared is not None:
            return self.shared.obtain(self, rejected)
        return self._request_token()

    def on_token_response(self, payload: Mapping[str, t.Any]) -> None:
        rotated = payload.get("refresh_token")
        if not rotated or rotated == self.refresh_token:
            return
        rotated = str(rotated)
        check_token(rotated, "refresh_token", source=f"the token endpoint {origin(self.token_url)}")
        redaction.register_token(rotated)
        self.refresh_token = rotated
        if self.shared is not None:
            return  # saved with the new access token, under the shared lease
        if not self.stores:
            logger.warning(
                "The provider rotated the refresh token and no token store is configured: "
                "the next run will fail if the provider invalidated the old one "
                "(set auth.refresh_token_file or keep auth.refresh_token in Secret Manager)"
            )
            return
        self.save_to_stores(rotated)

    def save_to_stores(self, value: str) -> None:
        """Save `value` (the refresh token, or StoredToken JSON) to every store, then report failures."""
        failures = []
        for store in self.stores:  # every store, even after one fails: each may be the one read next
            try:
                store.save(value)
            except TapRestOAuthError as exc:
                failures.append(redaction.redact(str(exc)))
            else:
                logger.info("Saved the rotated refresh token to %s", store.description)
        if failures:
            raise AuthError("; ".join(failures))  # each store's message names itself and the fix


def check_token(value: str, name: str, *, source: str | None = None) -> None:
    """Refuse a credential that cannot go into a header (auth/credential.py) without printing it."""
    problem = credential_problem(value)
    if problem is None:
        return
    if source is not None:
        raise TokenEndpointError(f"{source} returned {name} with {problem}; refused (its value is not shown)")
    raise ConfigError(
        f"{name} contains {problem} (its value is not shown): check how it was stored, e.g. a "
        "trailing newline added by `echo` when the secret was created"
    )


def _redirect_target(response: requests.Response) -> str | None:
    """The Location of a 3xx redirect response, else None."""
    return response.headers.get("Location") if response.is_redirect else None


_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)


def _visible_text(page: str) -> str:
    """The text a browser would show of an HTML error page (tags, scripts and comments dropped)."""
    import html  # noqa: PLC0415  (error messages only: html.entities costs every start ~1.5 ms)

    return html.unescape(_MARKUP.sub(" ", page))


def _undecodable(response: requests.Response) -> str:
    """Why `response`'s body is not a JSON object, in words that quote none of it."""
    try:
        payload = limits.decode(response.content)
    except limits.BadDocument as exc:
        return str(exc)
    except msgspec.DecodeError as exc:
        return "malformed JSON" if "malformed" in str(exc) else "a number out of range"
    return f"a JSON {type(payload).__name__.replace('dict', 'object').replace('list', 'array')}"


def _json_object(response: requests.Response) -> dict[str, t.Any] | None:
    try:
        payload = limits.decode(response.content)
    except (msgspec.DecodeError, limits.BadDocument):
        return None
    return payload if isinstance(payload, dict) else None

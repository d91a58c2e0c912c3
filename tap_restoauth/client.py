"""The HTTP client every stream shares: auth, TLS, retries, rate limit, clear errors."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import requests
from requests.adapters import HTTPAdapter

from tap_restoauth import redaction
from tap_restoauth.auth import Auth, HttpContext
from tap_restoauth.errors import ApiError, AuthError
from tap_restoauth.retry import TRANSIENT_ERRORS, RetryPolicy, describe_transport_error

logger = logging.getLogger("tap_restoauth.client")

SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "api-key",
        "auth",
        "client_secret",
        "code",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
    }
)


@dataclasses.dataclass(frozen=True)
class HttpSettings:
    """Connection settings shared by API and token requests."""

    timeout: float = 60.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    headers: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    requests_per_second: float | None = None
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    pool_size: int = 10


@dataclasses.dataclass(frozen=True)
class ApiResponse:
    """A decoded JSON response."""

    url: str
    headers: t.Mapping[str, str]
    body: t.Any


class RateLimiter:
    """Spaces requests evenly so that no second sees more than `rate` of them.

    A token bucket holding one token: shared by every stream and thread.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class ApiClient:
    """Sends requests with retries and turns every failure into one readable line."""

    def __init__(self, settings: HttpSettings, auth: Auth) -> None:
        self.settings = settings
        self.auth = auth
        self.session = requests.Session()
        self.session.verify = settings.ca_bundle or settings.verify_tls
        self.session.headers.update({"Accept": "application/json", **settings.headers})
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(settings.pool_size, 10))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.limiter = RateLimiter(settings.requests_per_second) if settings.requests_per_second else None
        auth.bind(HttpContext(self.session, settings.timeout, settings.retry))
        self.retries = 0
        if not settings.verify_tls:
            logger.warning("TLS certificate verification is OFF (verify_tls: false)")

    def get_json(
        self,
        stream: str,
        method: str,
        url: str,
        *,
        params: t.Mapping[str, t.Any],
        body: t.Any = None,
        ignore_statuses: t.Collection[int] = (),
    ) -> ApiResponse | None:
        """Fetch and decode one JSON document; None when the status is in `ignore_statuses`."""
        response = self._send(stream, method, url, params, body)
        if response.status_code in ignore_statuses:
            logger.info(
                "%s: %s %s answered %s; skipped (ignore_statuses)",
                stream,
                method,
                mask_url(response.url),
                response.status_code,
            )
            return None
        if response.status_code >= 400:
            raise ApiError(describe_http_error(stream, method, response))
        return ApiResponse(response.url, response.headers, decode_json(stream, method, response))

    def _send(
        self, stream: str, method: str, url: str, params: t.Mapping[str, t.Any], body: t.Any
    ) -> requests.Response:
        retry = self.settings.retry
        attempt = 0
        renewed = False
        while True:
            if self.limiter:
                self.limiter.acquire()
            request = requests.Request(method, url, params=params, json=body, auth=self.auth)
            prepared = self.session.prepare_request(request)
            try:
                response = self.session.send(prepared, timeout=self.settings.timeout)
            except TRANSIENT_ERRORS as exc:
                if attempt >= retry.max_retries:
                    raise ApiError(
                        f"{stream}: {method} {mask_url(prepared.url or url)} failed after "
                        f"{attempt + 1} attempts: {describe_transport_error(exc)}"
                    ) from None
                wait = retry.wait_seconds(attempt)
                logger.warning(
                    "%s: %s on %s %s; retry %d/%d in %.1fs",
                    stream,
                    describe_transport_error(exc),
                    method,
                    mask_url(prepared.url or url),
                    attempt + 1,
                    retry.max_retries,
                    wait,
                )
            except requests.exceptions.InvalidURL as exc:
                raise ApiError(f"{stream}: invalid URL {mask_url(url)} ({exc})") from None
            else:
                status = response.status_code
                if status == 401 and not renewed and self.auth.renew_after_unauthorized(prepared):
                    renewed = True
                    continue
                if status == 401 and renewed:
                    raise AuthError(
                        f"{stream}: the API rejected a freshly issued token on {method} "
                        f"{mask_url(response.url)} (HTTP 401: {redaction.excerpt(response.text, 120)}): "
                        "check auth.scopes and auth.audience"
                    )
                if not retry.should_retry(status) or attempt >= retry.max_retries:
                    return response
                wait = retry.wait_seconds(attempt, response)
                logger.warning(
                    "%s: HTTP %s on %s %s; retry %d/%d in %.1fs",
                    stream,
                    status,
                    method,
                    mask_url(response.url),
                    attempt + 1,
                    retry.max_retries,
                    wait,
                )
            attempt += 1
            self.retries += 1
            time.sleep(wait)


def decode_json(stream: str, method: str, response: requests.Response) -> t.Any:
    """The response body as JSON, or an ApiError saying what came instead."""
    content = response.content
    where = f"{stream}: {method} {mask_url(response.url)}"
    if not content.strip():
        raise ApiError(f"{where} returned an empty body (HTTP {response.status_code}); expected JSON")
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        content_type = response.headers.get("Content-Type", "no content type")
        raise ApiError(
            f"{where} returned a body that is not JSON ({content_type}, {len(content)} bytes): "
            f"{redaction.excerpt(response.text)}"
        ) from None


def describe_http_error(stream: str, method: str, response: requests.Response) -> str:
    hint = ""
    if response.status_code in (401, 403):
        hint = " (check the auth settings and the credentials' permissions)"
    return (
        f"{stream}: {method} {mask_url(response.url)} failed: HTTP {response.status_code} "
        f"{response.reason or ''}{hint}: {redaction.excerpt(response.text)}"
    ).replace("  ", " ")


def mask_url(url: str) -> str:
    """`url` with sensitive query values and any userinfo masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (name, "***" if name.lower() in SENSITIVE_PARAMS else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return redaction.redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))

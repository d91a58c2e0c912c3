"""The HTTP client every stream shares: auth, TLS, retries, rate limit, clear errors."""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import threading
import time
import typing as t
from urllib.parse import urlsplit

import msgspec
import requests
import urllib3
from requests.adapters import HTTPAdapter

from tap_restoauth.auth.methods import Auth, HttpContext
from tap_restoauth.errors import ApiError, AuthError
from tap_restoauth.http import limits, redaction
from tap_restoauth.http.retry import (
    RetryPolicy,
    exception_chain,
)
from tap_restoauth.http.urls import mask_url
from tap_restoauth.sync import interrupt

logger = logging.getLogger("tap_restoauth.http.client")


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
    limits: limits.ResponseLimits = dataclasses.field(default_factory=limits.ResponseLimits)


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
            interrupt.sleep(slot - now)


class _TlsAdapter(HTTPAdapter):
    """Applies the tap's TLS settings and reports an untrusted certificate at once.

    Every request of the session (API and token) goes through here, so `ca_bundle` and
    `verify_tls` hold for both: requests' `Session.post` would otherwise let a
    REQUESTS_CA_BUNDLE in the environment override them for token requests. requests
    raises SSLError, a ConnectionError, for every TLS failure; a certificate that fails
    verification will fail again, so it must not be retried as transient.
    """

    def __init__(self, verify: bool | str, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.verify = verify

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        kwargs["verify"] = self.verify
        try:
            return super().send(request, *args, **kwargs)
        except requests.exceptions.SSLError as exc:
            reason = _certificate_failure(exc)
            if reason is None:
                raise
            parts = urlsplit(request.url or "")
            origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            raise ApiError(
                f"TLS certificate verification failed for {origin}: {reason}; "
                "if the server uses a private CA, set ca_bundle to its PEM file"
            ) from None


def tls_verification(settings: HttpSettings) -> bool | str:
    """What to verify certificates against: `ca_bundle`, nothing (`verify_tls: false`), or the
    bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests' convention), else certifi's."""
    if settings.ca_bundle:
        return settings.ca_bundle
    if not settings.verify_tls:
        return False
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def _certificate_failure(exc: BaseException) -> str | None:
    """The verification message when `exc` was caused by an untrusted or mismatched certificate."""
    for cause in exception_chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "certificate verify failed")
    return None


class ApiClient:
    """Sends requests with retries and turns every failure into one readable line."""

    def __init__(self, settings: HttpSettings, auth: Auth) -> None:
        self.settings = settings
        self.auth = auth
        self.session = requests.Session()
        self.session.verify = verify = tls_verification(settings)
        self.session.headers.update({"Accept": "application/json", **settings.headers})
        adapter = _TlsAdapter(verify, pool_connections=4, pool_maxsize=max(settings.pool_size, 10))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        limits.install(self.session, settings.limits)
        self.limiter = RateLimiter(settings.requests_per_second) if settings.requests_per_second else None
        auth.bind(HttpContext(self.session, settings.timeout, settings.retry))
        self.retries = 0
        self._proxies: dict[str, dict[str, str]] = {}
        if not settings.verify_tls and not settings.ca_bundle:
            logger.warning(
                "TLS certificate verification is OFF (verify_tls: false): anyone on the network "
                "path can read the credentials and the data"
            )
            # One warning above instead of urllib3's on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

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
        response, attempts = self._send(stream, method, url, params, body)
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
            raise ApiError(describe_http_error(stream, method, response, attempts=attempts))
        return ApiResponse(response.url, response.headers, decode_json(stream, method, response))

    def _proxies_for(self, prepared: requests.PreparedRequest) -> dict[str, str]:
        """The environment's proxies for the request's origin, looked up once per origin.

        requests otherwise re-reads every environment variable on each request
        (about a fifth of the client's time on a local API); NO_PROXY matches hosts,
        so one answer per origin is the same answer.
        """
        parts = urlsplit(prepared.url or "")
        origin = f"{parts.scheme}://{parts.netloc}"
        proxies = self._proxies.get(origin)
        if proxies is None:
            proxies = self._proxies[origin] = requests.utils.resolve_proxies(
                prepared, dict(self.session.proxies), self.session.trust_env
            )
        return proxies

    def _send(
        self, stream: str, method: str, url: str, params: t.Mapping[str, t.Any], body: t.Any
    ) -> tuple[requests.Response, int]:
        """The final response and how many attempts it took.

        A 401 earns one fresh credential and one resend (not counted as a retry); a 401
        for a freshly issued token is fatal.
        """
        renewed = False
        sent_url = url

        def attempt_once() -> requests.Response:
            nonlocal renewed, sent_url
            while True:
                if self.limiter:
                    self.limiter.acquire()
                request = requests.Request(method, url, params=params, json=body, auth=self.auth)
                prepared = self.session.prepare_request(request)
                sent_url = prepared.url or url
                try:
                    response = self.session.send(
                        prepared, timeout=self.settings.timeout, proxies=self._proxies_for(prepared)
                    )
                except requests.exceptions.InvalidURL as exc:
                    raise ApiError(f"{stream}: invalid URL {mask_url(url)} ({exc})") from None
                if response.status_code != 401:
                    return response
                if not renewed and self.auth.renew_after_unauthorized(prepared):
                    renewed = True
                    continue
                if renewed:
                    raise AuthError(
                        f"{stream}: the API rejected a freshly issued token on {method} "
                        f"{mask_url(response.url)} (HTTP 401: {redaction.excerpt(response.text, 120)}): "
                        "check auth.scopes and auth.audience"
                    )
                return response

        return self.settings.retry.send(
            attempt_once,
            what=lambda: f"{stream}: {method} {mask_url(sent_url)}",
            fail=ApiError,
            logger=logger,
            on_retry=self._count_retry,
        )

    def _count_retry(self) -> None:
        self.retries += 1


def decode_json(stream: str, method: str, response: requests.Response) -> t.Any:
    """The response body as JSON, or an ApiError saying what came instead."""
    content = response.content
    where = f"{stream}: {method} {mask_url(response.url)}: expected a JSON document, got"
    status = response.status_code
    if not content.strip():
        raise ApiError(f"{where} an empty body (HTTP {status})")
    try:
        return limits.decode(content)
    except limits.BadDocument as exc:
        raise ApiError(f"{where} {exc}") from None
    except msgspec.DecodeError as exc:
        content_type = response.headers.get("Content-Type") or "no Content-Type"
        detail = f"HTTP {status}, {len(content)} bytes"
        got = (
            f"invalid JSON ({exc}; {content_type}, {detail})"
            if "json" in content_type
            else f"{content_type} ({detail})"
        )
        raise ApiError(f"{where} {got}: {redaction.excerpt(response.text)}") from None


def describe_http_error(stream: str, method: str, response: requests.Response, *, attempts: int = 1) -> str:
    hint = ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if response.status_code in (401, 403):
        hint = " (check the auth settings and the credentials' permissions)"
    return (
        f"{stream}: {method} {mask_url(response.url)} failed{tries}: HTTP {response.status_code} "
        f"{response.reason or ''}{hint}: {redaction.excerpt(response.text)}"
    ).replace("  ", " ")

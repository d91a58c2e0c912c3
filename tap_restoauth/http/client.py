"""The HTTP client every stream shares: auth, TLS, retries, rate limit, clear errors.

It is also the one place where credentials are put on requests: only for origins the
`OriginPolicy` trusts (see origins.py), and redirects are followed here, hop by hop,
so that each hop's origin is checked before anything is sent to it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import threading
import time
import typing as t
from urllib.parse import urljoin, urlsplit

import msgspec
import requests
import urllib3
from requests.adapters import HTTPAdapter

from tap_restoauth.auth.methods import Auth, HttpContext
from tap_restoauth.errors import ApiError, AuthError
from tap_restoauth.http import limits, redaction
from tap_restoauth.http.mtls import ClientCertificate, handshake_refusal
from tap_restoauth.http.origins import MAX_REDIRECTS, OriginPolicy
from tap_restoauth.http.ratelimit import QuotaExhausted, RateLimitGate, RateLimitSettings
from tap_restoauth.http.request import ApiRequest
from tap_restoauth.http.retry import (
    RetryAfterTooLong,
    RetryPolicy,
    exception_chain,
    parse_retry_after,
)
from tap_restoauth.http.rules import ResponseBody, ResponseRule
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.decoders import BodyError, gunzip_body
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
    origins: OriginPolicy = dataclasses.field(default_factory=OriginPolicy)  # default: trusts nothing
    rate_limit: RateLimitSettings = dataclasses.field(default_factory=RateLimitSettings)
    client_cert: ClientCertificate | None = None
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
            interrupt.wait(slot - now)


class _TlsAdapter(HTTPAdapter):
    """Applies the tap's TLS settings (and client certificate) and reports certificate failures at once.

    Every request of the session (API and token) goes through here, so `ca_bundle` and
    `verify_tls` hold for both: requests' `Session.post` would otherwise let a
    REQUESTS_CA_BUNDLE in the environment override them for token requests. requests
    raises SSLError, a ConnectionError, for every TLS failure; a certificate that fails
    verification will fail again, so it must not be retried as transient.
    """

    def __init__(self, verify: bool | str, cert: ClientCertificate | None = None, **kwargs: t.Any) -> None:
        self.verify = verify
        self.has_cert = cert is not None
        self.cert_context = cert.ssl_context(verify) if cert else None
        super().__init__(**kwargs)  # builds the pool manager, which takes cert_context

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self.cert_context is not None:
            kwargs["ssl_context"] = self.cert_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> t.Any:
        if self.cert_context is not None:
            proxy_kwargs["ssl_context"] = self.cert_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def send(self, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        kwargs["verify"] = self.verify
        try:
            return super().send(request, *args, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            parts = urlsplit(request.url or "")
            origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            refusal = handshake_refusal(exc, origin, self.has_cert)
            if refusal is not None:
                raise ApiError(refusal) from None
            reason = _certificate_failure(exc) if isinstance(exc, requests.exceptions.SSLError) else None
            if reason is None:
                raise
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
        # Configured headers are not session headers: they go only to trusted origins
        # (never to token_url, which gets auth.token_headers).
        self.session.headers.update({"Accept": "application/json"})
        self.origins = settings.origins
        adapter = _TlsAdapter(
            verify, settings.client_cert, pool_connections=4, pool_maxsize=max(settings.pool_size, 10)
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        limits.install(self.session, settings.limits)
        self.limiter = RateLimiter(settings.requests_per_second) if settings.requests_per_second else None
        self.gate = RateLimitGate(settings.rate_limit, settings.retry.max_retry_after_seconds)
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

    def get_json(self, request: ApiRequest) -> ApiResponse | None:
        """Fetch and decode one JSON document; None when a response rule says to ignore it."""
        answer = self._send(request)
        if answer is None:
            return None
        response, view = answer
        decoded = view.cached_json()
        document = (
            decoded
            if decoded is not None
            else decode_json(request.stream, request.method, response, self.settings.limits.max_bytes)
        )
        return ApiResponse(response.url, response.headers, document)

    def open(self, request: ApiRequest) -> requests.Response | None:
        """A successful response whose body is not read yet (the caller streams and closes it).

        None when a response rule says to ignore it. With `request.credentials` False (a file on
        another origin, such as a presigned storage URL) nothing of the tap's is sent, on
        any hop: no auth, configured headers, params or cookies; only https (or loopback)
        URLs are fetched (`OriginPolicy.check_bare`).
        """
        answer = self._send(request, streamed=True)
        return None if answer is None else answer[0]

    def api_base_url(self, configured: str) -> str:
        """`api_url`, or the API host a token response named (`auth.api_url_from_token`),
        which then receives credentials like api_url's origin."""
        base = self.auth.api_base_url(configured)
        if base != configured:
            self.origins.trust(base)
        return base

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
        self, request: ApiRequest, *, streamed: bool = False
    ) -> tuple[requests.Response, ResponseBody] | None:
        """The final, usable response and its body view; None when a rule ignores it.

        The response rules are tried first; then a 401 earns one fresh credential and one
        resend (not counted as a retry); a 401 for a freshly issued token is fatal.
        """
        stream, method, url, params, body, rules, accept, credentials = (
            request.stream,
            request.method,
            request.url,
            request.params,
            request.body,
            request.rules,
            request.accept,
            request.credentials,
        )
        if credentials:
            self.origins.check_request(stream, url)
        else:
            self.origins.check_bare(stream, url)
        renewed = False
        sent_url = url
        matched: ResponseRule | None = None
        exhausted = False
        view: ResponseBody | None = None
        headers = {**(request.headers or {}), **({"Accept": accept} if accept else {})}

        def sending(prepared: requests.PreparedRequest) -> None:
            nonlocal sent_url
            sent_url = prepared.url or url

        def attempt_once() -> requests.Response:
            nonlocal renewed, matched, exhausted, view
            while True:
                self.gate.acquire()
                if self.limiter:
                    self.limiter.acquire()
                response, prepared, sent_credentials = self._follow_redirects(
                    stream,
                    method,
                    url,
                    params,
                    body,
                    headers=headers,
                    streamed=streamed,
                    sending=sending,
                    credentials=credentials,
                )
                exhausted = self.gate.observe(response.headers)
                status = response.status_code
                view = _body_view(response, streamed=streamed)
                matched = rules.match(status, view) if rules else None
                if (
                    matched is not None
                    and matched.action == "refresh_token"
                    and not renewed
                    and sent_credentials
                ):
                    renewed = True
                    if self.auth.renew_after_unauthorized(prepared):
                        logger.info("%s: %s asked for a new access token", stream, matched.label)
                        response.close()
                        continue
                if matched is not None or status != 401 or not sent_credentials:
                    return response
                if not renewed and self.auth.renew_after_unauthorized(prepared):
                    renewed = True
                    continue
                if renewed:
                    raise AuthError(
                        f"{stream}: the API rejected a freshly issued token on {method} "
                        f"{mask_url(response.url)} (HTTP 401: {redaction.excerpt(view.text, 120)}): "
                        "check auth.scopes and auth.audience"
                    )
                return response

        def retry_reason(response: requests.Response) -> str | None:
            if matched is None:
                return self._retry_reason(response, exhausted=exhausted)
            if matched.action == "stop":
                return self._wait_for_quota(response, matched)
            if matched.action != "retry":
                return None
            assert view is not None
            message = redaction.excerpt(matched.message(view), 120)
            return f"HTTP {response.status_code} ({matched.label}: {message})"

        response, attempts = self.settings.retry.send(
            attempt_once,
            what=lambda: f"{stream}: {method} {mask_url(sent_url)}",
            fail=ApiError,
            logger=logger,
            on_retry=self._count_retry,
            retry_reason=retry_reason,
            too_long=_quota_exhausted,
        )
        assert view is not None
        if matched is not None:
            return self._apply(stream, method, response, view, matched, attempts)
        if response.status_code >= 400:
            response.close()
            raise ApiError(describe_http_error(stream, method, response, attempts=attempts))
        return response, view

    def _apply(  # noqa: PLR0917
        self,
        stream: str,
        method: str,
        response: requests.Response,
        view: ResponseBody,
        rule: ResponseRule,
        attempts: int,
    ) -> tuple[requests.Response, ResponseBody] | None:
        """What a matched response rule says to do with the final response."""
        status = response.status_code
        where = f"{stream}: {method} {mask_url(response.url)}"
        if rule.action == "ignore":
            logger.info("%s answered %s; skipped (%s)", where, status, rule.label)
            response.close()
            return None
        message = redaction.excerpt(rule.message(view), 300)
        response.close()
        if rule.action == "stop":
            raise QuotaExhausted(
                f"{where} answered HTTP {status}, {rule.label}: {message}",
                self._quota_resets_in(response),
                self.settings.retry.max_retry_after_seconds,
            )
        if rule.action == "retry":
            raise ApiError(
                f"{where} still answered HTTP {status} after {attempts} attempts ({rule.label}): {message}"
            )
        if rule.action == "refresh_token":
            raise ApiError(
                f"{where} answered HTTP {status} ({rule.label}: refresh_token) and a new access token did "
                f"not help (or auth.type {self.auth.type} has none to renew): {message}"
            )
        raise ApiError(f"{where} answered HTTP {status} ({rule.label}): {message}")

    def _retry_reason(self, response: requests.Response, *, exhausted: bool) -> str | None:
        """Why the built-in handling retries a response no rule matched (None: it does not)."""
        status = response.status_code
        if self.settings.retry.should_retry(status):
            return f"HTTP {status}"
        if exhausted and status == 403:
            return f"HTTP {status} with the rate limit used up"
        if status == 403 and "Retry-After" in response.headers:
            return f"HTTP {status} with Retry-After"  # e.g. GitHub's secondary rate limits
        return None

    def _quota_resets_in(self, response: requests.Response) -> float | None:
        """Seconds until the API serves again, from Retry-After or a rate-limit reset header."""
        seconds = parse_retry_after(response.headers.get("Retry-After"))
        return seconds if seconds is not None else self.settings.rate_limit.read(response.headers)[1]

    def _wait_for_quota(self, response: requests.Response, rule: ResponseRule) -> str | None:
        """For a `stop` rule: when the quota resets soon enough, hold every request until then
        and retry (the reason); otherwise None, and the run stops."""
        seconds = self._quota_resets_in(response)
        if seconds is None or seconds > self.settings.retry.max_retry_after_seconds:
            return None
        self.gate.hold(seconds, rule.label)
        return f"HTTP {response.status_code} ({rule.label}: stop; the quota resets in {seconds:.0f}s)"

    def _count_retry(self) -> None:
        self.retries += 1

    def _credentialed(
        self, method: str, url: str, params: t.Any, body: t.Any, headers: t.Mapping[str, str]
    ) -> requests.PreparedRequest:
        """A request to a trusted origin: auth, configured headers (the stream's over the
        top-level ones), session cookies."""
        request = requests.Request(
            method,
            url,
            params=params,
            json=body,
            headers={**self.settings.headers, **headers},
            auth=self.auth,
        )
        return self.session.prepare_request(request)

    def _bare(
        self, method: str, url: str, params: t.Mapping[str, t.Any] | None, headers: t.Mapping[str, str]
    ) -> requests.PreparedRequest:
        """A request with none of the tap's credentials: only an Accept header and the session's
        limits (its hooks); no auth, configured headers or params, no cookies."""
        accept = headers.get("Accept", "application/json")
        bare = {**requests.utils.default_headers(), "Accept": accept}
        return requests.Request(method, url, params=params, headers=bare, hooks=self.session.hooks).prepare()

    def _follow_redirects(
        self,
        stream: str,
        method: str,
        url: str,
        params: t.Mapping[str, t.Any],
        body: t.Any,
        *,
        headers: t.Mapping[str, str],
        streamed: bool,
        sending: t.Callable[[requests.PreparedRequest], None],
        credentials: bool = True,
    ) -> tuple[requests.Response, requests.PreparedRequest, bool]:
        """The response after following redirects, the request that got it, and whether it
        carried credentials.

        Each hop's origin is checked before it is sent (`OriginPolicy.redirect`): a hop to
        another origin goes without any credential, without cookies and without the
        session's headers. `sending` is told of each request before it is sent (to name
        it in retry messages). Without `credentials` every hop is bare, whatever its origin,
        and each must be https (or loopback).
        """
        bare_only = not credentials
        if bare_only:
            prepared = self._bare(method, url, params, headers)
        else:
            prepared = self._credentialed(method, url, params, body, headers)
        for _ in range(MAX_REDIRECTS + 1):
            sending(prepared)
            try:
                response = self.session.send(
                    prepared,
                    timeout=self.settings.timeout,
                    proxies=self._proxies_for(prepared),
                    allow_redirects=False,
                    stream=streamed,
                )
            except requests.exceptions.InvalidURL as exc:
                raise ApiError(f"{stream}: invalid URL {mask_url(prepared.url or url)} ({exc})") from None
            target = self.session.get_redirect_target(response)
            if target is None:
                return response, prepared, credentials
            location = urljoin(response.url, target)
            hop_method = _redirect_method(str(prepared.method), response.status_code)
            keeps_body = hop_method == prepared.method and body is not None
            hop = self.origins.redirect(
                stream, response.url, response.status_code, location, has_body=keeps_body
            )
            response.close()
            logger.debug(
                "%s: HTTP %s redirect to %s (%s)",
                stream,
                response.status_code,
                mask_url(hop.url),
                "credentials kept: trusted origin"
                if hop.credentials and not bare_only
                else "sent without credentials",
            )
            if hop.credentials and not bare_only:
                hop_body = body if keeps_body else None
                prepared = self._credentialed(hop_method, hop.url, None, hop_body, headers)
            else:
                if bare_only:
                    self.origins.check_bare(stream, hop.url)
                prepared = self._bare(hop_method, hop.url, None, headers)
            credentials = hop.credentials and not bare_only
        raise ApiError(f"{stream}: more than {MAX_REDIRECTS} redirects from {mask_url(url)}; stopped")


def _redirect_method(method: str, status: int) -> str:
    """The method of the next hop: 303, and 301/302 after a POST, become GET (as browsers and
    requests do); 307 and 308 keep the method and body."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def _body_view(response: requests.Response, *, streamed: bool) -> ResponseBody:
    """A streamed download's body is readable by rules only when it is an error or JSON."""
    content_type = response.headers.get("Content-Type", "")
    readable = not streamed or response.status_code >= 400 or "json" in content_type
    return ResponseBody(response, readable=readable)


def _quota_exhausted(what: str, exc: RetryAfterTooLong) -> Exception:
    return QuotaExhausted(f"{what}, Retry-After {exc.seconds:.0f}s", exc.seconds, exc.limit)


def decode_json(
    stream: str, method: str, response: requests.Response, max_bytes: int = limits.ResponseLimits.max_bytes
) -> t.Any:
    """The response body as JSON (a gzip file decompressed first), or an ApiError saying what came instead."""

    def where() -> str:  # the URL is masked only for an error message
        return f"{stream}: {method} {mask_url(response.url)}: expected a JSON document, got"

    try:
        content = gunzip_body(response.content, max_bytes)
    except BodyError as exc:
        raise ApiError(f"{where()} a gzip file that is unreadable: {exc}") from None
    status = response.status_code
    if not content.strip():
        raise ApiError(f"{where()} an empty body (HTTP {status})")
    try:
        return limits.decode(content)
    except limits.BadDocument as exc:
        raise ApiError(f"{where()} {exc}") from None
    except msgspec.DecodeError as exc:
        content_type = response.headers.get("Content-Type") or "no Content-Type"
        detail = f"HTTP {status}, {len(content)} bytes"
        got = (
            f"invalid JSON ({exc}; {content_type}, {detail})"
            if "json" in content_type
            else f"{content_type} ({detail})"
        )
        raise ApiError(f"{where()} {got}: {redaction.excerpt(response.text)}") from None


def describe_http_error(stream: str, method: str, response: requests.Response, *, attempts: int = 1) -> str:
    hint = ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if response.status_code in (401, 403):
        hint = " (check the auth settings and the credentials' permissions)"
    return (
        f"{stream}: {method} {mask_url(response.url)} failed{tries}: HTTP {response.status_code} "
        f"{response.reason or ''}{hint}: {redaction.excerpt(response.text)}"
    ).replace("  ", " ")

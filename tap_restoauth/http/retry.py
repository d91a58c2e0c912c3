"""When and how long to wait before retrying a request."""

from __future__ import annotations

import dataclasses
import http.client
import logging
import random
import socket
import typing as t

import requests

from tap_restoauth.errors import ApiError
from tap_restoauth.http import delays, unreachable
from tap_restoauth.sync import interrupt

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Failures that say nothing about the request itself: try again. (A TLS certificate
# that fails verification is not among them: the client reports it at once.)
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


# A name that does not resolve will not resolve a few seconds later: fail at once. A resolver
# that is only temporarily unavailable (EAI_AGAIN) gets one more try.
DNS_TEMPORARY = frozenset({socket.EAI_AGAIN})
DNS_MAX_RETRIES = 1


class RetryAfterTooLong(ApiError):
    """The server asked for a longer pause than `max_retry_after_seconds` allows."""

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(
            f"the server asked to wait {seconds:.0f}s before retrying (Retry-After), more than "
            f"max_retry_after_seconds ({limit:g}s): run later or raise max_retry_after_seconds"
        )
        self.seconds = seconds
        self.limit = limit


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, that honours `Retry-After`."""

    max_retries: int = 5
    backoff_factor: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0

    def should_retry(self, status: int) -> bool:
        return status in RETRY_STATUSES

    def wait_seconds(self, attempt: int, response: requests.Response | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        The server's `Retry-After` wins over backoff; one longer than
        `max_retry_after_seconds` raises RetryAfterTooLong rather than retrying
        before the server said it would accept the request.
        """
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self.max_retry_after_seconds:
                    raise RetryAfterTooLong(retry_after, self.max_retry_after_seconds)
                return retry_after
        ceiling = min(self.backoff_max_seconds, self.backoff_factor * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    def send(
        self,
        attempt_once: t.Callable[[], requests.Response],
        *,
        what: t.Callable[[], str],
        fail: t.Callable[[str], Exception],
        logger: logging.Logger,
        on_retry: t.Callable[[], None] | None = None,
        retry_reason: t.Callable[[requests.Response], str | None] | None = None,
        too_long: t.Callable[[str, RetryAfterTooLong], Exception] | None = None,
    ) -> tuple[requests.Response, int]:
        """The final response of `attempt_once`, retried as this policy says, and the attempts it took.

        Transient errors and retryable statuses are retried with backoff (or as
        `Retry-After` asks); `what()` names the request in the warning logged before each
        retry and in the exception `fail` builds when the retries run out.
        `retry_reason`, when given, decides instead of the status which responses are
        retried (it says why, or None); `too_long` builds the exception for a
        Retry-After beyond `max_retry_after_seconds`.
        """
        attempt = 0
        while True:
            tries = self.max_retries
            try:
                with interrupt.interruptible():
                    response = attempt_once()
            except TRANSIENT_ERRORS as exc:
                interrupt.check()  # a request abandoned because the run is stopping
                problem = describe_transport_error(exc)
                dns = name_resolution_error(exc)
                if dns is not None and (dns.errno not in DNS_TEMPORARY or attempt >= DNS_MAX_RETRIES):
                    attempts = f" after {attempt + 1} attempts" if attempt else ""
                    raise fail(f"{what()} failed{attempts}: {problem}") from None
                refused = unreachable.refused_address(exception_chain(exc))
                if refused is not None and unreachable.is_loopback(refused):
                    tries = min(tries, unreachable.LOOPBACK_ATTEMPTS - 1)
                if attempt >= tries:
                    raise fail(f"{what()} failed after {attempt + 1} attempts: {problem}") from None
                wait = self.wait_seconds(attempt)
            else:
                status = response.status_code
                if retry_reason is not None:
                    reason = retry_reason(response)
                else:
                    reason = f"HTTP {status}" if self.should_retry(status) else None
                if reason is None or attempt >= self.max_retries:
                    return response, attempt + 1
                problem = reason
                try:
                    wait = self.wait_seconds(attempt, response)
                except RetryAfterTooLong as exc:
                    response.close()
                    if too_long is not None:
                        raise too_long(f"{what()} answered HTTP {status}", exc) from None
                    raise fail(f"{what()} answered HTTP {status}: {exc}") from None
                response.close()  # a streamed body would otherwise hold its connection
            logger.warning("%s: %s; retry %d/%d in %.1fs", what(), problem, attempt + 1, tries, wait)
            attempt += 1
            if on_retry is not None:
                on_retry()
            interrupt.wait(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date, never negative and
    never more than ten years (see http/delays.py); None when it is neither."""
    return delays.retry_after(value)


def describe_transport_error(exc: Exception) -> str:
    """A short phrase for a failed request that got no HTTP response (API and token endpoint)."""
    causes = list(exception_chain(exc))
    dns = name_resolution_error(exc)
    if dns is not None:
        reason = dns.strerror or "unknown error"
        return f"the host name did not resolve ({reason}): check the host name and this network's DNS"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "response body was cut off"
    if any(isinstance(cause, ConnectionResetError) for cause in causes):
        return "connection reset by the server"
    refused = unreachable.refused_address(causes)
    if refused is not None:
        return unreachable.describe(refused)
    if any(isinstance(cause, http.client.RemoteDisconnected) for cause in causes):
        return "the server closed the connection without answering"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed (server unreachable or connection dropped)"
    return type(exc).__name__


def name_resolution_error(exc: BaseException) -> socket.gaierror | None:
    """The DNS failure behind a failed request, if that is what it was."""
    return next((cause for cause in exception_chain(exc) if isinstance(cause, socket.gaierror)), None)


def exception_chain(exc: BaseException) -> t.Iterator[BaseException]:
    """`exc` and every exception it wraps (args, cause, context, urllib3's `reason`)."""
    seen: set[int] = set()
    pending: list[t.Any] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen or not isinstance(current, BaseException):
            continue
        seen.add(id(current))
        yield current
        pending.extend(
            [*current.args, current.__cause__, current.__context__, getattr(current, "reason", None)]
        )

"""When and how long to wait before retrying a request."""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time

import requests

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Failures that say nothing about the request itself: try again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


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
        """Seconds to wait before retry number `attempt` (0-based)."""
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after_seconds)
        ceiling = min(self.backoff_max_seconds, self.backoff_factor * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe_transport_error(exc: Exception) -> str:
    """A short phrase for a failed request that got no HTTP response (API and token endpoint)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (certificate not trusted? set ca_bundle)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed (server unreachable or connection dropped)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "response body was cut off"
    return type(exc).__name__

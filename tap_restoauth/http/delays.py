"""Delays a server asks for (Retry-After, rate-limit resets), parsed typed and range-checked.

A header is untrusted text: ``Retry-After: 1e20``, ``X-RateLimit-Reset: 9e11`` (an epoch
30,000 years away), ``nan`` or ``reset=1.2.3`` must not raise OverflowError or
ValueError from deep inside the client. Every parser here returns a number of seconds
from now, finite, never negative and never more than `MAX_DELAY_SECONDS` (ten years:
far beyond any `max_retry_after_seconds`, so such a wait becomes a quota stop), or
None when the text is not a delay at all::

    Retry-After: 120                          -> 120.0
    Retry-After: Wed, 21 Oct 2026 07:28:00 GMT -> seconds until then (0.0 if past)
    Retry-After: 1e20                         -> 315360000.0 (capped)
    Retry-After: nan | inf | soon             -> None
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import time

MAX_DELAY_SECONDS = 10 * 365 * 86400.0


def number(text: str) -> float | None:
    """`text` as a finite number, or None (NaN, infinities and non-numbers are not numbers here)."""
    try:
        value = float(text.strip())
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def bounded(seconds: float | None) -> float | None:
    """`seconds` clamped to [0, MAX_DELAY_SECONDS]; None stays None, NaN/inf become None."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_DELAY_SECONDS)


def until_epoch(epoch_seconds: float) -> float | None:
    """Seconds from now until a Unix time, bounded."""
    return bounded(epoch_seconds - time.time())


def until_http_date(text: str) -> float | None:
    """Seconds from now until an HTTP date (RFC 9110 IMF-fixdate and its obsolete forms), bounded;
    None when `text` is not one."""
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP dates are always GMT
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        return until_epoch(when.timestamp())
    except (OverflowError, ValueError, OSError):
        return None


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date; None if neither."""
    if not value or not value.strip():
        return None
    seconds = number(value)
    return bounded(seconds) if seconds is not None else until_http_date(value)

"""The API's own rate-limit headers: wait for the budget to reset instead of hitting 429.

Reads, from every response (first found wins)::

    X-RateLimit-Remaining: 0             X-RateLimit-Reset: 1767225600   (GitHub: epoch seconds)
    RateLimit-Remaining: 0               RateLimit-Reset: 30             (IETF draft: seconds)
    RateLimit: limit=100, remaining=0, reset=30                          (IETF draft, combined)
    RateLimit: "default";r=0;t=30                                        (IETF draft-07+)

A reset is epoch seconds, epoch milliseconds, seconds from now, or an HTTP date;
with `reset_format: auto` a number above 10^9 is an epoch (ms above 10^12),
anything smaller a delay. Config (all optional)::

    rate_limit:
      remaining_header: X-Quota-Left     # other names than the usual ones
      reset_header: X-Quota-Reset
      reset_format: auto                 # auto | epoch | epoch_ms | seconds | http_date
      min_remaining: 0                   # wait once the budget is down to this
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import threading
import time
import typing as t
from collections.abc import Mapping

from tap_restoauth.errors import ApiError
from tap_restoauth.http import delays
from tap_restoauth.settings import RateLimitOptions
from tap_restoauth.sync import interrupt

logger = logging.getLogger("tap_restoauth.http.ratelimit")

REMAINING_HEADERS = ("X-RateLimit-Remaining", "RateLimit-Remaining", "X-Rate-Limit-Remaining")
RESET_HEADERS = ("X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset")
COMBINED_HEADER = "RateLimit"
_COMBINED_PART = re.compile(r"(?:^|[;,\s])(remaining|reset|r|t)\s*=\s*\"?([^\s;,\"]*)", re.IGNORECASE)
_EPOCH = 1e9  # 2001-09-09: no API asks for a 31-year pause
_EPOCH_MS = 1e12


class QuotaExhausted(ApiError):
    """The API will not serve more requests for longer than `max_retry_after_seconds`.

    Not a failure by default: the run stops early with resumable STATE (see
    `on_quota_exhausted`).
    """

    def __init__(self, reason: str, seconds: float | None, limit: float) -> None:
        seconds = delays.bounded(seconds)
        self.seconds = seconds
        self.resets_at = (
            dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds) if seconds is not None else None
        )
        if seconds is None:
            when = "the API did not say when it resets"
        else:
            when = f"it resets in {_duration(seconds)} (at {self.resets_at:%Y-%m-%dT%H:%M:%SZ})"
            if seconds > limit:
                when += f", later than max_retry_after_seconds ({limit:g}s) allows waiting"
        super().__init__(f"API quota exhausted ({reason}); {when}")


def _duration(wait: float) -> str:
    seconds = math.ceil(wait)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RateLimitSettings(RateLimitOptions):
    """Which headers carry the budget and how the reset is written (see the module docstring);
    its fields, the `rate_limit` setting, are declared in settings.py."""

    def read(self, headers: Mapping[str, str]) -> tuple[float | None, float | None, str]:
        """The remaining budget, seconds until it resets, and the header that said so.

        Values that are not finite numbers (or dates) are ignored, as if absent; a reset
        is never more than ten years away (see http/delays.py).
        """
        remaining_names = (self.remaining_header,) if self.remaining_header else REMAINING_HEADERS
        reset_names = (self.reset_header,) if self.reset_header else RESET_HEADERS
        remaining, name = _first_number(headers, remaining_names)
        reset_text = next((headers[n] for n in reset_names if headers.get(n)), None)
        reset = self.reset_seconds(reset_text) if reset_text is not None else None
        if remaining is None and not self.remaining_header:
            combined = headers.get(COMBINED_HEADER)
            if combined:
                parts: dict[str, float] = {}
                for key, text in _COMBINED_PART.findall(combined):
                    value = delays.number(text)
                    if value is not None:
                        parts.setdefault(key.lower(), value)
                remaining = parts.get("remaining", parts.get("r"))
                if reset is None:
                    reset = delays.bounded(parts.get("reset", parts.get("t")))
                name = COMBINED_HEADER
        return remaining, reset, name

    def reset_seconds(self, value: str) -> float | None:
        """Seconds from now until `value` (a reset header), in [0, ten years]; None if unreadable."""
        kind = self.reset_format
        number = delays.number(value)
        if number is None or kind == "http_date":
            return delays.until_http_date(value)
        if kind == "epoch_ms" or (kind == "auto" and number >= _EPOCH_MS):
            return delays.until_epoch(number / 1000)
        if kind == "epoch" or (kind == "auto" and number >= _EPOCH):
            return delays.until_epoch(number)
        return delays.bounded(number)


def _first_number(headers: Mapping[str, str], names: t.Iterable[str]) -> tuple[float | None, str]:
    for name in names:
        value = headers.get(name)
        if value:
            # "100, 100;w=60" (some APIs list several windows): the first is the tightest here.
            number = delays.number(value.split(",")[0].split(";")[0])
            if number is not None:
                return number, name
    return None, ""


class RateLimitGate:
    """Holds every thread's requests until the budget resets; one gate per tap.

    `observe` reads each response's headers; once the remaining budget is at or below
    `min_remaining`, `acquire` (called before each request) sleeps until the reset. A
    reset further away than `max_wait` seconds raises QuotaExhausted instead.
    """

    def __init__(self, settings: RateLimitSettings, max_wait: float) -> None:
        self.settings = settings
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._until = 0.0  # monotonic time the budget resets, while exhausted
        self._why = ""
        self._announced = 0.0
        self.waits = 0

    def observe(self, headers: Mapping[str, str]) -> bool:
        """Note the budget a response reports; True when it is exhausted."""
        if not self.settings.enabled:
            return False
        remaining, reset, name = self.settings.read(headers)
        if remaining is None or remaining > self.settings.min_remaining:
            return False
        if reset is None:
            return True  # no reset given: the built-in 429 handling takes over
        self.hold(reset, f"{name}: {remaining:g}")
        return True

    def hold(self, seconds: float, why: str) -> None:
        """Hold every request for `seconds` (the API said its quota resets then)."""
        until = time.monotonic() + seconds
        with self._lock:
            if until > self._until:
                self._until, self._why = until, why

    def acquire(self) -> None:
        """Wait for the budget to reset if it is used up; raise QuotaExhausted if that is too long."""
        with self._lock:
            wait = self._until - time.monotonic()
            why = self._why
            announce = wait > 0 and self._announced != self._until
            if announce:
                self._announced = self._until
                self.waits += 1
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise QuotaExhausted(why, wait, self.max_wait)
        if announce:
            logger.info("rate limit reached (%s): waiting %.1fs for the budget to reset", why, wait)
        interrupt.wait(wait)

"""Retry-After and rate-limit headers are untrusted text: typed, range-checked, never a traceback.

`X-RateLimit-Reset: 9e11`, `RateLimit-Reset: 1e20` and `Retry-After: 1e20` raised
OverflowError; `RateLimit: reset=1.2.3` raised ValueError. A delay is now a finite
number of seconds in [0, ten years] or unreadable (ignored); a wait longer than
max_retry_after_seconds is a quota stop.
"""

from __future__ import annotations

import math
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.http import delays
from tap_restoauth.http.ratelimit import RateLimitGate, RateLimitSettings
from tap_restoauth.http.retry import RetryAfterTooLong, RetryPolicy, parse_retry_after
from tests.helpers import run_tap
from tests.request_server import Reply, Request, RequestServer

TEN_YEARS = delays.MAX_DELAY_SECONDS


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1e20", TEN_YEARS),
        ("1e400", None),
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_a_bounded_number_of_seconds_or_none(value, seconds):
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9e11"},
        {"RateLimit-Remaining": "0", "RateLimit-Reset": "1e20"},
        {"RateLimit": "limit=100, remaining=0, reset=1e300"},
    ],
)
def test_a_reset_centuries_away_is_ten_years_and_a_quota_stop(headers):
    gate = RateLimitGate(RateLimitSettings(), max_wait=300)
    assert gate.observe(headers)
    assert RateLimitSettings().read(headers)[1] == pytest.approx(TEN_YEARS, abs=5)
    with pytest.raises(TapRestOAuthError, match=r"quota exhausted.*later than max_retry_after_seconds"):
        gate.acquire()


@pytest.mark.parametrize(
    "combined",
    ["remaining=0, reset=1.2.3", "remaining=0, reset=nan", "remaining=nan, reset=30", "r=;t=--1"],
)
def test_an_unreadable_combined_header_is_ignored(combined):
    remaining, reset, _ = RateLimitSettings().read({"RateLimit": combined})
    assert remaining in (0.0, None)
    assert reset is None or reset == 30.0


def test_draft_combined_headers_still_read():
    assert RateLimitSettings().read({"RateLimit": '"default";r=0;t=30'})[:2] == (0.0, 30.0)
    assert RateLimitSettings().read({"RateLimit": "limit=100, remaining=0, reset=30"})[:2] == (0.0, 30.0)


def test_retry_after_beyond_the_limit_stops_instead_of_retrying():
    class Answer:
        headers: t.ClassVar[dict[str, str]] = {"Retry-After": "1e20"}

    with pytest.raises(RetryAfterTooLong, match="315360000s"):
        RetryPolicy(max_retry_after_seconds=300).wait_seconds(0, Answer())  # type: ignore[arg-type]


# --- the real tap, one line each ---------------------------------------------------------

HEADERS = {
    "x-reset-9e11": (200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9e11"}),
    "ratelimit-reset-1e20": (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "1e20"}),
    "retry-after-1e20": (429, {"Retry-After": "1e20"}),
    "combined-1.2.3": (200, {"RateLimit": "remaining=0, reset=1.2.3"}),
}


def answer(request: Request) -> Reply:
    status, headers = HEADERS[request.query["case"]]
    return status, {"data": [{"id": 1}]}, headers


@pytest.fixture(scope="module")
def server() -> t.Iterator[RequestServer]:
    running = RequestServer({"/items": answer}).start()
    yield running
    running.stop()


@pytest.mark.parametrize("case", list(HEADERS))
def test_hostile_wait_headers_end_the_run_in_one_line(server, tmp_path, case):
    """Two streams on the same API: the first answer's headers decide what the second does."""
    streams = [
        {
            "name": name,
            "path": "/items",
            "params": {"case": case},
            "records_path": "$.data[*]",
            "schema": {"properties": {"id": {"type": "integer"}}},
        }
        for name in ("first", "second")
    ]
    run = run_tap(tmp_path, {"api_url": server.url, "max_retries": 1, "streams": streams}, timeout=60)
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "Error" not in run.stderr.replace("tap-restoauth: error", ""), run.stderr[-2000:]
    if case == "combined-1.2.3":  # no readable reset: the run goes on
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.counts() == {"first": 1, "second": 1}
        return
    lines = [line for line in run.stderr.splitlines() if line.startswith("tap-restoauth: ")]
    assert len(lines) == 1, run.stderr[-2000:]
    assert "quota exhausted" in lines[0] and "max_retry_after_seconds" in lines[0]
    assert run.returncode == 0  # a quota stop ends the run early, resumably


# --- property tests --------------------------------------------------------------------

HEADER_TEXT = st.one_of(
    st.text(max_size=60),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(), st.integers()),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def _is_delay(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and 0.0 <= value <= TEN_YEARS)


@settings(derandomize=True, max_examples=200, deadline=1000)
@given(HEADER_TEXT)
def test_retry_after_parses_any_text(text):
    assert _is_delay(parse_retry_after(text))


@settings(derandomize=True, max_examples=200, deadline=1000)
@given(
    remaining=HEADER_TEXT,
    reset=HEADER_TEXT,
    combined=st.lists(
        st.tuples(st.sampled_from(["remaining", "reset", "r", "t", "limit"]), HEADER_TEXT), max_size=4
    ).map(lambda parts: ", ".join(f"{k}={v}" for k, v in parts)),
    reset_format=st.sampled_from(["auto", "epoch", "epoch_ms", "seconds", "http_date"]),
)
def test_rate_limit_headers_parse_any_text(remaining, reset, combined, reset_format):
    rate = RateLimitSettings(reset_format=reset_format)
    for headers in (
        {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset},
        {"RateLimit": combined},
    ):
        left, seconds, _ = rate.read(headers)
        assert left is None or math.isfinite(left)
        assert _is_delay(seconds)
        gate = RateLimitGate(rate, max_wait=0.0)
        try:
            if gate.observe(headers):
                gate.acquire()
        except TapRestOAuthError:
            pass  # a quota stop: one of the tap's own errors

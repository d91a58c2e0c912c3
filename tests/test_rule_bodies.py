"""Response rules read a streamed body through the same capped, deadline-bound reader as pages.

A `format: jsonl` download is streamed; a rule with `contains` or `body_path` reads
its body when it is JSON or an error. That read used `response.text`: 1 GB from a
1 MB gzip bomb with `max_response_mb: 20` (MemoryError on a small machine), and a
body trickling one byte a second was read past `request_deadline_seconds`.
"""

from __future__ import annotations

import contextlib
import typing as t
import zlib

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.http import limits
from tap_restoauth.http.rules import ResponseBody, parse_rules
from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.hostile_server import HostileServer
from tests.test_hostile_bodies import assert_one_error, config_for, run

RULES = [{"contains": "rate limit", "action": "retry"}]


@pytest.fixture(scope="module")
def server() -> t.Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


def test_a_rule_reading_a_gzip_bomb_stops_at_max_response_mb(server, tmp_path):
    stream = {"path": "/bomb", "format": "jsonl", "response_rules": RULES}
    outcome = run(tmp_path, config_for(server, stream, max_response_mb=20), memory=True)
    assert_one_error(outcome, f"GET {server.url}/bomb", "passed max_response_mb (20 MB, after decompression)")
    assert outcome.peak_rss_mb < 200, outcome.peak_rss_mb


def test_a_rule_reading_a_trickling_body_stops_at_the_deadline(server, tmp_path):
    stream = {"path": "/trickle", "format": "jsonl", "response_rules": RULES}
    outcome = run(tmp_path, config_for(server, stream, request_deadline_seconds=2))
    assert_one_error(outcome, f"GET {server.url}/trickle", "within request_deadline_seconds (2s")


# --- property test: any body, any status, the rules see it through the reader -------------


class _BodyHandler(JsonHandler):
    """Sends `server.next` (status, body, gzip or not) chunked: no Content-Length to refuse early."""

    server: BodyServer

    def do_GET(self) -> None:
        status, body, gzipped = self.server.next
        if gzipped:
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)
            body = packer.compress(body) + packer.flush()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stopped reading at the cap
            for start in range(0, len(body), 1024):
                piece = body[start : start + 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")


class BodyServer(LocalServer):
    def __init__(self) -> None:
        super().__init__(_BodyHandler)
        self.next: tuple[int, bytes, bool] = (200, b"", False)


@pytest.fixture(scope="module")
def bodies() -> t.Iterator[BodyServer]:
    running = BodyServer().start()
    yield running
    running.stop()


RULE_SET = parse_rules(
    [
        {"status": 200, "body_path": "$.error.code", "equals": "limited", "action": "retry"},
        {"contains": "quota", "action": "stop"},
        {"body_path": "$.errors[0].message", "action": "fail"},
    ],
    "response_rules",
)


@settings(
    derandomize=True,
    max_examples=100,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.binary(max_size=6000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=30,
        ).map(lambda value: repr(value).encode()),
        st.integers(min_value=190, max_value=5000).map(lambda n: b'{"error": ' + b"[" * n + b"]" * n + b"}"),
    ),
    status=st.sampled_from([200, 400, 429, 503]),
    gzipped=st.booleans(),
)
def test_rules_read_any_body_within_the_limits(bodies, body, status, gzipped):
    """Arbitrary bytes (and deep JSON, gzip or not) as a streamed body: a rule matches or not, or
    the reader stops it with the tap's own error; nothing else escapes, and no more than the cap
    (4 kB here, after decompression) is ever kept."""
    bodies.next = (status, body, gzipped)
    with requests.Session() as session:
        limits.install(session, limits.ResponseLimits(max_bytes=4096, deadline_seconds=5))
        with session.get(f"{bodies.url}/body", stream=True, timeout=5) as response:
            view = ResponseBody(response)
            try:
                RULE_SET.match(status, view)
                for rule in RULE_SET.rules:
                    rule.message(view)
            except TapRestOAuthError as exc:
                assert isinstance(exc, limits.ResponseTooLarge), exc
                assert len(body) > 4096
            else:
                assert len(body) <= 4096
                assert response.content == body

"""Secrets are masked by value in every encoding, in every log line (DEBUG included) and error.

The tap runs as a subprocess at DEBUG level (urllib3 then logs every request line
with its query string) against a real local API and token endpoint that misbehave in
the ways that used to leak: retries and a final error on a URL carrying an API key
with `+`, `/` and `=`, an API echoing back what it received, a token endpoint echoing
its form body, a token with CR/LF. Every credential is searched for raw, URL-encoded
(both ways, either hex case), JSON-escaped, repr-escaped and as a base64 Basic pair.
"""

from __future__ import annotations

import json
import typing as t
from urllib.parse import quote

import pytest

from tap_restoauth.http import redaction
from tests.helpers import TapRun, run_tap
from tests.origin_servers import (
    API_KEY,
    PARAM_SECRET,
    OriginServer,
    Reply,
    Seen,
    leaks,
    tap_config,
    token_route,
)

DEBUG = {"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}
# Characters a JSON or repr form escapes, so those forms differ from the raw value.
QUOTED_SECRET = 'QS"tenant\\secret+/=='


@pytest.fixture
def api() -> t.Iterator[OriginServer]:
    server = OriginServer().start()
    yield server
    server.stop()


def debug_run(tmp_path: t.Any, config: dict[str, t.Any]) -> TapRun:
    run = run_tap(tmp_path, {**config, "backoff_factor": 0.01, "backoff_max_seconds": 0.02}, env=DEBUG)
    assert " | DEBUG " in run.stderr  # debug logging really was on
    return run


def only_error(run: TapRun) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    return lines[0]


def assert_no_leak(run: TapRun, *extra: str) -> None:
    text = run.stdout + run.stderr + json.dumps(run.states)
    found = leaks(text, extra)
    assert not found, f"{len(found)} secret form(s) in the output: {found}"


def test_query_api_key_with_reserved_characters_is_masked_in_debug_retries_and_error(api, tmp_path):
    api.route("/items", Reply(503, {"error": "busy"}))
    config = tap_config(api, "api_key_query", {}, max_retries=2)
    run = debug_run(tmp_path, config)

    line = only_error(run)
    assert "failed after 3 attempts: HTTP 503" in line
    assert "api_key=***" in line and "access_key=***" in line
    requests_logged = [entry for entry in run.stderr.splitlines() if '"GET /items?' in entry]
    assert len(requests_logged) == 3 and all("api_key=***" in entry for entry in requests_logged)
    assert len([entry for entry in run.stderr.splitlines() if "; retry " in entry]) == 2
    assert api.hits("/items")[0].query["api_key"] == API_KEY  # the key really went out encoded
    assert_no_leak(run)


def test_secret_params_and_secret_headers_are_masked_when_echoed(api, tmp_path):
    def echo(seen: Seen) -> Reply:
        echoed = {"tenant": seen.headers.get("x-tenant-secret"), "query": seen.raw.split(" ")[1]}
        return Reply(400, {"error": "bad request", "you_sent": echoed})

    api.route("/items", echo)
    config = tap_config(api, "bearer", {})
    config["headers"] = {"X-Tenant-Secret": QUOTED_SECRET}
    config["secret_headers"] = ["x-tenant-secret"]  # names match in any case
    run = debug_run(tmp_path, config)

    line = only_error(run)
    assert "HTTP 400" in line and '"tenant": "***"' in line and "access_key=***" in line
    assert api.hits("/items")[0].query["access_key"] == PARAM_SECRET
    assert_no_leak(run, QUOTED_SECRET)


@pytest.mark.parametrize("shape", ["text", "oauth_error"])
def test_token_endpoint_echoing_its_form_body_leaks_nothing(api, tmp_path, shape):
    def echo(seen: Seen) -> Reply:
        # grant_type=refresh_token&refresh_token=RT%2B...&client_id=...&client_secret=CS%2B...
        form_body = seen.body.decode()
        if shape == "text":
            return Reply(400, form_body.encode())
        return Reply(400, {"error": "invalid_request", "error_description": f"bad request: {form_body}"})

    api.route("/oauth/token", echo)
    run = debug_run(tmp_path, tap_config(api, "oauth2_refresh_token", {}))

    line = only_error(run)
    assert "refresh_token=***" in line and "client_secret=***" in line
    assert "%2B" not in line
    assert_no_leak(run)


CRLF_TOKEN = "AT-crlf-token\r\nX-Injected: yes"


def test_access_token_with_crlf_is_refused_without_printing_it(api, tmp_path):
    api.route("/oauth/token", token_route(access_token=CRLF_TOKEN))
    api.route("/items", Reply(200, {"data": [{"id": 1}]}))
    run = debug_run(tmp_path, tap_config(api, "oauth2_client_credentials", {}))

    line = only_error(run)
    assert f"the token endpoint {api.url}/oauth/token returned access_token with control characters" in line
    assert "X-Injected" not in run.stdout + run.stderr
    assert not api.hits("/items")
    assert_no_leak(run, CRLF_TOKEN)


def test_configured_token_with_crlf_is_a_config_error_without_printing_it(api, tmp_path):
    config = tap_config(api, "bearer", {})
    config["auth"]["token"] = CRLF_TOKEN
    run = run_tap(tmp_path, config)

    line = only_error(run)
    assert "auth.token contains control characters" in line and "not shown" in line
    assert "X-Injected" not in run.stdout + run.stderr
    assert not api.hits()
    assert_no_leak(run, CRLF_TOKEN)


def test_excerpt_of_a_body_full_of_secrets_shows_no_part_of_any():
    long_secret = "LS+" + "x" * 60 + "/end=="
    for value in ("short-secret-1", long_secret):
        redaction.register(value)
    body = " ".join(["short-secret-1"] * 60 + [quote(long_secret, safe="")] * 5)
    shown = redaction.excerpt(body)
    assert shown.startswith("*** ***") and shown.endswith("...")
    assert "short-" not in shown and "xxxx" not in shown and "LS%2B" not in shown


SPACED_SECRET = "CS with space/secret=="  # form-encoded (`quote_plus`) it is CS+with+space%2Fsecret%3D%3D


def test_a_secret_with_a_space_is_masked_in_its_form_encoding(api, tmp_path):
    api.route("/oauth/token", lambda seen: Reply(400, seen.body))  # echoes the form body as text
    config = tap_config(api, "oauth2_refresh_token", {})
    config["auth"]["client_secret"] = SPACED_SECRET
    run = debug_run(tmp_path, config)

    line = only_error(run)
    assert "client_secret=***" in line
    assert b"client_secret=CS+with+space" in api.hits("/oauth/token")[0].body  # it went out form-encoded
    assert_no_leak(run, SPACED_SECRET)

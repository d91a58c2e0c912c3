"""OAuth 2.0 token lifecycle against a real Authlib server: the run never drops, secrets never leak."""

from __future__ import annotations

import math
import stat
import time
import typing as t

import pytest
import requests

from tap_restoauth.auth.methods import HttpContext, OAuth2ClientCredentials, OAuth2RefreshToken
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.token_store import FileTokenStore
from tap_restoauth.errors import AuthError
from tap_restoauth.http.retry import RetryPolicy
from tests.helpers import TapRun, run_tap
from tests.oauth_server import Fault, OAuthServer

AUDIENCE = "https://api.example.test"


@pytest.fixture
def make_server() -> t.Iterator[t.Callable[..., OAuthServer]]:
    servers: list[OAuthServer] = []

    def make(**kwargs: t.Any) -> OAuthServer:
        server = OAuthServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def assert_complete(run: TapRun, server: OAuthServer) -> None:
    """Exit 0 and every record of every dataset exactly once."""
    assert run.returncode == 0, run.stderr
    for dataset in server.datasets:
        assert [r["id"] for r in run.records(dataset)] == [r["id"] for r in server.records(dataset)]


def only_error(run: TapRun) -> str:
    """The single error line of a failed run (no traceback)."""
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    (line,) = run.error_lines()
    return line


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_token_request_carries_credentials_and_parameters(make_server, tmp_path, method):
    server = make_server(auth_method=method, scopes=["read", "write", "admin"], audience=AUDIENCE)
    auth = server.client_credentials_auth(
        scopes=["read", "write"],
        audience=AUDIENCE,
        resource="https://api.example.test/v1",
        token_params={"tenant": "acme"},
        token_headers={"X-Request-Source": "tap"},
    )
    if method == "client_secret_basic":
        del auth["client_auth_method"]  # the default
    run = run_tap(tmp_path, server.tap_config(auth, concurrency=3))

    assert_complete(run, server)
    (request,) = server.token_requests  # one token for both streams and all threads
    assert request.auth_method == method
    assert request.scope == "read write"
    assert request.form["audience"] == AUDIENCE
    assert request.form["resource"] == "https://api.example.test/v1"
    assert request.form["tenant"] == "acme"
    assert request.headers["X-Request-Source"] == "tap"
    assert not server.api_rejections


def test_token_renewed_early_over_a_sync_longer_than_its_lifetime(make_server, tmp_path):
    server = make_server(token_ttl=2, api_delay=0.2, datasets={"items": 150, "orders": 90})
    started = time.monotonic()
    run = run_tap(tmp_path, server.tap_config(server.client_credentials_auth(), concurrency=3))
    elapsed = time.monotonic() - started

    assert_complete(run, server)
    assert not server.api_rejections  # renewed before expiry: not a single 401
    # Renewed about once per second (half the 2 s lifetime), never per request or per thread.
    assert 2 <= server.tokens_issued() <= math.ceil(elapsed) + 1 < server.api_requests


def test_failed_early_renewal_keeps_the_current_token_until_it_expires(make_server, tmp_path):
    server = make_server(token_ttl=4, api_delay=0.2, datasets={"items": 150, "orders": 60})
    server.fail_token_requests(Fault.ok(), Fault.http(503), Fault.http(503))  # the first renewal fails
    run = run_tap(tmp_path, server.tap_config(server.client_credentials_auth(), max_retries=1))

    assert_complete(run, server)
    assert not server.api_rejections  # the old token was still good, and renewed before expiry
    assert server.token_attempts() == server.tokens_issued() + 2
    assert "Could not renew the access token early" in run.stderr


def test_revoked_token_is_renewed_once_and_the_request_retried(make_server, tmp_path):
    server = make_server(token_ttl=None)  # no expires_in: the token is reused until a 401
    server.revoke_access_tokens_after(api_requests=1)  # after page 1; pages 2-4 go out together
    server.answer_rejections_together(3)  # three threads holding the same revoked token
    run = run_tap(tmp_path, server.tap_config(server.client_credentials_auth(), concurrency=3))

    assert_complete(run, server)
    assert server.api_rejections["revoked"] == 3
    assert server.tokens_issued() == 2  # the three concurrent 401s share one renewal
    assert "requesting a new access token" in run.stderr


def test_fresh_token_rejected_is_one_fatal_line(make_server, tmp_path):
    server = make_server(audience=AUDIENCE)  # tokens without this audience are refused
    run = run_tap(tmp_path, server.tap_config(server.client_credentials_auth()))

    line = only_error(run)
    assert "rejected a freshly issued token" in line
    assert "issued for another audience" in line  # the API's own reason
    assert line.endswith("check auth.scopes and auth.audience")
    assert server.tokens_issued() == 2
    assert server.api_rejections["audience"] == 2
    assert not any(m["type"] in {"RECORD", "STATE"} for m in run.messages)


def test_rotated_refresh_token_saved_to_file_across_runs(make_server, tmp_path):
    server = make_server()
    first_token = server.issue_refresh_token()
    token_file = tmp_path / "secrets" / "refresh_token"
    token_file.parent.mkdir()
    token_file.write_text(first_token + "\n")
    token_file.chmod(0o644)
    auth = server.refresh_token_auth(refresh_token_file=str(token_file))

    first = run_tap(tmp_path / "run1", server.tap_config(auth))
    assert_complete(first, server)
    (second_token,) = server.live_refresh_tokens()
    assert token_file.read_text().strip() == second_token != first_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"Saved the rotated refresh token to file {token_file}" in first.stderr

    reused = run_tap(
        tmp_path / "reuse", server.tap_config(server.refresh_token_auth(refresh_token=first_token))
    )
    line = only_error(reused)
    assert "invalid_grant" in line
    assert "consent again" in line

    second = run_tap(tmp_path / "run2", server.tap_config(auth))
    assert_complete(second, server)
    (third_token,) = server.live_refresh_tokens()
    assert token_file.read_text().strip() == third_token
    assert server.tokens_issued("refresh_token") == 2


def test_rotation_without_a_store_warns_without_the_token(make_server, tmp_path):
    server = make_server()
    auth = server.refresh_token_auth(refresh_token=server.issue_refresh_token())
    run = run_tap(tmp_path, server.tap_config(auth))

    assert_complete(run, server)
    warnings = [line for line in run.stderr.splitlines() if "no token store is configured" in line]
    assert len(warnings) == 1
    assert "WARNING" in warnings[0]
    (rotated,) = server.live_refresh_tokens()
    assert rotated not in run.stderr


def test_plain_http_token_url_off_loopback_is_refused(make_server, tmp_path):
    server = make_server()
    auth = server.client_credentials_auth(token_url="http://auth.example.test/oauth/token")
    run = run_tap(tmp_path, server.tap_config(auth))

    line = only_error(run)
    assert "auth.token_url" in line
    assert "allow_insecure_token_url" in line
    assert not server.token_requests and not server.api_requests
    allowed = OAuth2ClientCredentials(
        token_url="http://auth.example.test/oauth/token",
        client_id="id",
        client_secret="secret",
        allow_insecure_token_url=True,
    )
    assert allowed.token_url.startswith("http://")


def _register_for_basic(server: OAuthServer) -> dict[str, t.Any]:
    return server.client_credentials_auth(client_auth_method="client_secret_post")


def _unknown_scope(server: OAuthServer) -> dict[str, t.Any]:
    return server.client_credentials_auth(scopes=["read", "admin"])


def _no_client_credentials_grant(server: OAuthServer) -> dict[str, t.Any]:
    server.clients[server.client_id].grant_types = ("refresh_token",)
    return server.client_credentials_auth()


def _html_500_every_time(server: OAuthServer) -> dict[str, t.Any]:
    server.fail_token_requests(*[Fault.html(500)] * 3)
    return server.client_credentials_auth()


@pytest.mark.parametrize(
    ("arrange", "expected", "attempts"),
    [
        pytest.param(
            _register_for_basic,
            [
                "HTTP 401 invalid_client",
                "check auth.client_id, auth.client_secret and auth.client_auth_method",
            ],
            1,
            id="invalid_client",
        ),
        pytest.param(
            _unknown_scope,
            ["HTTP 400 invalid_scope", "check auth.scopes"],
            1,
            id="invalid_scope",
        ),
        pytest.param(
            _no_client_credentials_grant,
            ["HTTP 400 unauthorized_client", "not allowed to use this grant type"],
            1,
            id="unauthorized_client",
        ),
        pytest.param(
            _html_500_every_time,
            [
                "failed after 3 attempts: HTTP 500 (text/html; charset=utf-8, not JSON): "
                "500 Internal Server Error Internal Server Error The server encountered"
            ],
            3,
            id="html_500_after_retries",
        ),
    ],
)
def test_token_endpoint_error_is_one_line(make_server, tmp_path, arrange, expected, attempts):
    server = make_server(scopes=["read", "write"])
    run = run_tap(tmp_path, server.tap_config(arrange(server), max_retries=2))

    line = only_error(run)
    for fragment in expected:
        assert fragment in line
    assert "<" not in line
    assert len(line) < 400
    assert server.token_attempts() == attempts
    assert not server.api_requests


def test_transient_token_endpoint_failures_are_retried(make_server, tmp_path):
    server = make_server()
    server.fail_token_requests(
        Fault.http(503), Fault.http(429, retry_after=0), Fault.slow(2), Fault.dropped()
    )
    run = run_tap(tmp_path, server.tap_config(server.client_credentials_auth(), timeout=1))

    assert_complete(run, server)
    assert server.token_attempts() == 5
    for retry in ("HTTP 503; retry 1/5", "HTTP 429; retry 2/5", "read timed out; retry 3/5", "; retry 4/5"):
        assert retry in run.stderr


def test_debug_logs_never_contain_secrets_or_tokens(make_server, tmp_path):
    server = make_server(auth_method="client_secret_post", token_ttl=2, api_delay=0.3)
    token_file = tmp_path / "refresh_token"
    token_file.write_text(server.issue_refresh_token())
    server.revoke_access_tokens_after(api_requests=3)
    auth = server.refresh_token_auth(refresh_token_file=str(token_file))
    debug = {"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}
    good = run_tap(tmp_path / "good", server.tap_config(auth), env=debug)
    assert_complete(good, server)
    assert server.tokens_issued("refresh_token") >= 3  # early renewal, 401 renewal, rotations
    assert " | DEBUG " in good.stderr  # debug logging really was on

    # A token endpoint that echoes the credentials it received in its error description.
    echoed = f"client_secret={server.client_secret} refresh_token={token_file.read_text().strip()}"
    server.fail_token_requests(Fault.oauth("invalid_request", echoed))
    bad = run_tap(tmp_path / "bad", server.tap_config(auth), env=debug)
    line = only_error(bad)
    assert "invalid_request (client_secret=*** refresh_token=***)" in line

    secrets = server.secret_values()
    assert len(secrets) >= 8
    for run in (good, bad):
        output = run.stdout + run.stderr
        leaked = sorted(s for s in secrets if s in output)
        assert not leaked, f"{len(leaked)} secret value(s) in the tap's output"


def test_rotated_token_that_cannot_be_saved_is_one_clear_error(make_server, tmp_path):
    server = make_server()
    auth = build_auth(server.refresh_token_auth(refresh_token=server.issue_refresh_token()))
    assert isinstance(auth, OAuth2RefreshToken)
    auth.bind(HttpContext(requests.Session(), timeout=5, retry=RetryPolicy(max_retries=0)))
    (tmp_path / "not-a-directory").write_text("")
    auth.add_store(FileTokenStore(str(tmp_path / "not-a-directory" / "refresh_token")))

    with pytest.raises(AuthError) as raised:
        auth(requests.Request("GET", server.api_url + "/v1/items").prepare())
    message = str(raised.value)
    assert message == (
        "the provider's new refresh token could not be saved to "
        f"{tmp_path / 'not-a-directory' / 'refresh_token'}: File exists"
    )
    assert not any(secret in message for secret in server.secret_values())

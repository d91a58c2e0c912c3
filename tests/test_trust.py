"""Issue 18's findings, each reproduced against a small local server: secrets never printed or
audited, one line instead of a traceback, bounds that hold, a hardened shared token store.

Subprocess runs only where the exit line matters; the rest drives the tap's parts in-process
against the same real servers (tests/origin_servers.py, tests/secret_manager_stub.py).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
import typing as t

import pytest
import requests

from tap_restoauth.auth.lease import EXPIRES_KEY, HOLDER_KEY, SecretManagerLease, share_tokens
from tap_restoauth.auth.methods import HttpContext, OAuth2ClientCredentials, TokenEndpointError
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.secret_manager import SecretManager, SecretSettings, parse_reference, resolve_config
from tap_restoauth.auth.token_response import MAX_LIFETIME_SECONDS
from tap_restoauth.auth.token_store import FileTokenStore, StoredToken
from tap_restoauth.errors import ApiError, ConfigError, SecretError
from tap_restoauth.fetch import templates
from tap_restoauth.http import redaction
from tap_restoauth.http.retry import RetryPolicy
from tap_restoauth.tap import TapRestOAuth
from tests.helpers import TapRun, run_tap
from tests.oauth_server import OAuthServer
from tests.origin_servers import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    OriginServer,
    Reply,
    Seen,
    leaks,
    tap_config,
    token_route,
)
from tests.secret_manager_stub import SecretManagerStub

PROJECT = "acme-data"


@pytest.fixture
def api() -> t.Iterator[OriginServer]:
    server = OriginServer().start()
    yield server
    server.stop()


def only_error(run: TapRun) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    return lines[0]


def token_auth(api: OriginServer, **extra: t.Any) -> OAuth2ClientCredentials:
    """A client-credentials auth bound to a session, as the tap builds it."""
    auth = build_auth(
        {
            "type": "oauth2_client_credentials",
            "token_url": f"{api.url}/oauth/token",
            "client_id": "origin-client",
            "client_secret": CLIENT_SECRET,
            **extra,
        }
    )
    assert isinstance(auth, OAuth2ClientCredentials)
    auth.bind(HttpContext(requests.Session(), 5, RetryPolicy(max_retries=0)))
    return auth


# 1. Secrets printed or stored -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token":"' + ACCESS_TOKEN.encode() + b'","name":"Jos\xe9"}',  # Latin-1, not UTF-8
        b'{"access_token":"' + ACCESS_TOKEN.encode() + b'","expires_in":1e400}',  # out of range
    ],
    ids=["latin1", "1e400"],
)
def test_a_token_response_the_tap_cannot_read_is_not_shown_nor_audited(api, tmp_path, body):
    api.route("/oauth/token", Reply(200, body))
    run = run_tap(tmp_path, tap_config(api, "oauth2_client_credentials", {}, audit=True))

    line = only_error(run)
    assert "HTTP 200 but the body is not a JSON object the tap can read" in line
    assert "content is not shown" in line
    (audit,) = run.records("_audit")
    assert audit["outcome"] == "failed" and "HTTP 200" in audit["error"]
    assert not leaks(run.stdout + run.stderr)


def test_an_error_text_cannot_forge_a_line_nor_grow_past_the_cap(api, tmp_path):
    error = "invalid_client\ntap-restoauth: error: forged\r\n" + "x" * 1_000_000
    api.route("/oauth/token", Reply(401, {"error": error}))
    run = run_tap(tmp_path, tap_config(api, "oauth2_client_credentials", {}))

    line = only_error(run)
    assert line.startswith("tap-restoauth: error: token request to")
    assert "invalid_client tap-restoauth: error: forged" in line  # on the same line
    assert len(line) < 600 and line.endswith("more characters cut]")


def test_config_validation_names_the_setting_and_type_never_the_value():
    base = {"api_url": "http://127.0.0.1:9", "streams": [{"name": "a", "path": "/a", "schema": {}}]}
    auth = {"type": "oauth2_client_credentials", "token_url": "http://127.0.0.1:9/t", "client_id": "c"}
    pem_lines = [
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "-----END PRIVATE KEY-----",
    ]
    cases = [
        ({**auth, "client_secret": 987654321987654321}, "auth.client_secret: expected a string", "987654321"),
        (
            {**auth, "client_auth_method": "private_key_jwt", "private_key": pem_lines},
            "auth.private_key",
            "MIIE",
        ),
    ]
    for bad, expected, value in cases:
        with pytest.raises(ConfigError) as failure:
            TapRestOAuth(config={**base, "auth": bad}, parse_env_config=False)
        message = str(failure.value)
        assert expected in message and value not in message and "BEGIN" not in message


def test_an_object_valued_config_placeholder_is_refused_at_start_up():
    config = {
        "api_url": "http://127.0.0.1:9",
        "auth": {"type": "bearer", "token": "BT+bear3r/token=="},
        "streams": [{"name": "a", "path": "/a", "headers": {"X-Auth": "{config.auth}"}, "schema": {}}],
    }
    with pytest.raises(ConfigError) as failure:
        TapRestOAuth(config=config, parse_env_config=False)
    assert "{config.auth} is an object" in str(failure.value)
    assert "bear3r" not in str(failure.value)


def test_a_credential_placed_by_a_template_goes_only_to_the_api_origin():
    stream = {"name": "a", "path": "https://elsewhere.example/a", "schema": {}}
    config = {"api_url": "http://127.0.0.1:9", "tenant_secret": "TS+tenant/secret==", "streams": [stream]}
    stream["headers"] = {"X-Tenant": "{config.tenant_secret}"}
    with pytest.raises(ConfigError) as failure:
        TapRestOAuth(config=config, parse_env_config=False)
    assert "would carry the credential of {config.tenant_secret}" in str(failure.value)
    stream["path"] = "http://127.0.0.1:9/a"  # the API's own origin: allowed
    stream["headers"] = {"X-Tenant": "{config.tenant_secret}"}
    TapRestOAuth(config=config, parse_env_config=False)


# 2. Tracebacks instead of one line --------------------------------------------------------------


def _header_template(text: str) -> t.Any:
    return templates.parse(text, "x", templates.Known(parent_fields={"name": "parent_name"}))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\r\nX-Injected: yes", "control characters"),
        ("nul\x00byte", "control characters"),
        ("東京", "outside Latin-1"),
        ("x" * 9000, "more than the 8192"),  # still too long when percent-encoded
    ],
    ids=["crlf", "nul", "non-latin1", "long"],
)
def test_a_value_placed_in_a_header_is_checked_after_substitution(value, problem):
    headers = {"X-Name": _header_template("{parent.name}")}
    with pytest.raises(ApiError) as failure:
        templates.render_headers(headers, templates.Values(context={"parent_name": value}), "kids")
    assert problem in str(failure.value) and value not in str(failure.value)
    if len(value) > templates.MAX_HEADER_VALUE:
        return
    encoded = templates.render_headers(
        {"X-Name": _header_template("{parent.name:url}")},
        templates.Values(context={"parent_name": value}),
        "k",
    )
    assert encoded["X-Name"].isascii() and "\n" not in encoded["X-Name"]


def test_a_parent_value_with_crlf_is_one_line_and_no_request(api, tmp_path):
    api.route("/users", Reply(200, {"data": [{"id": 1, "name": "ann\r\nX-Injected: yes"}]}))
    api.route("/notes", Reply(200, {"data": []}))
    config = tap_config(api, "bearer", {})
    config["streams"].append(
        {
            "name": "notes",
            "path": "/notes",
            "parent": "items",
            "parent_keys": {"user_id": "id"},
            "headers": {"X-User": "{parent.name}"},
            "records_path": "$.data[*]",
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }
    )
    config["streams"][0]["path"] = "/users"
    config["streams"][0]["schema"]["properties"]["name"] = {"type": "string"}
    run = run_tap(tmp_path, config)
    line = only_error(run)
    assert "notes: the value of header X-User has control characters" in line
    assert not api.hits("/notes") and "X-Injected" not in run.stderr


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"access_token": "tök€n-value", "expires_in": 60}, "outside Latin-1"),
        ({"access_token": "A" * 100_000, "expires_in": 60}, "more than the 65536"),
    ],
    ids=["non-latin1", "100kB"],
)
def test_an_unusable_access_token_is_one_line_without_its_value(api, body, problem):
    api.route("/oauth/token", Reply(200, body))
    auth = token_auth(api)
    with pytest.raises(TokenEndpointError) as failure:
        auth._valid_token()
    assert problem in str(failure.value) and "not shown" in str(failure.value)
    assert body["access_token"][:12] not in str(failure.value)


def test_expiries_that_are_not_finite_or_too_far_are_bounded(api):
    huge = b"1" + b"0" * 400  # 10**400: an OverflowError for float()
    api.route("/oauth/token", Reply(200, b'{"access_token":"AT-huge-expiry","expires_in":' + huge + b"}"))
    auth = token_auth(api, default_expires_in_seconds=120)
    assert auth._valid_token() == "AT-huge-expiry"
    assert auth._token is not None and auth._token.expires_at is not None
    assert auth._token.expires_at - time.monotonic() <= 120  # the default: 10**400 is no lifetime

    api.route("/oauth/token", Reply(200, {"access_token": "AT-far", "expires_at": "9999-12-31T00:00:00Z"}))
    far = token_auth(api, expires_at_path="expires_at")
    far._valid_token()
    assert far._token is not None and far._token.expires_at is not None
    assert far._token.expires_at - time.monotonic() <= MAX_LIFETIME_SECONDS


def test_a_bookmark_that_is_an_object_or_not_a_date_is_one_line(api, tmp_path):
    api.route("/items", Reply(200, {"data": [{"id": 1, "updated_at": "2024-01-02T00:00:00Z"}]}))
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}},
    }
    config = tap_config(api, "bearer", {"replication_key": "updated_at", "schema": schema})
    cases = [
        ({"$date": 1}, "a replication_key_value should be text or a number, got an object"),
        ("last tuesday", "items: the bookmark in STATE is not an ISO 8601 date-time"),
    ]
    for number, (bookmark, expected) in enumerate(cases):
        state = {"bookmarks": {"items": {"replication_key": "updated_at", "replication_key_value": bookmark}}}
        run = run_tap(tmp_path / str(number), config, state=state)
        assert expected in only_error(run)
    assert not api.hits("/items")


# 5. Shared token store --------------------------------------------------------------------------


def test_a_token_file_that_is_not_a_regular_file_is_one_line(tmp_path):
    fifo = tmp_path / "refresh_token"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(ConfigError) as failure:
            FileTokenStore(path).load_stored()
        assert "is not a regular file" in str(failure.value)


def test_a_token_file_others_can_read_is_made_private_with_a_warning(tmp_path, caplog):
    token_file = tmp_path / "refresh_token"
    token_file.write_text("RT-shared-file-token\n")
    token_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="tap_restoauth.auth.token_store"):
        assert FileTokenStore(str(token_file)).load() == "RT-shared-file-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "now has mode 600" in caplog.text


def test_stored_tokens_pass_the_checks_of_fresh_ones():
    stored = StoredToken.decode(
        json.dumps(
            {"refresh_token": "RT-ok-token", "access_token": "AT\r\nX-Injected: 1", "expires_at": 1e300}
        )
    )
    assert stored.access_token is None  # dropped: the next holder of the lease renews it
    assert stored.expires_at is not None and stored.expires_at <= time.time() + MAX_LIFETIME_SECONDS
    assert (
        StoredToken.decode(
            '{"refresh_token": "RT-ok", "access_token": "AT-ok", "expires_in": NaN}'
        ).expires_in
        is None
    )
    with pytest.raises(SecretError) as failure:
        StoredToken.decode("RT-with-newline\ninside")
    assert "control characters" in str(failure.value) and "inside" not in str(failure.value)
    with pytest.raises(SecretError):
        StoredToken.decode("[" * 100_000 + "]" * 100_000)  # too large to be a token store


@pytest.fixture
def stub() -> t.Iterator[SecretManagerStub]:
    server = SecretManagerStub().start()
    yield server
    server.stop()


@pytest.mark.parametrize("expires", ["99999999999", "nan", "inf", "soon"])
def test_a_lease_annotation_beyond_the_lease_or_not_a_number_is_expired(stub, expires):
    stub.put(PROJECT, "rt", "RT-lease-plain")
    stub.annotations[(PROJECT, "rt")] = {HOLDER_KEY: "gone-host/1/dead", EXPIRES_KEY: expires}
    manager = SecretManager(SecretSettings(endpoint=stub.endpoint))
    ref = parse_reference(f"sm://{PROJECT}/rt", "auth.refresh_token", None)
    lease = SecretManagerLease(manager, ref, lease_seconds=1)
    lease.wait = 0.5  # a lease that is not taken over at once would fail here
    assert lease.lease_end(expires, time.time()) is None
    with lease.hold() as stored:
        assert stored is not None and stored.refresh_token == "RT-lease-plain"
        assert stub.annotations[(PROJECT, "rt")][HOLDER_KEY] == lease.holder
    assert stub.annotations[(PROJECT, "rt")] == {}


class RivalRenewsAfterPeek:
    """A file lease whose first `peek` lets another process renew before this one takes the lease:
    the race the re-read under the lease exists for, forced every time."""

    def __init__(self, lease: t.Any, rival: t.Any) -> None:
        self.lease, self.rival = lease, rival
        self.description = lease.description

    def peek(self) -> StoredToken | None:
        seen = self.lease.peek()
        if self.rival is not None:
            rival, self.rival = self.rival, None
            rival._valid_token()  # renews and stores while we are between peek and hold
        return seen

    def hold(self) -> t.Any:
        return self.lease.hold()


def test_two_holders_contending_adopt_the_token_stored_under_the_lease(tmp_path):
    with OAuthServer(token_ttl=60) as server:
        token_file = tmp_path / "refresh_token"
        token_file.write_text(server.issue_refresh_token() + "\n")
        config = {"auth": server.refresh_token_auth(refresh_token_file=str(token_file))}
        first, second = (_process_auth(config) for _ in range(2))
        assert first.shared is not None
        first.shared.lease = RivalRenewsAfterPeek(first.shared.lease, second)

        assert first._valid_token() == second._valid_token()  # adopted under the lease
        assert server.tokens_issued("refresh_token") == 1
        assert not [r for r in server.token_requests if r.error]
        assert first.refresh_token == second.refresh_token == server.live_refresh_tokens()[0]


def _process_auth(config: dict[str, t.Any]) -> t.Any:
    resolved = resolve_config(config)
    auth = build_auth(resolved.config["auth"])
    resolved.attach_token_store(auth)
    share_tokens(auth, resolved, by_default=True)
    auth.bind(HttpContext(requests.Session(), 10, RetryPolicy(max_retries=0)))
    return auth


# 6. {token.FIELD} is real -----------------------------------------------------------------------


def test_a_token_response_extra_is_available_to_templates(api, tmp_path):
    def issue(seen: Seen) -> Reply:
        reply = token_route()(seen)
        if reply.status == 200:
            reply.body["instance_id"] = "eu-12"
        return reply

    api.route("/oauth/token", issue)
    api.route("/items", Reply(200, {"data": [{"id": 1}]}))
    config = tap_config(api, "oauth2_client_credentials", {"headers": {"X-Instance": "{token.instance_id}"}})
    config["auth"]["token_response_extras"] = ["instance_id"]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert api.hits("/items")[0].headers["x-instance"] == "eu-12"
    assert run.records("items") == [{"id": 1}]


# 4. Masking that scales -------------------------------------------------------------------------


def test_a_token_renewed_many_times_stays_masked_in_bounded_space():
    tokens = [f"AT-renewed-{n:04d}-" + os.urandom(2048).hex() for n in range(redaction.MAX_TOKENS + 120)]
    for token in tokens:
        redaction.register_token(token)
        assert redaction.clean(f"Bearer {token} sent") == "Bearer *** sent"
    assert len(redaction._tokens) == redaction.MAX_TOKENS  # the oldest superseded ones were let go
    assert redaction.is_secret(tokens[-redaction.MAX_TOKENS]) and not redaction.is_secret(tokens[0])

"""`sm://` references resolved from Secret Manager, and rotated refresh tokens written back.

The real google-cloud-secret-manager client talks to a local gRPC stand-in
(tests/secret_manager_stub.py) through `secrets.endpoint`; the tap runs as a subprocess.
"""

from __future__ import annotations

import base64
import signal
import typing as t
from urllib.parse import parse_qsl, quote_plus, urlsplit

import pytest
import requests

from tap_restoauth.auth.secret_manager import SecretManager, SecretSettings, parse_reference, resolve_config
from tap_restoauth.errors import SecretError
from tap_restoauth.sandbox import JsonHandler, LocalServer
from tap_restoauth.sync import interrupt
from tests.helpers import TapRun, run_tap, start_tap
from tests.oauth_server import OAuthServer
from tests.secret_manager_stub import PROJECT_NUMBER, SecretManagerStub

PROJECT = "acme-data"
API_TOKEN = "tok_9f8e7d6c5b4a"
TENANT = "tenant-4711"
SIGNING_V1 = "sig-first-7c1a"
SIGNING_V2 = "sig-second-2b9d"


class RecordingApi(LocalServer):
    """`GET /v1/things` answers two records and remembers each request's headers and query."""

    def __init__(self) -> None:
        super().__init__(_RecordingHandler)
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []


class _RecordingHandler(JsonHandler):
    server: RecordingApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.requests.append((dict(self.headers.items()), dict(parse_qsl(parts.query))))
        self.send_json(200 if parts.path == "/v1/things" else 404, {"data": [{"id": 1}, {"id": 2}]})


@pytest.fixture
def stub() -> t.Iterator[SecretManagerStub]:
    server = SecretManagerStub().start()
    yield server
    server.stop()


@pytest.fixture
def api() -> t.Iterator[RecordingApi]:
    server = RecordingApi().start()
    yield server
    server.stop()


def _things_stream(**extra: t.Any) -> dict[str, t.Any]:
    return {
        "name": "things",
        "path": "/v1/things",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        **extra,
    }


def _assert_never_printed(run: TapRun, values: t.Iterable[str]) -> None:
    output = run.stdout + run.stderr
    leaked = [value for value in values if value in output]
    assert not leaked, f"{len(leaked)} secret value(s) appear in the tap's output"


def _assert_one_error_line(run: TapRun, *fragments: str) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert not [m for m in run.messages if m["type"] in {"RECORD", "STATE"}]
    (line,) = run.error_lines()
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sm://acme-data/api-token", ("acme-data", "api-token", "latest")),
        ("sm://acme-data/api-token#3", ("acme-data", "api-token", "3")),
        ("sm://api_token", ("default-project", "api_token", "latest")),
        ("sm://api-token#latest", ("default-project", "api-token", "latest")),
        ("sm://example.com:acme/api-token", ("example.com:acme", "api-token", "latest")),
    ],
)
def test_reference_forms(text, expected):
    ref = parse_reference(text, "auth.token", "default-project")
    assert (ref.project, ref.secret, ref.version) == expected


def test_a_regional_endpoint_reads_the_regional_secret():
    manager = SecretManager(SecretSettings(endpoint="secretmanager.europe-west1.rep.googleapis.com"))
    ref = parse_reference("sm://acme/api-token#2", "auth.token", None, manager.location)
    assert ref.version_name == "projects/acme/locations/europe-west1/secrets/api-token/versions/2"


@pytest.mark.parametrize(
    "text", ["sm://", "sm://acme/api-token/extra", "sm://acme/api token", "sm://acme/api-token#", "sm://a#0"]
)
def test_malformed_references_are_refused_before_any_call(text, stub):
    config = {"api_url": text, "secrets": {"gcp_project": PROJECT, "endpoint": stub.endpoint}}
    with pytest.raises(SecretError, match=r"^api_url: malformed Secret Manager reference"):
        resolve_config(config)
    assert not stub.calls


def test_one_trailing_newline_is_stripped(stub):
    stub.put(PROJECT, "one", "value\n")
    stub.put(PROJECT, "crlf", "value\r\n")
    stub.put(PROJECT, "two", "value\n\n")
    config = {
        "headers": {"a": "sm://one", "b": "sm://crlf", "c": "sm://two"},
        "secrets": {"gcp_project": PROJECT, "endpoint": stub.endpoint},
    }
    assert resolve_config(config).config["headers"] == {"a": "value", "b": "value", "c": "value\n"}


def test_references_anywhere_are_read_once_each_with_pinned_versions(stub, api, tmp_path):
    stub.put(PROJECT, "api-url", api.url + "\n")  # as `echo URL | gcloud secrets create` stores it
    stub.put(PROJECT, "api-token", API_TOKEN)
    stub.put(PROJECT, "tenant", TENANT)
    stub.put(PROJECT, "signing", SIGNING_V1)
    stub.put(PROJECT, "signing", SIGNING_V2)
    config = {
        "api_url": "sm://api-url",
        "auth": {"type": "bearer", "token": f"sm://{PROJECT}/api-token"},
        "headers": {"X-Tenant": "sm://tenant#latest", "X-Token-Copy": f"sm://{PROJECT}/api-token"},
        "params": {"tenant": f"sm://{PROJECT}/tenant"},
        "streams": [_things_stream(params={"sig": "sm://signing#1", "plain": "x"})],
        "secrets": {"endpoint": stub.endpoint},
    }
    run = run_tap(tmp_path, config, env={"GOOGLE_CLOUD_PROJECT": PROJECT})

    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("things")] == [1, 2]
    ((headers, query),) = api.requests
    assert headers["Authorization"] == f"Bearer {API_TOKEN}"
    assert headers["X-Tenant"] == TENANT
    assert headers["X-Token-Copy"] == API_TOKEN
    assert query == {"tenant": TENANT, "sig": SIGNING_V1, "plain": "x"}
    assert {
        name: stub.access_count(PROJECT, name) for name in ("api-url", "api-token", "tenant", "signing")
    } == {
        "api-url": 1,
        "api-token": 1,
        "tenant": 1,
        "signing": 1,
    }
    assert (
        f"Read projects/{PROJECT_NUMBER}/secrets/signing/versions/1 for streams[0].params.sig" in run.stderr
    )
    _assert_never_printed(run, [API_TOKEN, TENANT, SIGNING_V1, SIGNING_V2])


@pytest.mark.parametrize(
    ("case", "reference", "fragments"),
    [
        ("missing secret", f"sm://{PROJECT}/nope", ["auth.token:", f"sm://{PROJECT}/nope#latest not found"]),
        ("missing version", f"sm://{PROJECT}/api-token#7", ["auth.token:", "with version '7'"]),
        (
            "permission denied",
            f"sm://{PROJECT}/api-token",
            ["auth.token: permission denied", "roles/secretmanager.secretAccessor", "'api-token'", PROJECT],
        ),
        ("checksum mismatch", f"sm://{PROJECT}/api-token", ["auth.token:", "integrity check"]),
        ("malformed", f"sm://{PROJECT}/api/token", ["auth.token: malformed Secret Manager reference"]),
        ("unavailable", f"sm://{PROJECT}/api-token", ["did not answer within 1.5s", "UNAVAILABLE"]),
    ],
)
def test_secret_failures_are_one_line_without_the_value(case, reference, fragments, stub, api, tmp_path):
    stub.put(PROJECT, "api-token", API_TOKEN)
    if case == "permission denied":
        stub.deny_access.add("api-token")
    elif case == "checksum mismatch":
        stub.wrong_crc.add("api-token")
    elif case == "unavailable":
        stub.unavailable = True
    config = {
        "api_url": api.url,
        "auth": {"type": "bearer", "token": reference},
        "streams": [_things_stream()],
        "secrets": {"endpoint": stub.endpoint, "timeout_seconds": 1.5},
    }
    run = run_tap(tmp_path, config)

    _assert_one_error_line(run, *fragments)
    _assert_never_printed(run, [API_TOKEN])
    assert not api.requests
    calls = sum(stub.calls.values())
    if case == "unavailable":
        assert calls >= 2  # retried until the deadline
    else:
        assert calls == (0 if case == "malformed" else 1)


@pytest.mark.parametrize("endpoint", [None, "secretmanager.europe-west1.rep.googleapis.com"])
def test_without_application_default_credentials_the_error_says_how_to_set_them(
    endpoint, api, tmp_path, monkeypatch
):
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "empty-home"
    home.mkdir()
    config = {
        "api_url": api.url,
        "auth": {"type": "bearer", "token": f"sm://{PROJECT}/api-token"},
        "streams": [_things_stream()],
        "secrets": {"endpoint": endpoint} if endpoint else {},
    }
    run = run_tap(tmp_path, config, env={"HOME": str(home)})

    _assert_one_error_line(
        run,
        "no usable Application Default Credentials",
        "gcloud auth application-default login",
        "GOOGLE_APPLICATION_CREDENTIALS",
    )
    assert not api.requests


@pytest.fixture
def oauth() -> t.Iterator[OAuthServer]:
    with OAuthServer(datasets={"items": 12}) as server:
        yield server


def _basic(client_id: str, client_secret: str) -> str:
    """client_secret_basic as RFC 6749 2.3.1 says: form-encode, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _rotation_config(oauth: OAuthServer, stub: SecretManagerStub, **auth: t.Any) -> dict[str, t.Any]:
    return oauth.tap_config(
        oauth.refresh_token_auth(
            client_secret=f"sm://{PROJECT}/client-secret", refresh_token="sm://refresh-token", **auth
        ),
        secrets={"gcp_project": PROJECT, "endpoint": stub.endpoint},
    )


def test_rotated_refresh_token_is_written_back_and_read_by_the_next_run(oauth, stub, tmp_path):
    first_token = oauth.issue_refresh_token()
    stub.put(PROJECT, "client-secret", oauth.client_secret + "\n")
    stub.put(PROJECT, "refresh-token", first_token + "\n")
    config = _rotation_config(oauth, stub)

    first = run_tap(tmp_path / "run1", config)
    assert first.returncode == 0, first.stderr
    assert len(first.records("items")) == 12
    (second_token,) = oauth.live_refresh_tokens()
    assert stub.latest(PROJECT, "refresh-token") == second_token
    assert len(stub.versions[(PROJECT, "refresh-token")]) == 2
    assert (
        f"Added the rotated refresh token to Secret Manager as projects/{PROJECT_NUMBER}/secrets/"
        "refresh-token/versions/2" in first.stderr
    )
    refused = requests.post(
        oauth.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first_token},
        headers={"Authorization": _basic(oauth.client_id, oauth.client_secret)},
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"

    second = run_tap(tmp_path / "run2", config)
    assert second.returncode == 0, second.stderr
    assert len(second.records("items")) == 12
    assert len(stub.versions[(PROJECT, "refresh-token")]) == 3
    assert (
        stub.calls[("AccessSecretVersion", f"projects/{PROJECT}/secrets/refresh-token/versions/latest")] == 2
    )
    assert stub.calls[("AddSecretVersion", f"projects/{PROJECT}/secrets/refresh-token")] == 2
    every_value = oauth.secret_values() | {v.decode().strip() for vs in stub.versions.values() for v in vs}
    _assert_never_printed(first, every_value)
    _assert_never_printed(second, every_value)


def test_sigterm_while_a_rotated_token_is_saved_lets_the_save_finish(oauth, stub, tmp_path):
    """The token endpoint has rotated the refresh token (the old one is dead): a SIGTERM during
    the save's retry backoff must not drop it, or the next run fails with invalid_grant."""
    stub.put(PROJECT, "client-secret", oauth.client_secret + "\n")
    stub.put(PROJECT, "refresh-token", oauth.issue_refresh_token() + "\n")
    stub.unavailable_adds = 1  # the first save is answered UNAVAILABLE: retried after ~1 s
    process = start_tap(tmp_path, _rotation_config(oauth, stub))
    try:
        assert stub.add_refused.wait(60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err.decode()
    (rotated,) = oauth.live_refresh_tokens()
    assert stub.latest(PROJECT, "refresh-token") == rotated
    assert b"Traceback" not in err


def test_a_signal_ends_secret_manager_retries_but_not_a_shielded_save(stub):
    """After SIGTERM (the handler called in-process), a read of an unavailable Secret Manager
    stops at once, while a save inside a shielded block (a rotated token) still goes out."""
    stub.put(PROJECT, "refresh-token", "old")
    ref = parse_reference(f"sm://{PROJECT}/refresh-token", "auth.refresh_token", None)
    manager = SecretManager(SecretSettings(endpoint=stub.endpoint, timeout_seconds=30))
    interrupt._handle(signal.SIGTERM, None)
    try:
        with interrupt.shielded():
            manager.add_version(ref, "rotated")
        assert stub.latest(PROJECT, "refresh-token") == "rotated"
        stub.unavailable = True
        with pytest.raises(interrupt.Interrupted):
            manager.access(ref)
        assert sum(stub.calls.values()) == 1  # the save; the read was not even sent
    finally:
        interrupt.reset()


def test_unsaved_rotated_token_stops_the_run_after_the_file_fallback(oauth, stub, tmp_path):
    stub.put(PROJECT, "client-secret", oauth.client_secret)
    stub.put(PROJECT, "refresh-token", oauth.issue_refresh_token())
    stub.deny_add.add("refresh-token")
    token_file = tmp_path / "refresh_token"
    token_file.write_text("rt_stale_copy_from_an_older_run\n")  # Secret Manager wins over the file
    config = _rotation_config(oauth, stub, refresh_token_file=str(token_file))

    run = run_tap(tmp_path, config)

    line = _assert_one_error_line(
        run,
        "the provider's new refresh token could not be saved to Secret Manager secret "
        f"projects/{PROJECT}/secrets/refresh-token",
        "roles/secretmanager.secretVersionAdder",
        f"it was saved to {token_file}",
    )
    (new_token,) = oauth.live_refresh_tokens()
    assert token_file.read_text().strip() == new_token
    assert len(stub.versions[(PROJECT, "refresh-token")]) == 1
    _assert_never_printed(run, oauth.secret_values())
    assert new_token not in line

"""Logins as providers shape them, each against a provider-shaped local API (tests/api_zoo).

Every run asserts records, state and exit code, and that no secret (password, token,
assertion, client secret, or any base64 line of a private key) appears in stdout,
stderr or state.
"""

from __future__ import annotations

import time
import typing as t
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tap_restoauth.auth.methods import HttpContext
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.token_response import seconds_until
from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ConfigError
from tap_restoauth.http.mtls import load_client_certificate
from tap_restoauth.http.retry import RetryPolicy
from tests.api_zoo import jwt_auth, login_pages, nested_token, session_login
from tests.api_zoo import mtls as mtls_api
from tests.api_zoo import salesforce_login as salesforce
from tests.fault_server import RETRY_LINE
from tests.helpers import TapRun, run_tap
from tests.secret_manager_stub import SecretManagerStub

DEBUG = {"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def keypair(kind: t.Literal["rsa", "ec"]) -> tuple[str, bytes]:
    """A fresh private key (PKCS#8 PEM text) and its public key (PEM bytes)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def key_lines(pem: str) -> list[str]:
    """The base64 body lines of a PEM document: each one is key material."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def sync(tmp_path: Path, config: dict[str, t.Any], secrets: t.Callable[[], t.Iterable[str]]) -> TapRun:
    """Run the tap (DEBUG logs) and fail if any secret reached stdout, stderr or state."""
    run = run_tap(tmp_path, config, env=DEBUG, timeout=90)
    output = run.stdout + run.stderr
    leaked = [value for value in secrets() if value and value in output]
    assert not leaked, f"{len(leaked)} secret(s) leaked, starting {[v[:6] for v in leaked]}"
    assert "Traceback" not in run.stderr
    return run


def assert_complete(run: TapRun, stream: str, count: int) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records(stream)
    assert len(records) == count
    assert len({r.get("id", r.get("Id")) for r in records}) == count


def final_bookmark(run: TapRun, stream: str = "contacts") -> t.Any:
    return run.final_state["bookmarks"][stream]["replication_key_value"]


def one_error_line(run: TapRun) -> str:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = run.error_lines()
    return line


# -- token response shapes -----------------------------------------------------------------


def test_salesforce_password_grant_sends_the_api_to_instance_url(tmp_path):
    with salesforce.SalesforceServer(accounts=25) as server:
        run = sync(tmp_path, server.tap_config(), server.secrets)
    assert_complete(run, "accounts", 25)
    assert server.token_requests == 1  # no expires_in: the token lives until a 401
    assert server.login_api_hits == 0  # every API request went to instance_url
    assert run.states  # a full-table stream still ends with its STATE
    assert "(no expiry given)" in run.stderr  # the token line says so


def test_salesforce_token_extras_and_base_url_through_the_auth_object():
    """The accessor templates use: `auth.token_extras()`; and `auth.api_base_url()`."""
    with salesforce.SalesforceServer() as server:
        auth = build_auth(server.tap_auth())
        auth.bind(HttpContext(requests.Session(), 10, RetryPolicy(max_retries=0)))
        extras = auth.token_extras()  # logs in first when asked before any request
        base = auth.api_base_url(f"{server.login.url}/services/data/v60.0")
    assert extras == {
        "id": f"{server.login.url}/id/00D000000000001/005000000000001",
        "instance_url": server.instance.url,
    }
    assert base == f"{server.instance.url}/services/data/v60.0"
    assert server.token_requests == 1


def test_salesforce_wrong_password_is_one_line_with_the_grant_hint(tmp_path):
    with salesforce.SalesforceServer() as server:
        run = sync(tmp_path, server.tap_config(password="wrong-password-1"), server.secrets)
    line = one_error_line(run)
    assert (
        f"token request to {server.token_url} failed: HTTP 400 invalid_grant (authentication failure)" in line
    )
    assert "check auth.username and auth.password" in line
    assert not run.records("accounts") and not run.states


@pytest.mark.parametrize(
    ("request_format", "expiry"), [("json", "iso"), ("query", "epoch_ms")], ids=["json-iso", "query-epoch-ms"]
)
def test_nested_token_with_absolute_expiry_is_renewed_before_it_expires(tmp_path, request_format, expiry):
    server = nested_token.NestedTokenServer(
        token_ttl=2.0, request_format=request_format, expiry=expiry, records=40, page_delay=0.3
    ).start()
    try:
        run = sync(tmp_path, server.tap_config(), server.secrets)
    finally:
        server.stop()
    assert_complete(run, "items", 40)
    assert final_bookmark(run, "items") == login_pages.contacts(40)[-1]["updated_at"]
    assert server.token_requests >= 2  # renewed during the ~2.4 s of paging
    assert server.rejections == 0  # ...always before the API refused the old token


def test_token_response_without_the_configured_path_names_the_path(tmp_path):
    server = nested_token.NestedTokenServer().start()
    try:
        run = sync(tmp_path, server.tap_config(access_token_path="data.access_token"), server.secrets)
    finally:
        server.stop()
    line = one_error_line(run)
    assert "the JSON response has no data.access_token (keys: data, status)" in line
    assert "auth.access_token_path" in line


# -- session token ------------------------------------------------------------------------


def test_session_token_login_and_relogin_after_the_api_ends_the_session(tmp_path):
    server = session_login.SessionLoginServer(records=45, logout_after=2).start()
    try:
        run = sync(tmp_path, server.tap_config(), server.secrets)
    finally:
        server.stop()
    assert_complete(run, "contacts", 45)
    assert final_bookmark(run) == login_pages.contacts(45)[-1]["updated_at"]
    assert server.logins == 2  # the first session, then one more after the 401
    assert server.rejections == 1


def test_session_token_from_a_response_header_like_keystone(tmp_path):
    server = session_login.SessionLoginServer(records=12, token_in_header=True, logout_after=1).start()
    try:
        config = server.tap_config(access_token_path="header:X-Subject-Token")
        run = sync(tmp_path, config, server.secrets)
    finally:
        server.stop()
    assert_complete(run, "contacts", 12)
    assert server.logins == 2 and server.rejections == 1


def test_session_token_wrong_password_is_one_line(tmp_path):
    server = session_login.SessionLoginServer().start()
    try:
        run = sync(tmp_path, server.tap_config(password="not-the-password"), server.secrets)
    finally:
        server.stop()
    line = one_error_line(run)
    assert f"login request to {server.url}/v2/login failed: HTTP 401" in line
    assert "invalid user or password" in line
    assert server.failed_logins == 1 and server.api_requests == 0
    assert not run.records("contacts") and not run.states


# -- keys instead of secrets ----------------------------------------------------------------


@pytest.fixture
def jwt_server() -> t.Iterator[jwt_auth.JwtAuthServer]:
    server = jwt_auth.JwtAuthServer(records=30, revoke_after=2).start()
    yield server
    server.stop()


@pytest.mark.parametrize("source", ["file", "secret_manager"])
def test_private_key_jwt_client_assertions_verified_by_authlib(tmp_path, jwt_server, source):
    private, public = keypair("rsa")
    jwt_server.add_client(
        jwt_auth.KeyClient("okta-app", public, "kid-2024", grant_types=("client_credentials",))
    )
    auth = {
        "type": "oauth2_client_credentials",
        "client_id": "okta-app",
        "client_auth_method": "private_key_jwt",
        "private_key_id": "kid-2024",
        "scopes": ["contacts.read"],
    }
    config = jwt_server.tap_config(auth)
    stub = SecretManagerStub().start() if source == "secret_manager" else None
    if stub is None:
        key_file = tmp_path / "client.key"
        key_file.write_text(private)
        key_file.chmod(0o600)
        auth["private_key"] = str(key_file)
    else:
        stub.put("proj", "okta-signing-key", private)
        auth["private_key"] = "sm://proj/okta-signing-key"
        config["secrets"] = {"endpoint": stub.endpoint}
    config["auth"].update(auth)
    try:
        run = sync(tmp_path, config, lambda: [*jwt_server.secrets(), *key_lines(private)])
    finally:
        if stub is not None:
            stub.stop()
    assert_complete(run, "contacts", 30)
    assert final_bookmark(run) == login_pages.contacts(30)[-1]["updated_at"]
    # The API revoked the first token: a second token request with a fresh assertion.
    assert len(jwt_server.all_tokens) == 2 and jwt_server.rejections == 1
    assert jwt_server.replays == 0 and not jwt_server.token_errors
    assert len(jwt_server.assertions) == 2
    jtis = {claims["jti"] for _, claims in jwt_server.assertions}
    assert len(jtis) == 2
    for header, claims in jwt_server.assertions:
        assert header["alg"] == "RS256" and header["kid"] == "kid-2024"
        assert claims["iss"] == claims["sub"] == "okta-app"
        assert claims["aud"] == jwt_server.token_url
        assert 0 < claims["exp"] - claims["iat"] <= 60


def test_client_secret_jwt_never_sends_the_secret(tmp_path, jwt_server):
    secret = "hmac-client-secret-at-least-32-bytes-long-4b1d"
    jwt_server.add_client(
        jwt_auth.KeyClient("kc-app", b"", "", grant_types=("client_credentials",), secret=secret)
    )
    auth = {"type": "oauth2_client_credentials", "client_id": "kc-app", "client_secret": secret}
    auth["client_auth_method"] = "client_secret_jwt"
    run = sync(tmp_path, jwt_server.tap_config(auth), lambda: [secret, *jwt_server.secrets()])
    assert_complete(run, "contacts", 30)
    assert len(jwt_server.assertions) == 2 and jwt_server.replays == 0
    for header, claims in jwt_server.assertions:
        assert header["alg"] == "HS256"
        assert claims["iss"] == claims["sub"] == "kc-app" and claims["aud"] == jwt_server.token_url
    assert all("client_secret" not in form for form in jwt_server.token_forms)


def test_private_key_jwt_with_an_unregistered_key_is_one_line(tmp_path, jwt_server):
    _, public = keypair("rsa")
    other, _ = keypair("rsa")
    jwt_server.add_client(jwt_auth.KeyClient("okta-app", public, "k1", grant_types=("client_credentials",)))
    auth = {
        "type": "oauth2_client_credentials",
        "client_id": "okta-app",
        "client_auth_method": "private_key_jwt",
        "private_key": other,
        "private_key_id": "k1",
    }
    run = sync(tmp_path, jwt_server.tap_config(auth), lambda: [*jwt_server.secrets(), *key_lines(other)])
    line = one_error_line(run)
    assert f"token request to {jwt_server.token_url} failed: HTTP 400 invalid_client" in line
    assert "private_key" in line
    assert not run.records("contacts") and not run.states


def test_jwt_bearer_grant_like_a_google_service_account(tmp_path, jwt_server):
    private, public = keypair("ec")
    issuer = "etl@proj.iam.gserviceaccount.com"
    jwt_server.add_client(
        jwt_auth.KeyClient(
            issuer, public, "sa-key-1", grant_types=(JWT_BEARER,), subjects=("admin@example.com",)
        )
    )
    auth = {
        "type": "oauth2_jwt_bearer",
        "issuer": issuer,
        "subject": "admin@example.com",
        "private_key": private.replace("\n", "\\n"),  # as pasted into an environment variable
        "private_key_id": "sa-key-1",
        "scopes": ["https://www.googleapis.com/auth/admin.directory.user.readonly"],
    }
    run = sync(tmp_path, jwt_server.tap_config(auth), lambda: [*jwt_server.secrets(), *key_lines(private)])
    assert_complete(run, "contacts", 30)
    assert set(jwt_server.tokens.values()) <= {JWT_BEARER}
    assert len(jwt_server.assertions) == 2 and jwt_server.replays == 0
    for header, claims in jwt_server.assertions:
        assert header["alg"] == "ES256" and header["kid"] == "sa-key-1"
        assert claims["iss"] == issuer and claims["sub"] == "admin@example.com"
        assert claims["aud"] == jwt_server.token_url
        assert claims["scope"] == "https://www.googleapis.com/auth/admin.directory.user.readonly"
        assert 0 < claims["exp"] - claims["iat"] <= 300


def test_jwt_bearer_subject_the_server_refuses_is_one_line(tmp_path, jwt_server):
    private, public = keypair("ec")
    jwt_server.add_client(jwt_auth.KeyClient("sa@x", public, "k", grant_types=(JWT_BEARER,), subjects=()))
    auth = {"type": "oauth2_jwt_bearer", "issuer": "sa@x", "subject": "nobody", "private_key": private}
    run = sync(tmp_path, jwt_server.tap_config(auth), lambda: [*jwt_server.secrets(), *key_lines(private)])
    line = one_error_line(run)
    assert "HTTP 400 invalid_grant" in line and "check auth.issuer, auth.subject" in line


# -- configuration errors, before any request -----------------------------------------------


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            {
                "type": "oauth2_client_credentials",
                "client_id": "a",
                "client_auth_method": "private_key_jwt",
                "private_key": "not a key",
            },
            "auth.private_key: expected PEM text (-----BEGIN ...) or the path of a readable PEM file",
        ),
        (
            {"type": "oauth2_client_credentials", "client_id": "a", "client_auth_method": "private_key_jwt"},
            "auth.private_key is required",
        ),
        (
            {"type": "oauth2_client_credentials", "client_id": "a"},
            "auth.client_secret is required with client_auth_method client_secret_basic",
        ),
        (
            {
                "type": "oauth2_client_credentials",
                "client_id": "a",
                "client_secret": "b",
                "token_response_extras": ["refresh_token"],
            },
            "auth.token_response_extras: refresh_token is a credential",
        ),
        ({"type": "oauth2_jwt_bearer", "issuer": "x"}, "auth.private_key is required"),
        ({"type": "session_token", "username": "u", "password": "p"}, "auth.login_url is required"),
        ({"type": "oauth2_password", "client_id": "a", "client_secret": "b"}, "auth.username is required"),
    ],
)
def test_login_settings_are_checked_before_any_request(auth, expected):
    settings = {"token_url": "https://login.example.com/token", **auth}
    if auth["type"] == "session_token":
        settings.pop("token_url")
    with pytest.raises(ConfigError) as error:
        build_auth(settings)
    assert expected in str(error.value)


def test_an_ec_key_refuses_an_rsa_algorithm():
    private, _ = keypair("ec")
    with pytest.raises(ConfigError, match=r"auth\.signing_algorithm: RS256 does not fit this key"):
        build_auth(
            {
                "type": "oauth2_jwt_bearer",
                "token_url": "https://x.example/token",
                "issuer": "i",
                "private_key": private,
                "signing_algorithm": "RS256",
            }
        )


# -- mutual TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtls(tmp_path_factory) -> t.Iterator[tuple[mtls_api.MtlsServer, mtls_api.Pki, Path]]:
    pki = mtls_api.Pki()
    directory = tmp_path_factory.mktemp("mtls")
    server = mtls_api.MtlsServer(pki, directory, records=30).start()
    yield server, pki, mtls_api.write(directory, "ca.pem", pki.cert_pem)
    server.stop()


def mtls_config(server: mtls_api.MtlsServer, ca_file: Path, **top: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": f"{server.url}/v1",
        "ca_bundle": str(ca_file),
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": f"{server.url}/oauth/token",
            "client_id": mtls_api.CLIENT_ID,
            "client_auth_method": "tls_client_auth",
        },
        "max_retries": 2,
        "backoff_max_seconds": 0,
        "streams": [login_pages.stream_config("/contacts")],
        **top,
    }


def test_mtls_tls_client_auth_with_certificate_and_key_from_secret_manager(tmp_path, mtls):
    server, pki, ca_file = mtls
    issued = pki.issue(mtls_api.CLIENT_ID)
    stub = SecretManagerStub().start()
    stub.put("proj", "client-cert", issued.cert_pem)
    stub.put("proj", "client-key", issued.key_pem)
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = mtls_config(
        server,
        ca_file,
        client_cert="sm://proj/client-cert",
        client_key="sm://proj/client-key",
        secrets={"endpoint": stub.endpoint},
    )
    forms_before = len(server.token_forms)
    try:
        run = run_tap(tmp_path, config, env={**DEBUG, "TMPDIR": str(temp)}, timeout=90)
    finally:
        stub.stop()
    leaked = [v for v in [*server.secrets(), *key_lines(issued.key_pem)] if v in run.stdout + run.stderr]
    assert not leaked
    assert_complete(run, "contacts", 30)
    assert final_bookmark(run) == login_pages.contacts(30)[-1]["updated_at"]
    # RFC 8705: the client is its certificate; the form names it and carries no secret.
    assert server.token_forms[forms_before:] == [
        {"grant_type": "client_credentials", "client_id": "mtls-client"}
    ]
    assert not list(temp.iterdir())  # the key was on disk only while OpenSSL read it


def test_mtls_certificate_files_with_verify_tls_off(tmp_path, mtls):
    """Certificate files, and a TLS context that verifies nothing still presents the certificate."""
    server, pki, ca_file = mtls
    issued = pki.issue(mtls_api.CLIENT_ID)
    cert_file = mtls_api.write(tmp_path, "client.pem", issued.cert_pem)
    key_file = mtls_api.write(tmp_path, "client.key", issued.key_pem)
    config = mtls_config(server, ca_file, client_cert=str(cert_file), client_key=str(key_file))
    config.pop("ca_bundle")
    config["verify_tls"] = False
    run = sync(tmp_path, config, lambda: [*server.secrets(), *key_lines(issued.key_pem)])
    assert_complete(run, "contacts", 30)


@pytest.mark.parametrize("case", ["missing", "other_ca"])
def test_mtls_without_an_accepted_certificate_is_one_line(tmp_path, mtls, case):
    server, _, ca_file = mtls
    top: dict[str, t.Any] = {}
    secrets: list[str] = []
    if case == "other_ca":
        issued = mtls_api.Pki("some other CA").issue(mtls_api.CLIENT_ID)
        top = {"client_cert": issued.cert_pem, "client_key": issued.key_pem}
        secrets = key_lines(issued.key_pem)
    config = mtls_config(server, ca_file, **top)
    if case == "missing":
        config["auth"]["client_auth_method"] = "none"
    refused = server.refused_handshakes
    run = sync(tmp_path, config, lambda: [*server.secrets(), *secrets])
    line = one_error_line(run)
    assert f"TLS handshake with {server.url} failed" in line
    if case == "missing":
        assert "the server probably requires a client certificate; set client_cert and client_key" in line
    else:
        assert "the server refused the client certificate" in line
    assert not RETRY_LINE.search(run.stderr)  # a refused certificate is refused again: no retries
    assert server.refused_handshakes == refused + 1
    assert not run.records("contacts") and not run.states


def test_mtls_settings_are_checked_before_any_request(tmp_path):
    pki = mtls_api.Pki()
    one, two = pki.issue("a"), pki.issue("b")
    with pytest.raises(ConfigError, match="cannot be used together"):
        load_client_certificate(one.cert_pem, two.key_pem)
    with pytest.raises(ConfigError, match="client_cert is set without client_key"):
        load_client_certificate(one.cert_pem, None)
    with pytest.raises(ConfigError, match="client_key: expected a PEM private key"):
        load_client_certificate(one.cert_pem, one.cert_pem)
    key = serialization.load_pem_private_key(one.key_pem.encode(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    with pytest.raises(ConfigError, match="client_key: the key is encrypted"):
        load_client_certificate(one.cert_pem, encrypted)
    combined = mtls_api.write(tmp_path, "both.pem", one.cert_pem + one.key_pem)
    pair = load_client_certificate(str(combined), None)  # one PEM holding certificate and key
    assert pair is not None and pair.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(pair)
    with pytest.raises(ConfigError, match="tls_client_auth needs client_cert and client_key"):
        parse_settings(
            {
                "api_url": "https://api.example.com",
                "auth": {
                    "type": "oauth2_client_credentials",
                    "token_url": "https://api.example.com/token",
                    "client_id": "c",
                    "client_auth_method": "tls_client_auth",
                },
                "streams": [{"name": "s", "path": "/s"}],
            }
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2100-01-01T00:00:00Z", 4102444800),
        ("2100-01-01T01:00:00+01:00", 4102444800),
        ("2100-01-01T00:00:00", 4102444800),  # no zone: UTC
        (4102444800, 4102444800),
        ("4102444800", 4102444800),
        (4102444800000, 4102444800),  # milliseconds
        ("next tuesday", None),
        (True, None),
        ({"at": 1}, None),
    ],
)
def test_absolute_expiry_formats(value, expected):
    remaining = seconds_until(value)
    if expected is None:
        assert remaining is None
    else:
        assert remaining is not None and abs(time.time() + remaining - expected) < 5

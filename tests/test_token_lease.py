"""Refresh and access tokens shared between processes through a lease (auth/lease.py).

Each `OAuth2RefreshToken` here has its own Secret Manager client or file handle, as
separate processes would; the multi-process proofs are in tests/test_shards.py.
"""

from __future__ import annotations

import time
import typing as t

import pytest
import requests

from tap_restoauth.auth.lease import EXPIRES_KEY, HOLDER_KEY, share_tokens
from tap_restoauth.auth.methods import HttpContext, OAuth2RefreshToken
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.secret_manager import (
    CallFailed,
    SecretManager,
    SecretSettings,
    parse_reference,
    resolve_config,
)
from tap_restoauth.auth.token_store import StoredToken
from tap_restoauth.http.retry import RetryPolicy
from tests.oauth_server import OAuthServer
from tests.secret_manager_stub import SecretManagerStub

PROJECT = "acme-data"


@pytest.fixture
def stub() -> t.Iterator[SecretManagerStub]:
    server = SecretManagerStub().start()
    yield server
    server.stop()


@pytest.fixture
def server() -> t.Iterator[OAuthServer]:
    with OAuthServer(token_ttl=2) as oauth:
        yield oauth


def _process_auth(config: dict[str, t.Any]) -> OAuth2RefreshToken:
    """An auth as one tap process builds it: secrets resolved, stores attached, sharing on."""
    resolved = resolve_config(config)
    auth = build_auth(resolved.config["auth"])
    assert isinstance(auth, OAuth2RefreshToken)
    resolved.attach_token_store(auth)
    share_tokens(auth, resolved, by_default=True)
    auth.bind(HttpContext(requests.Session(), 10, RetryPolicy(max_retries=0)))
    return auth


def test_update_secret_needs_the_current_etag(stub):
    stub.put(PROJECT, "rt", "value")
    manager = SecretManager(SecretSettings(endpoint=stub.endpoint))
    ref = parse_reference(f"sm://{PROJECT}/rt", "auth.refresh_token", None)
    etag, annotations = manager.get_secret(ref)
    assert annotations == {}
    newer = manager.update_annotations(ref, etag, {"k": "v"})
    assert newer != etag
    with pytest.raises(CallFailed) as failure:
        manager.update_annotations(ref, etag, {"k": "w"})
    assert failure.value.status == "FAILED_PRECONDITION"
    assert manager.get_secret(ref) == (newer, {"k": "v"})


def test_processes_sharing_a_secret_make_one_token_request_per_lifetime(stub, server):
    stub.put(PROJECT, "rt", server.issue_refresh_token())  # a plain refresh token, as users store it
    config = {
        "auth": server.refresh_token_auth(refresh_token=f"sm://{PROJECT}/rt", expiry_skew_seconds=0.5),
        "secrets": {"endpoint": stub.endpoint},
    }
    first, second = _process_auth(config), _process_auth(config)
    token = first._valid_token()
    assert second._valid_token() == token  # the second process used the first one's token
    assert server.tokens_issued("refresh_token") == 1
    stored = StoredToken.decode(stub.latest(PROJECT, "rt"))
    assert (stored.refresh_token, stored.access_token) == (server.live_refresh_tokens()[0], token)

    time.sleep(1.6)  # both tokens are due for renewal: only one process renews
    renewed = second._valid_token()
    assert renewed != token
    assert first._valid_token() == renewed
    assert server.tokens_issued("refresh_token") == 2
    assert StoredToken.decode(stub.latest(PROJECT, "rt")).refresh_token == server.live_refresh_tokens()[0]
    # A 401 for the shared token makes one process renew; the other takes the new one.
    first._token = second._token = None
    server.revoke_all_access_tokens()
    assert first._new_token(rejected=renewed).access_token == second._new_token(rejected=renewed).access_token
    assert server.tokens_issued("refresh_token") == 3
    assert not [r for r in server.token_requests if r.error]
    assert stub.annotations[(PROJECT, "rt")] == {}  # every lease was released


def test_a_crashed_holders_lease_is_taken_over_when_it_expires(stub, server):
    stub.put(PROJECT, "rt", server.issue_refresh_token())
    expires = time.time() + 1.0
    stub.annotations[(PROJECT, "rt")] = {
        "team": "data",
        HOLDER_KEY: "gone-host/4242/dead",
        EXPIRES_KEY: f"{expires:.3f}",
    }
    auth = _process_auth(
        {
            "auth": server.refresh_token_auth(refresh_token=f"sm://{PROJECT}/rt", lease_seconds=5),
            "secrets": {"endpoint": stub.endpoint},
        }
    )
    auth._valid_token()
    assert time.time() >= expires - 0.01  # it waited for the lease to run out
    assert server.tokens_issued("refresh_token") == 1
    assert stub.annotations[(PROJECT, "rt")] == {"team": "data"}  # other annotations kept


def test_processes_sharing_a_file_make_one_token_request(tmp_path, server):
    token_file = tmp_path / "refresh_token"
    token_file.write_text(server.issue_refresh_token() + "\n")
    config = {"auth": server.refresh_token_auth(refresh_token_file=str(token_file))}
    first, second = _process_auth(config), _process_auth(config)
    assert first._valid_token() == second._valid_token()
    assert server.tokens_issued("refresh_token") == 1
    stored = StoredToken.decode(token_file.read_text())
    assert stored.refresh_token == server.live_refresh_tokens()[0]
    # A process that does not share tokens still reads the refresh token from the JSON file.
    plain = build_auth(server.refresh_token_auth(refresh_token_file=str(token_file)))
    assert isinstance(plain, OAuth2RefreshToken)
    assert plain.refresh_token == stored.refresh_token


def test_secret_manager_down_at_early_renewal_keeps_the_current_token(stub, server):
    stub.put(PROJECT, "rt", server.issue_refresh_token())
    auth = _process_auth(
        {
            "auth": server.refresh_token_auth(refresh_token=f"sm://{PROJECT}/rt"),
            "secrets": {"endpoint": stub.endpoint, "timeout_seconds": 0.5},
        }
    )
    token = auth._valid_token()
    time.sleep(1.1)  # due for early renewal (half of its 2 s), still valid
    stub.unavailable = True
    assert auth._valid_token() == token
    assert server.tokens_issued("refresh_token") == 1

"""Old versions of the refresh-token secret are pruned after each write (auth/version_pruning.py).

The real Google client talks to the local Secret Manager stand-in; each "process" has
its own client, as separate processes would.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

import pytest

from tap_restoauth.auth.lease import EXPIRES_KEY, HOLDER_KEY
from tap_restoauth.auth.methods import OAuth2RefreshToken
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.secret_manager import (
    CallFailed,
    SecretManager,
    SecretSettings,
    parse_reference,
    resolve_config,
)
from tap_restoauth.auth.version_pruning import attach_pruner
from tests.secret_manager_stub import SecretManagerStub

PROJECT = "acme-data"
SECRET = "crm-refresh-token"


@pytest.fixture
def stub() -> t.Iterator[SecretManagerStub]:
    server = SecretManagerStub().start()
    yield server
    server.stop()


def _auth(stub: SecretManagerStub, **options: t.Any) -> OAuth2RefreshToken:
    """The auth one tap process builds, with the refresh token in Secret Manager."""
    extra = options.pop("config", {})
    config = {
        "secrets": {"endpoint": stub.endpoint, "gcp_project": PROJECT},
        "auth": {
            "type": "oauth2_refresh_token",
            "token_url": "https://auth.example.com/token",
            "client_id": "client",
            "client_secret": "client-secret-value",
            "refresh_token": f"sm://{PROJECT}/{SECRET}",
            **options,
        },
        **extra,
    }
    resolved = resolve_config(config)
    auth = build_auth(resolved.config["auth"])
    assert isinstance(auth, OAuth2RefreshToken)
    resolved.attach_token_store(auth)
    attach_pruner(auth, resolved)
    return auth


def _seed(stub: SecretManagerStub, count: int) -> None:
    for number in range(1, count + 1):
        stub.put(PROJECT, SECRET, f"rt_version_{number}")


def _prune_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tap_restoauth.auth.version_pruning"]


def test_a_new_version_destroys_all_but_the_newest_n(stub, caplog):
    _seed(stub, 6)
    auth = _auth(stub, keep_versions=3)
    with caplog.at_level(logging.INFO):
        auth.save_to_stores("rt_version_7")
    assert stub.version_states(PROJECT, SECRET) == ["DESTROYED"] * 4 + ["ENABLED"] * 3
    assert stub.latest(PROJECT, SECRET) == "rt_version_7"
    assert _prune_lines(caplog) == [
        f"Destroyed 4 old version(s) of secret {SECRET} (1-4); the newest 3 are kept (auth.keep_versions)"
    ]
    with caplog.at_level(logging.INFO):
        auth.save_to_stores("rt_version_8")
    assert stub.version_states(PROJECT, SECRET) == ["DESTROYED"] * 5 + ["ENABLED"] * 3
    assert len(_prune_lines(caplog)) == 2  # one line per prune


def test_prune_disable_keeps_old_versions_restorable(stub):
    _seed(stub, 4)
    _auth(stub, keep_versions=2, prune="disable").save_to_stores("rt_version_5")
    assert stub.version_states(PROJECT, SECRET) == ["DISABLED"] * 3 + ["ENABLED"] * 2
    assert stub.versions[(PROJECT, SECRET)][0] == b"rt_version_1"  # disabled, not wiped


def test_a_pinned_version_and_keep_versions_zero_are_left_alone(stub):
    _seed(stub, 5)
    pinned = _auth(stub, keep_versions=1, config={"params": {"legacy": f"sm://{PROJECT}/{SECRET}#2"}})
    pinned.save_to_stores("rt_version_6")
    assert stub.version_states(PROJECT, SECRET) == ["DESTROYED", "ENABLED"] + ["DESTROYED"] * 3 + ["ENABLED"]
    _auth(stub, keep_versions=0).save_to_stores("rt_version_7")
    assert ("ListSecretVersions", f"projects/{PROJECT}/secrets/{SECRET}") in stub.calls
    assert stub.calls[("ListSecretVersions", f"projects/{PROJECT}/secrets/{SECRET}")] == 1  # not for keep 0


def test_nothing_is_pruned_while_another_process_holds_the_lease(stub, caplog):
    _seed(stub, 5)
    manager = SecretManager(SecretSettings(endpoint=stub.endpoint))
    ref = parse_reference(f"sm://{PROJECT}/{SECRET}", "auth.refresh_token", None)
    etag, _ = manager.get_secret(ref)
    manager.update_annotations(
        ref, etag, {HOLDER_KEY: "other-host/42/abcd", EXPIRES_KEY: f"{time.time() + 60}"}
    )
    with caplog.at_level(logging.INFO):
        _auth(stub, keep_versions=1).save_to_stores("rt_version_6")
    assert set(stub.version_states(PROJECT, SECRET)) == {"ENABLED"}
    assert _prune_lines(caplog) == [
        f"Did not prune old versions of {SECRET}: other-host/42/abcd holds the token lease"
    ]
    # Once that lease has expired, the next write prunes.
    etag, _ = manager.get_secret(ref)
    manager.update_annotations(
        ref, etag, {HOLDER_KEY: "other-host/42/abcd", EXPIRES_KEY: f"{time.time() - 1}"}
    )
    _auth(stub, keep_versions=1).save_to_stores("rt_version_7")
    assert stub.version_states(PROJECT, SECRET) == ["DESTROYED"] * 6 + ["ENABLED"]


def test_without_the_permission_the_run_goes_on_with_one_warning(stub, caplog):
    _seed(stub, 3)
    stub.deny_manage.add(SECRET)
    auth = _auth(stub, keep_versions=1)
    with caplog.at_level(logging.INFO):
        auth.save_to_stores("rt_version_4")
        auth.save_to_stores("rt_version_5")
    assert stub.latest(PROJECT, SECRET) == "rt_version_5"
    warnings = [line for line in _prune_lines(caplog) if "Could not prune" in line]
    assert warnings == [
        f"Could not prune old versions of secret {SECRET} (permission denied: grant "
        f"roles/secretmanager.secretVersionManager on secret '{SECRET}'); set auth.keep_versions: 0 "
        "to stop trying"
    ]


def test_two_concurrent_writers_keep_the_newest_n_and_latest_always_readable(stub):
    _seed(stub, 1)
    writers = [_auth(stub, keep_versions=3) for _ in range(2)]
    reader = SecretManager(SecretSettings(endpoint=stub.endpoint))
    latest = parse_reference(f"sm://{PROJECT}/{SECRET}", "auth.refresh_token", None)
    failures: list[str] = []
    done = threading.Event()

    def write(index: int) -> None:
        for round_number in range(12):
            writers[index].save_to_stores(f"rt_writer_{index}_round_{round_number}")

    def read() -> None:
        while not done.is_set():
            try:
                reader.access(latest)
            except CallFailed as exc:
                failures.append(exc.status)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(2)]
    watcher = threading.Thread(target=read)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done.set()
    watcher.join(10)
    states = stub.version_states(PROJECT, SECRET)
    assert len(states) == 25
    assert states[-3:] == ["ENABLED"] * 3  # the newest three, whoever wrote them
    assert set(states[:-3]) == {"DESTROYED"}
    assert failures == []  # `latest` was never a pruned version

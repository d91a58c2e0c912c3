"""Sharded runs: N tap processes at once extract each record exactly once (sync/shards.py).

The processes are real subprocesses against real local servers; the multi-process
token proofs use the Authlib server's single-use refresh tokens (2 s access tokens)
and the Secret Manager stand-in or a token file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing as t
from collections import Counter
from pathlib import Path

import pytest

from tap_restoauth.auth.lease import HOLDER_KEY
from tap_restoauth.auth.token_store import StoredToken
from tap_restoauth.errors import ConfigError
from tap_restoauth.sync.shards import Shards, ShardSettings, parse_shard
from tests.conftest import sandbox_config
from tests.helpers import ISOLATED_ENV
from tests.oauth_server import Fault, OAuthServer
from tests.secret_manager_stub import SecretManagerStub

# End-to-end (several tap processes sharing a lease): scripts/test.sh --quick skips them.
pytestmark = pytest.mark.e2e

PROJECT = "acme-data"


class Shard:
    """One tap process started in the background."""

    def __init__(self, tmp_path: Path, config: dict[str, t.Any], index: int, count: int) -> None:
        folder = tmp_path / f"shard-{index}-of-{count}"
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "config.json"
        config_file.write_text(json.dumps({**config, "shard": {"index": index, "count": count}}))
        self.stdout = (folder / "stdout").open("w+")
        self.stderr = (folder / "stderr").open("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tap_restoauth", "--config", str(config_file)],
            stdout=self.stdout,
            stderr=self.stderr,
            env={**os.environ, **ISOLATED_ENV},
        )

    def wait(self, timeout: float = 120) -> int:
        return self.process.wait(timeout)

    def messages(self) -> list[dict[str, t.Any]]:
        self.stdout.seek(0)
        return [json.loads(line) for line in self.stdout if line.strip()]

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()


def _run_shards(tmp_path: Path, config: dict[str, t.Any], count: int) -> list[Shard]:
    shards = [Shard(tmp_path, config, index, count) for index in range(count)]
    for shard in shards:
        assert shard.wait() == 0, shard.log()
    return shards


def _records(shards: list[Shard], stream: str | None = None) -> list[tuple[str, str]]:
    """(stream, record as sorted JSON) of every RECORD the shards emitted, `_audit` excluded."""
    return [
        (m["stream"], json.dumps(m["record"], sort_keys=True))
        for shard in shards
        for m in shard.messages()
        if m["type"] == "RECORD" and m["stream"] != "_audit" and stream in (None, m["stream"])
    ]


def _audit(shards: list[Shard]) -> list[dict[str, t.Any]]:
    return [
        m["record"] for s in shards for m in s.messages() if m["type"] == "RECORD" and m["stream"] == "_audit"
    ]


def test_shard_defaults_come_from_cloud_run_and_every_key_has_one_owner():
    assert parse_shard({}, {"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "4"}) == ShardSettings(2, 4)
    assert parse_shard({"shard": {"index": 0, "count": 2}}, {"CLOUD_RUN_TASK_COUNT": "4"}) == ShardSettings(
        0, 2
    )
    assert parse_shard({}, {}) == ShardSettings(0, 1)
    with pytest.raises(ConfigError, match=r"^shard.index: expected 0 to 3 \(shard.count is 4\), got 4$"):
        parse_shard({"shard": {"index": 4}}, {"CLOUD_RUN_TASK_COUNT": "4"})
    with pytest.raises(ConfigError, match=r"^CLOUD_RUN_TASK_INDEX: expected an integer, got 'x'$"):
        parse_shard({}, {"CLOUD_RUN_TASK_INDEX": "x"})
    shards = [Shards(ShardSettings(index, 3)) for index in range(3)]
    owners = Counter(index for key in map(str, range(300)) for index, s in enumerate(shards) if s.owns(key))
    assert sum(owners.values()) == 300
    assert min(owners.values()) > 70  # roughly even


def test_three_shards_emit_the_records_and_audit_of_one(sandbox, tmp_path):
    config = sandbox_config(sandbox, audit=True, concurrency=4)
    (single,) = _run_shards(tmp_path, config, 1)
    three = _run_shards(tmp_path, config, 3)

    expected = _records([single])
    assert Counter(expected) == Counter(_records(three))  # each record once, none missing
    assert len(set(expected)) == sum(sandbox.data.counts().values())
    for shard in three:  # children were split between the shards, not synced by one
        assert _records([shard], "user_orders")

    def units(records: list[dict[str, t.Any]]) -> dict[str, tuple[t.Any, ...]]:
        return {r["unit"]: (r["records"], r["pages"], r["declared_total"], r["outcome"]) for r in records}

    one_audit, three_audit = _audit([single]), _audit(three)
    assert units(one_audit) == units(three_audit)
    assert len(three_audit) == len(units(three_audit))  # each unit audited by one shard
    assert {r["shard_count"] for r in three_audit} == {3}
    events = sandbox.data.counts()["events"]
    assert units(one_audit)["events"] == (events, 5, events, "complete")  # declared by the API: offset total


@pytest.fixture
def stub() -> t.Iterator[SecretManagerStub]:
    server = SecretManagerStub().start()
    yield server
    server.stop()


def _accounts_config(server: OAuthServer, auth: dict[str, t.Any]) -> dict[str, t.Any]:
    """48 accounts (a whole stream) with 10 entries each (one partition per account)."""
    entries = server.stream_config("entries")
    entries.update(
        path="/v1/accounts/{account_id}/entries", parent="accounts", parent_keys={"account_id": "id"}
    )
    entries["schema"]["properties"]["account_id"] = {"type": "integer"}
    return {**server.tap_config(auth, ["accounts"]), "streams": [server.stream_config("accounts"), entries]}


def _token_server(api_delay: float = 0.25) -> OAuthServer:
    """2 s access tokens; the API delay makes a shard's sync outlast a few of them."""
    return OAuthServer(token_ttl=2, datasets={"accounts": 48, "entries": 10}, api_delay=api_delay)


def _expected(server: OAuthServer) -> Counter[tuple[str, str]]:
    accounts = server.records("accounts")
    entries = [{**e, "account_id": a["id"]} for a in accounts for e in server.records("entries")]
    return Counter(
        [("accounts", json.dumps(r, sort_keys=True)) for r in accounts]
        + [("entries", json.dumps(r, sort_keys=True)) for r in entries]
    )


@pytest.mark.parametrize("store", ["secret_manager", "file"])
def test_four_shards_share_one_rotating_refresh_token(stub, tmp_path, store):
    with _token_server() as server:
        first_token = server.issue_refresh_token()
        if store == "secret_manager":
            stub.put(PROJECT, "rt", first_token)
            where = {"refresh_token": f"sm://{PROJECT}/rt"}
        else:
            (tmp_path / "rt").write_text(first_token + "\n")
            where = {"refresh_token_file": str(tmp_path / "rt")}
        auth = server.refresh_token_auth(expiry_skew_seconds=0.5, keep_versions=2, **where)
        config = _accounts_config(server, auth)
        config["secrets"] = {"endpoint": stub.endpoint}
        started = time.monotonic()
        shards = _run_shards(tmp_path, config, 4)
        wall = time.monotonic() - started

        assert Counter(_records(shards)) == _expected(server)
        assert not [r.error for r in server.token_requests if r.error]  # no invalid_grant, nothing else
        (live,) = server.live_refresh_tokens()  # the last one issued; every earlier one was used once
        saved = stub.latest(PROJECT, "rt") if store == "secret_manager" else (tmp_path / "rt").read_text()
        assert StoredToken.decode(saved).refresh_token == live
        # One token request per renewal interval (1.5 s of each 2 s token) for all four, not four.
        issued = server.tokens_issued("refresh_token")
        assert 2 <= issued <= wall / 1.5 + 2, f"{issued} token requests over {wall:.1f}s"
        assert sum(s.log().count("Using the access token another process obtained") for s in shards) >= 3
        if store == "secret_manager":  # each writer pruned under the lease: the newest two are left
            states = stub.version_states(PROJECT, "rt")
            assert states[-2:] == ["ENABLED", "ENABLED"] and set(states[:-2]) == {"DESTROYED"}, states
            assert sum(s.log().count("old version(s) of secret rt") for s in shards) >= 1
        output = "".join(shard.log() + json.dumps(shard.messages()) for shard in shards)
        assert not [value for value in server.secret_values() if value in output]  # no token, no secret


def test_a_shard_killed_holding_the_lease_holds_the_others_only_until_it_expires(stub, tmp_path):
    with _token_server(api_delay=0.02) as server:
        stub.put(PROJECT, "rt", server.issue_refresh_token())
        # The first token request hangs without an answer (the provider never sees it complete).
        server.fail_token_requests(Fault(delay=30, drop=True))
        auth = server.refresh_token_auth(refresh_token=f"sm://{PROJECT}/rt", lease_seconds=2)
        config = {**_accounts_config(server, auth), "secrets": {"endpoint": stub.endpoint}}
        shards = [Shard(tmp_path, config, index, 4) for index in range(4)]
        try:
            deadline = time.monotonic() + 60
            while not (holder := stub.annotations.get((PROJECT, "rt"), {}).get(HOLDER_KEY)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            while server.token_attempts() == 0:  # it holds the lease and waits for its token
                assert time.monotonic() < deadline
                time.sleep(0.05)
            pid = int(holder.split("/")[1])
            (killed,) = [index for index, shard in enumerate(shards) if shard.process.pid == pid]
            os.kill(pid, signal.SIGKILL)
            for index, shard in enumerate(shards):
                assert shard.wait() == (-signal.SIGKILL if index == killed else 0), shard.log()
        finally:
            for shard in shards:
                if shard.process.poll() is None:
                    shard.process.kill()
        survivors = [shard for index, shard in enumerate(shards) if index != killed]
        assert any("expired; taking it over" in shard.log() for shard in survivors)
        # Cloud Run retries the failed task: the same shard again completes the set.
        retried = Shard(tmp_path / "retry", config, killed, 4)
        assert retried.wait() == 0, retried.log()
        assert Counter(_records([*survivors, retried])) == _expected(server)
        assert not [r.error for r in server.token_requests if r.error]
        (live,) = server.live_refresh_tokens()
        assert StoredToken.decode(stub.latest(PROJECT, "rt")).refresh_token == live

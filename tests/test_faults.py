"""Faults and bad input from a real local server (tests/fault_server.py).

Every tap run here logs at DEBUG and is grepped for every credential that crossed the
wire (client secret, API key, issued tokens, Authorization values): see `sync`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import os
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest
import requests

from tap_restoauth.http.retry import RetryAfterTooLong, RetryPolicy, parse_retry_after
from tests.fault_server import (
    API_KEY,
    DEBUG_ENV,
    RETRY_LINE,
    TRANSIENT_KINDS,
    FaultData,
    FaultPlan,
    FaultServer,
    Hit,
    assert_no_secrets,
    sync,
    tap_config,
)
from tests.helpers import ISOLATED_ENV, TapRun, run_tap


@pytest.fixture
def server() -> t.Iterator[FaultServer]:
    srv = FaultServer().start()
    yield srv
    srv.stop()


def canonical(records: list[dict[str, t.Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def expected_records(data: FaultData) -> dict[str, list[str]]:
    notes = [
        {**note, "user_id": user["id"]}
        for user in data.users
        if user["id"] not in data.deleted
        for note in data.notes(user["id"])
    ]
    return {"users": canonical(data.users), "notes": canonical(notes), "events": canonical(data.events)}


def page_hits(server: FaultServer, path: str, **query: str) -> list[Hit]:
    return [
        h for h in server.api_hits() if h.path == path and all(h.query.get(k) == v for k, v in query.items())
    ]


def bookmarks(state: dict[str, t.Any], stream: str) -> list[str]:
    """Every replication-key value in a stream's state, final or in progress."""
    entry = state.get("bookmarks", {}).get(stream, {})
    values = [
        entry.get("replication_key_value"),
        entry.get("progress_markers", {}).get("replication_key_value"),
    ]
    return [v for v in values if v]


def bookmark(state: dict[str, t.Any], stream: str) -> str | None:
    """The resumable bookmark: the one a rerun starts from."""
    return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def assert_state_never_ahead_of_records(run: TapRun, stream: str, key: str) -> None:
    """Each STATE names only bookmarks of records already emitted before it."""
    newest = ""
    for message in run.messages:
        if message["type"] == "RECORD" and message["stream"] == stream:
            newest = max(newest, message["record"][key])
        elif message["type"] == "STATE":
            for value in bookmarks(message["value"], stream):
                assert value <= newest, f"STATE bookmark {value} is ahead of the last record {newest}"


def assert_one_error_line(run: TapRun) -> str:
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "| ERROR " not in run.stderr, "the failure must be reported once, by the tap's own line"
    (line,) = run.error_lines()
    return line


# -- retry policy (pure functions) --------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap_and_retry_after_wins():
    policy = RetryPolicy(backoff_factor=1, backoff_max_seconds=8, max_retry_after_seconds=30)
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        waits = [policy.wait_seconds(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 100  # jitter: retries of many clients do not line up
    assert parse_retry_after("7") == 7
    in_20s = email.utils.format_datetime(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=20), usegmt=True
    )
    assert 18 <= parse_retry_after(in_20s) <= 20
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past: retry now
    assert parse_retry_after("soon") is None
    asked = requests.Response()
    asked.headers["Retry-After"] = "3"
    assert policy.wait_seconds(4, asked) == 3
    asked.headers["Retry-After"] = "3600"
    with pytest.raises(RetryAfterTooLong, match="asked to wait 3600s"):
        policy.wait_seconds(0, asked)


# -- transient faults ---------------------------------------------------------------


def test_each_transient_fault_is_retried_until_the_page_arrives(server, tmp_path):
    """Every fault kind, twice in a row on its own endpoint (a revocation once), then success."""
    server.script("/oauth/token", "503", times=2)
    repeats = {kind: 1 if kind == "revoke" else 2 for kind in TRANSIENT_KINDS}
    for user_id, kind in enumerate(TRANSIENT_KINDS, start=1):
        server.script(f"/v1/users/{user_id}/notes", kind, times=repeats[kind])
    run = sync(tmp_path, server, tap_config(server, streams=("users", "notes")))
    assert run.returncode == 0, run.stderr[-3000:]
    expected = expected_records(server.data)
    assert canonical(run.records("users")) == expected["users"]
    assert canonical(run.records("notes")) == expected["notes"]
    for user_id, kind in enumerate(TRANSIENT_KINDS, start=1):
        first_page = [h for h in page_hits(server, f"/v1/users/{user_id}/notes") if "cursor" not in h.query]
        assert [h.outcome for h in first_page] == [f"script:{kind}"] * repeats[kind] + ["200"], kind
    token_hits = [h.outcome for h in server.hits if h.path == "/oauth/token"]
    assert token_hits[:3] == ["script:503", "script:503", "200"]
    assert len(token_hits) == 4  # the first token, and one after the revocation
    # Every fault is one retry, except the revocation (a token renewal); plus the token endpoint's two.
    assert len(RETRY_LINE.findall(run.stderr)) == sum(repeats.values()) - 1 + 2


def test_twenty_percent_faults_leave_the_records_unchanged(tmp_path, capsys):
    clean, faulty = FaultServer().start(), FaultServer(FaultPlan(rate=0.2)).start()
    try:
        runs = {
            name: sync(tmp_path / name, srv, tap_config(srv, concurrency=2))
            for name, srv in (("clean", clean), ("faulty", faulty))
        }
    finally:
        clean.stop()
        faulty.stop()
    for run in runs.values():
        assert run.returncode == 0, run.stderr[-3000:]
    for stream in ("users", "notes", "events"):
        assert canonical(runs["faulty"].records(stream)) == canonical(runs["clean"].records(stream)), stream
    assert runs["faulty"].final_state == runs["clean"].final_state
    injected = sum(faulty.faults.values())
    figures = {
        "requests_clean": len(clean.hits),
        "requests_faulty": len(faulty.hits),
        "faults_injected": injected,
        "fault_kinds": dict(sorted(faulty.faults.items())),
        "retries_logged": len(RETRY_LINE.findall(runs["faulty"].stderr)),
        "tokens_issued": len(faulty.issued_tokens),
        "records_compared": dict(runs["clean"].counts()),
    }
    with capsys.disabled():
        print("\nFAULT-FIGURES", json.dumps(figures))
    assert injected >= 0.15 * len(clean.hits)
    assert len(faulty.faults) >= 10  # most kinds of fault occurred


@pytest.mark.parametrize("kind", ["503", "drop", "truncate"])
def test_retries_are_capped_then_one_line(server, tmp_path, kind):
    server.script("/v1/users", kind, param="page", value="1")
    run = sync(tmp_path, server, tap_config(server, streams=("users",), max_retries=2))
    line = assert_one_error_line(run)
    assert "users: GET http://127.0.0.1:" in line and "/v1/users?" in line
    assert "after 3 attempts" in line
    assert len(page_hits(server, "/v1/users", page="1")) == 3


def test_retry_after_is_waited_for_in_both_forms(server, tmp_path):
    server.script("/v1/users", "retry_after:1", param="page", value="2", times=1)
    server.script("/v1/users", "retry_after_date:2", param="page", value="3", times=1)
    run = sync(tmp_path, server, tap_config(server, streams=("users",)))
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("users")) == 120

    refused, retried = page_hits(server, "/v1/users", page="2")
    assert refused.outcome == "script:retry_after:1" and retried.outcome == "200"
    assert 1.0 <= retried.at - refused.at <= 2.0

    refused, retried = page_hits(server, "/v1/users", page="3")
    assert refused.outcome == "script:retry_after_date:2" and retried.outcome == "200"
    deadline = math.floor(refused.wall + 2)  # the HTTP date the server sent (whole seconds)
    assert deadline - 0.01 <= retried.wall <= deadline + 1.0


def test_retry_after_beyond_the_limit_fails_at_once_with_on_quota_exhausted_fail(server, tmp_path):
    server.script("/v1/users", "retry_after:3600", param="page", value="1")
    config = tap_config(server, streams=("users",), max_retry_after_seconds=30, on_quota_exhausted="fail")
    run = sync(tmp_path, server, config)
    line = assert_one_error_line(run)
    assert "users: GET" in line and "HTTP 429" in line
    assert "Retry-After 3600s" in line and "max_retry_after_seconds (30s)" in line
    assert len(page_hits(server, "/v1/users", page="1")) == 1


def max_in_any_second(hits: list[Hit]) -> int:
    times = sorted(h.at for h in hits)
    return max(sum(1 for other in times if start <= other < start + 1) for start in times)


def test_rate_limit_holds_across_streams_and_threads(server, tmp_path):
    config = tap_config(server, streams=("users", "events"), concurrency=4)
    config["streams"][0]["pagination"]["page_size"] = 10  # 12 pages, fetched 4 at a time
    config["streams"][1]["pagination"]["limit"] = 20  # 12 pages
    free = sync(tmp_path / "free", server, config)
    assert free.returncode == 0, free.stderr[-3000:]
    unlimited = max_in_any_second(server.api_hits())
    with server.lock:
        server.hits.clear()

    limited = sync(tmp_path / "limited", server, {**config, "requests_per_second": 10})
    assert limited.returncode == 0, limited.stderr[-3000:]
    assert limited.counts() == free.counts()
    hits = server.api_hits()
    assert len(hits) == 24
    assert unlimited > 11  # the same sync breaks the limit when nothing holds it back
    # The client spaces requests 0.1 s apart; one extra allows for a request whose
    # arrival the server saw late (thread scheduling), not for a burst.
    assert max_in_any_second(hits) <= 11


# -- fatal answers ------------------------------------------------------------------


def test_other_4xx_is_fatal_in_one_line_with_sensitive_query_values_masked(server, tmp_path):
    config = tap_config(
        server,
        streams=("users",),
        auth={"type": "api_key", "name": "api_key", "value": API_KEY, "in": "query"},
    )
    config["streams"][0]["params"] = {"signature": "sig-0af3e1", "access_token": "at-9c1d77", "fields": "all"}
    server.script("/v1/users", "status:403", param="page", value="2")
    run = sync(tmp_path, server, config)
    line = assert_one_error_line(run)
    assert "users: GET http://127.0.0.1:" in line and "/v1/users?" in line
    assert "HTTP 403 Forbidden" in line and '"error": "injected"' in line
    for name in ("api_key", "signature", "access_token"):
        assert f"{name}=***" in line
    assert "fields=all" in line
    # Values of params named like credentials are secrets everywhere, DEBUG logs included.
    assert "sig-0af3e1" not in run.stdout + run.stderr and "at-9c1d77" not in run.stdout + run.stderr
    assert len(page_hits(server, "/v1/users", page="2")) == 1  # not retried
    assert len(run.records("users")) == 25


@pytest.mark.parametrize("ignored", [True, False], ids=["ignore_404", "fatal_404"])
def test_a_deleted_parent_404_is_skipped_only_when_ignored(tmp_path, ignored):
    srv = FaultServer(data=FaultData(users=30, deleted={4, 9})).start()
    try:
        config = tap_config(srv, streams=("users", "notes"))
        if ignored:
            config["streams"][1]["ignore_statuses"] = [404]
        run = sync(tmp_path, srv, config)
    finally:
        srv.stop()
    if ignored:
        assert run.returncode == 0, run.stderr[-3000:]
        assert canonical(run.records("notes")) == expected_records(srv.data)["notes"]
        skipped = [line for line in run.stderr.splitlines() if "skipped (ignore_statuses)" in line]
        assert len(skipped) == 2 and "notes: GET" in skipped[0] and "/v1/users/4/notes" in skipped[0]
    else:
        line = assert_one_error_line(run)
        assert "notes: GET" in line and "/v1/users/4/notes" in line and "HTTP 404" in line
        assert "user 4 was deleted" in line


BAD_RESPONSES = {
    "html_200": ["expected a JSON document, got text/html; charset=utf-8 (HTTP 200, 71 bytes)", "Sign in"],
    "empty": ["expected a JSON document, got an empty body (HTTP 200)"],
    "invalid_json": ["expected a JSON document, got invalid JSON", "truncated", '{"data": [{"id": 1'],
    "wrong_shape": ["records_path $.data[*] matched nothing", "keys: results, meta"],
    "missing_pk": ["has no primary key 'id'", "its fields: name, email, updated_at"],
}


@pytest.mark.parametrize("kind", list(BAD_RESPONSES))
def test_a_bad_response_stops_the_sync_in_one_line_without_state_past_the_records(server, tmp_path, kind):
    server.script("/v1/users", kind, param="page", value="3")
    config = tap_config(server, streams=("users",))
    config["streams"][0]["is_sorted"] = True
    run = sync(tmp_path, server, config)
    line = assert_one_error_line(run)
    assert line.startswith("tap-restoauth: error: users: ")
    assert "/v1/users?" in line and "page=3" in line
    for fragment in BAD_RESPONSES[kind]:
        assert fragment in line
    assert [r["id"] for r in run.records("users")] == list(range(1, 51))  # pages 1 and 2
    assert_state_never_ahead_of_records(run, "users", "updated_at")
    assert bookmark(run.final_state, "users") == server.data.users[49]["updated_at"]


# -- resumable state ----------------------------------------------------------------


def run_until_held(tmp_path: Path, server: FaultServer, config: dict[str, t.Any]) -> TapRun:
    """Run the tap until the server holds a request, then SIGKILL it; return what it wrote."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_restoauth", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ISOLATED_ENV, **DEBUG_ENV},
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.extend(process.stdout), daemon=True),  # type: ignore[arg-type]
        threading.Thread(target=lambda: err.extend(process.stderr), daemon=True),  # type: ignore[arg-type]
    ]
    for reader in readers:
        reader.start()
    try:
        assert server.held.wait(30), "the tap never reached the held page"
        # Each page's STATE is written and flushed before the next page is requested,
        # so everything emitted before the held request is already in the pipe.
    finally:
        process.kill()
        process.wait(10)
    for reader in readers:
        reader.join(10)
    stdout = "".join(out)
    messages = [json.loads(line) for line in out if line.startswith("{")]
    return TapRun(process.returncode, stdout, "".join(err), messages)


@pytest.mark.parametrize("is_sorted", [True, False], ids=["sorted", "unsorted"])
def test_resume_after_sigkill_loses_nothing(server, tmp_path, is_sorted):
    config = tap_config(server, streams=("users", "notes"), timeout=20)
    users = config["streams"][0]
    users["pagination"]["page_size"] = 10
    users["is_sorted"] = is_sorted
    server.script("/v1/users", "hold", param="page", value="6", times=1)

    first = run_until_held(tmp_path / "first", server, config)
    assert first.returncode == -9
    assert_no_secrets(first.stdout + first.stderr, server)
    emitted = [r["id"] for r in first.records("users")]
    # Each page's records (and, sorted, its STATE) reached stdout before the next request.
    assert emitted == list(range(1, 51)) and first.states
    assert_state_never_ahead_of_records(first, "users", "updated_at")
    last_state = first.final_state
    server.released.set()

    second = sync(tmp_path / "second", server, config, state=last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    expected = expected_records(server.data)
    for stream in ("users", "notes"):
        union = set(canonical(first.records(stream))) | set(canonical(second.records(stream)))
        assert sorted(union) == expected[stream], stream

    first_ids = {r["id"] for r in first.records("users")}
    again = [r["id"] for r in second.records("users") if r["id"] in first_ids]
    assert bookmark(second.final_state, "users") == server.data.users[-1]["updated_at"]
    if is_sorted:
        # The bookmark of the last emitted record survived the kill: only that record is
        # read again (the filter is inclusive); the page in flight was never emitted.
        assert bookmarks(last_state, "users") == [server.data.users[49]["updated_at"]]
        assert again == [50]
        resumed_from = page_hits(server, "/v1/users", page="1")[-1].query["updated_since"]
        assert resumed_from.startswith("2024-01-03T02:00:00")
    else:
        # An unsorted stream's bookmark is only final at the end of the stream: the
        # killed run left none, so the rerun starts over (duplicates, nothing lost).
        assert "replication_key_value" not in last_state.get("bookmarks", {}).get("users", {})
        assert again == sorted(first_ids)
    # The resumable bookmark never moves backwards, from the killed run's last STATE to the end.
    values = [bookmark(state, "users") for state in [last_state, *second.states]]
    present = [value for value in values if value]
    assert present == sorted(present)


def test_is_sorted_on_an_unsorted_api_is_one_line(server, tmp_path):
    config = tap_config(server, streams=("events",))
    events = config["streams"][0]
    events.update(replication_key="kind", is_sorted=True)  # kinds cycle view, buy, click, view...
    run = sync(tmp_path, server, config)
    line = assert_one_error_line(run)
    assert "events: is_sorted is set but the API returned records out of kind order" in line
    assert "remove is_sorted" in line


@pytest.mark.parametrize("where", ["api_url", "token_url"])
def test_a_host_name_that_does_not_resolve_fails_at_once_saying_so(tmp_path, where):
    """`.invalid` never resolves (RFC 6761); no network is needed. Retrying would only add waits."""
    config: dict[str, t.Any] = {"api_url": "http://127.0.0.1:9", "streams": [{"name": "a", "path": "/a"}]}
    if where == "api_url":
        config["api_url"] = "http://api.example.invalid"
    else:
        config["auth"] = {
            "type": "oauth2_client_credentials",
            "token_url": "https://auth.example.invalid/oauth/token",
            "client_id": "tap",
            "client_secret": "s3cret-value",
        }
    run = run_tap(tmp_path, config, timeout=60)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "example.invalid" in line and "failed: the host name did not resolve (" in line, line
    assert "retry" not in run.stderr, run.stderr  # not one retry warning: a name does not come back
    assert "Traceback" not in run.stderr

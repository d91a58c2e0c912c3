"""A full sync of the sandbox: every stream, two levels of children, exact counts."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from tap_restoauth.sync.progress import Progress
from tests.conftest import sandbox_config
from tests.helpers import run_tap


def test_full_sync_emits_every_record_once(sandbox, tmp_path):
    run = run_tap(tmp_path, sandbox_config(sandbox))
    assert run.returncode == 0, run.stderr
    assert run.counts() == sandbox.data.counts()
    items = run.records("order_items")
    assert all({"user_id", "order_id", "sku", "qty"} <= set(item) for item in items)
    assert len({(i["order_id"], i["sku"]) for i in items}) == len(items)
    assert sandbox.token_requests == 1
    schemas = Counter(m["stream"] for m in run.messages if m["type"] == "SCHEMA")
    assert schemas == dict.fromkeys(sandbox.data.counts(), 1)  # not once per parent record


def test_progress_lines_and_summary(sandbox, tmp_path):
    run = run_tap(tmp_path, sandbox_config(sandbox, progress_interval_seconds=0))
    assert run.returncode == 0, run.stderr
    assert "progress: users: 25 records, 1 pages" in run.stderr
    counts = sandbox.data.counts()
    assert f"summary: users: {counts['users']:,} records, 5 pages" in run.stderr
    assert f"summary: total: {sum(counts.values()):,} records" in run.stderr
    assert "summary: 0 requests retried, 1 access tokens obtained" in run.stderr


def test_default_log_is_a_few_lines_per_stream_and_metrics_come_back_on_request(sandbox, tmp_path):
    """Not one line per parent record: METRIC and per-context SDK lines are DEBUG unless asked for."""
    run = run_tap(tmp_path / "default", sandbox_config(sandbox))
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    noise = ("METRIC", "Beginning sync", "assumed to be unsorted", "Starting incremental sync")
    assert not [line for line in lines if any(word in line for word in noise)]
    streams = sandbox.data.counts()
    for stream in streams:
        assert sum(f"| {stream}: started (" in line for line in lines) == 1, stream
    assert "| users: started (incremental on updated_at >= 2024-01-01T00:00:00Z)" in run.stderr
    assert len(lines) <= 4 * len(streams) + 6, run.stderr

    metrics = run_tap(tmp_path / "metrics", sandbox_config(sandbox, metrics_log_level="INFO"))
    parents = streams["users"] + streams["user_orders"]  # one record counter per child context
    assert sum("METRIC:" in line for line in metrics.stderr.splitlines()) > parents

    debug = run_tap(tmp_path / "debug", sandbox_config(sandbox), env={"LOGLEVEL": "DEBUG"})
    assert "Beginning sync of 'order_items'" in debug.stderr
    assert "METRIC:" in debug.stderr


def test_connection_test_reads_one_record_per_stream_and_says_it_passed(sandbox, tmp_path):
    """The README's connectivity check: `--test` (what `meltano invoke tap-restoauth --test` runs)."""
    run = run_tap(tmp_path, sandbox_config(sandbox), args=["--test"])
    assert run.returncode == 0, run.stderr
    assert dict(run.counts()) == dict.fromkeys(sandbox.data.counts(), 1)
    assert "connection test passed: events, users, user_orders, order_items answered" in run.stderr
    assert "ERROR" not in run.stderr  # the SDK stops each stream after one record: no failure

    config = sandbox_config(sandbox)
    config["auth"]["client_secret"] = "wrong"
    failed = run_tap(tmp_path / "wrong", config, args=["--test"])
    assert failed.returncode == 1
    (line,) = failed.error_lines()
    assert "invalid_client" in line


def test_a_rate_is_given_only_once_it_means_something():
    progress = Progress(interval_seconds=3600)
    progress.stream_started("users", "full table")
    progress.page_done("users", 50)
    counts = progress._streams["users"]
    counts.updated = counts.started + 0.02  # one fast page: "50,000 records/s" would be noise
    assert progress.summary()[0] == "users: 50 records, 1 pages in under 0.1s"
    counts.updated = counts.started + 2.0
    assert progress.summary()[0] == "users: 50 records, 1 pages in 2.0s, 25 records/s"


def test_stream_maps_and_flattening_apply_on_the_fast_path(sandbox, tmp_path):
    config = sandbox_config(
        sandbox,
        stream_maps={"users": {"email": "md5(email)", "__else__": None, "id": "id", "address": "address"}},
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    config["streams"] = config["streams"][:1]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    first = run.records("users")[0]
    assert set(first) == {"id", "email", "address__city", "address__geo"}
    assert first["email"] == hashlib.md5(b"user1@example.com").hexdigest()
    assert first["address__city"] == "Lyon"
    assert json.loads(first["address__geo"]) == {"lat": 0.1, "lon": -0.1}
    (schema,) = [m["schema"] for m in run.messages if m["type"] == "SCHEMA"]
    assert set(schema["properties"]) == {"id", "email", "address__city", "address__geo"}

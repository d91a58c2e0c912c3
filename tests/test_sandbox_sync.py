"""A full sync of the sandbox: every stream, two levels of children, exact counts."""

from __future__ import annotations

import hashlib
import json

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


def test_progress_lines_and_summary(sandbox, tmp_path):
    run = run_tap(tmp_path, sandbox_config(sandbox, progress_interval_seconds=0))
    assert run.returncode == 0, run.stderr
    assert "progress: users: 25 records, 1 pages" in run.stderr
    counts = sandbox.data.counts()
    assert f"summary: users: {counts['users']:,} records, 5 pages" in run.stderr
    assert f"summary: total: {sum(counts.values()):,} records" in run.stderr
    assert "summary: 0 requests retried, 1 access tokens obtained" in run.stderr


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

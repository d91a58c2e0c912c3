"""The `_audit` stream and `audit_fail_on_mismatch` (sync/audit.py)."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.helpers import run_tap

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}}}


class ShortApi(LocalServer):
    """`/v1/short` declares 5 records and serves 3; `/v1/flaky` answers 503 once; others 500."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.flaky_failed = False


class _Handler(JsonHandler):
    server: ShortApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        offset = int(dict(parse_qsl(parts.query)).get("offset", 0))
        if parts.path == "/v1/flaky" and not self.server.flaky_failed:
            self.server.flaky_failed = True
            self.send_json(503, {"error": "busy"})
        elif parts.path in ("/v1/short", "/v1/flaky"):
            items = [{"id": n} for n in range(1, 4)] if offset == 0 else []
            self.send_json(200, {"total": 5, "items": items})
        else:
            self.send_json(500, {"error": "down"})


@pytest.fixture
def api() -> t.Iterator[ShortApi]:
    server = ShortApi().start()
    yield server
    server.stop()


def _config(api: ShortApi, *streams: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": api.url,
        "max_retries": 0,
        "audit": True,
        "streams": [
            {
                "name": name,
                "path": f"/v1/{name}",
                "records_path": "$.items[*]",
                "primary_keys": ["id"],
                "schema": SCHEMA,
                "pagination": {"type": "offset", "limit": 3, "total_path": "$.total"},
            }
            for name in streams
        ],
        **extra,
    }


def test_a_declared_total_not_emitted_is_audited_and_can_fail_the_run(api, tmp_path):
    cloud_run = {"CLOUD_RUN_EXECUTION": "tap-x7k2p", "CLOUD_RUN_TASK_ATTEMPT": "1"}
    run = run_tap(tmp_path / "report", _config(api, "short"), env=cloud_run)
    assert run.returncode == 0, run.stderr
    (audit,) = run.records("_audit")
    assert (audit["execution"], audit["task_attempt"]) == ("tap-x7k2p", 1)
    assert (audit["stream"], audit["partition"], audit["records"], audit["declared_total"]) == (
        "short",
        None,
        3,
        5,
    )
    assert (audit["pages"], audit["outcome"], audit["shard_index"], audit["shard_count"]) == (
        2,
        "complete",
        0,
        1,
    )
    schema = next(m["schema"] for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "_audit")
    assert schema["properties"]["declared_total"]["type"] == ["integer", "null"]
    assert schema["properties"]["started_at"] == {"type": "string", "format": "date-time"}

    failing = run_tap(tmp_path / "fail", _config(api, "short", audit_fail_on_mismatch=True))
    assert failing.returncode == 1
    assert "Traceback" not in failing.stderr
    assert failing.error_lines() == [
        "tap-restoauth: error: audit: 1 stream(s)/partition(s) emitted a different number of records than "
        "the API declared (short: 3 emitted, 5 declared); see the _audit stream (audit_fail_on_mismatch)"
    ]
    assert len(failing.records("_audit")) == 1  # the audit is loaded before the run fails


def test_a_failed_run_still_emits_its_audit(api, tmp_path):
    config = _config(api, "flaky", "short", "zz_broken", max_retries=1, backoff_factor=0)
    run = run_tap(tmp_path, config)  # streams sync in name order
    assert run.returncode == 1
    (line,) = run.error_lines()
    outcomes = {r["stream"]: (r["outcome"], r["retries"], r["error"]) for r in run.records("_audit")}
    assert outcomes == {
        "flaky": ("complete", 1, None),
        "short": ("complete", 0, None),
        "zz_broken": ("failed", 1, line.split("error: ", 1)[1]),
    }
    assert [json.loads(line)["type"] for line in run.stdout.splitlines()][-1] == "STATE"

"""`--plan` prints each stream's windows, partitions and first requests, and sends no request."""

from __future__ import annotations

import json
import re
import subprocess
import typing as t
from pathlib import Path

from tests.conftest import sandbox_config
from tests.helpers import tap_command

KEY = "plan-test-key-3f9a2c"


def _config(sandbox: t.Any, **top: t.Any) -> dict[str, t.Any]:
    config = sandbox_config(sandbox, end_date="2024-01-06T00:00:00Z", secret_params=["key"], **top)
    config["streams"].append(
        {
            "name": "daily",
            "path": "/v1/events",
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "replication_key": "at",
            "incremental": {"step": "P1D"},
            "partitions": [{"account": "a1"}, {"account": "a2"}],
            "params": {"from": "{start}", "to": "{end}", "key": KEY},
        }
    )
    return config


def _plan(
    tmp_path: Path, config: dict[str, t.Any], state: dict[str, t.Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """`tap-restoauth --config ... [--state ...] --plan` (its output is text, not Singer messages)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = ["--config", str(tmp_path / "config.json"), "--plan"]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return subprocess.CompletedProcess(args, *tap_command(args, timeout=60))


def _windows(stdout: str) -> set[str]:
    return {line.strip() for line in stdout.splitlines() if line.strip().startswith("window ")}


def test_plan_prints_windows_and_first_requests_without_any_request(sandbox, tmp_path):
    state = {
        "bookmarks": {
            "users": {"replication_key": "updated_at", "replication_key_value": "2024-01-03T05:00:00Z"},
            "daily": {
                "partitions": [
                    {
                        "context": {"account": "a2"},
                        "replication_key": "at",
                        "replication_key_value": "2024-01-04T00:00:00+00:00",
                    }
                ]
            },
        }
    }
    run = _plan(tmp_path, _config(sandbox), state)
    assert run.returncode == 0, run.stderr
    assert sandbox.api_requests == [] and sandbox.token_requests == 0  # nothing sent, not even a token
    assert KEY not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "plan for shard 0 of 1 (no request sent)"
    assert "users: incremental on updated_at" in lines
    first_users = next(line for line in lines if "/v1/users?" in line)
    assert "updated_since=2024-01-03T05%3A00%3A00" in first_users  # from the state's bookmark
    assert "GET " + sandbox.url + "/v1/users/{user_id}/orders" in run.stdout  # a child: placeholders
    # a1 starts at start_date (5 daily windows), a2 at its bookmark (2 windows).
    windows = _windows(run.stdout)
    assert len(windows) == 5  # distinct lines: a2's two windows are also two of a1's
    assert sum(line.strip().startswith("window ") for line in lines) == 7
    assert all("key=***" in line for line in windows)
    assert "  estimate: 7 first requests (more if pages follow)" in lines
    assert re.search(r"^at least \d+ requests in all", lines[-1])


def test_each_shard_plans_its_own_windows_and_together_all(sandbox, tmp_path):
    whole = _plan(tmp_path / "one", _config(sandbox))
    halves = [
        _plan(tmp_path / f"shard{index}", _config(sandbox, shard={"index": index, "count": 2}))
        for index in range(2)
    ]
    assert whole.returncode == 0 and all(h.returncode == 0 for h in halves), whole.stderr
    assert sandbox.api_requests == [] and sandbox.token_requests == 0

    def window_lines(run: t.Any) -> list[str]:
        return [line.strip() for line in run.stdout.splitlines() if line.strip().startswith("window ")]

    first, second = (window_lines(h) for h in halves)
    assert first and second
    assert sorted(first + second) == sorted(window_lines(whole))

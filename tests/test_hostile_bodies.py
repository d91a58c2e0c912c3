"""Hostile response bodies, lying totals, pagination loops, path parameters and state files.

Each case runs the real tap against tests/hostile_server.py and asserts the whole
outcome: exit 1, exactly one error line saying what happened, no traceback, and,
for the huge bodies, the tap's peak memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest

from tests.helpers import ISOLATED_ENV, tap_command
from tests.hostile_server import HostileServer

HANG_GUARD = 60


@pytest.fixture(scope="module")
def server() -> t.Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


class Outcome(t.NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float | None  # measured only when asked (an exec'd tap): see `run`

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "tap-restoauth: error:" in line]


def run(
    tmp_path: Path, config: dict[str, t.Any], *args: str, state: str | None = None, memory: bool = False
) -> Outcome:
    """The tap's exit code and output; with `memory`, its peak RSS too (its own: see tests/peak_rss.py).

    Without `memory` the tap is forked from the worker's pre-imported one (helpers.tap_command),
    whose peak RSS would include the imports it inherited.
    """
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    arguments = ["--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(state)
        arguments += ["--state", str(state_file)]
    if not memory:
        return Outcome(*tap_command(arguments, timeout=HANG_GUARD), peak_rss_mb=None)
    command = [sys.executable, "-m", "tap_restoauth", *arguments]
    out, err = (tmp_path / "stdout").open("w+"), (tmp_path / "stderr").open("w+")
    peak = tmp_path / "peak_rss"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peak_rss", str(peak), *command],
        stdout=out,
        stderr=err,
        env={**os.environ, **ISOLATED_ENV},
        start_new_session=True,
    )
    guard = threading.Timer(HANG_GUARD, lambda: os.killpg(process.pid, signal.SIGKILL))
    guard.start()
    try:
        process.wait()
    finally:
        guard.cancel()
    out.seek(0)
    err.seek(0)
    peak_kib = int(peak.read_text()) if peak.exists() else 0
    return Outcome(process.returncode, out.read(), err.read(), peak_kib / 1024)


def config_for(server: HostileServer, stream: dict[str, t.Any], **settings: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "timeout": 5,
        "max_retries": 0,
        "streams": [{"name": "items", "records_path": "$.data[*]", "primary_keys": ["id"], **stream}],
        **settings,
    }


def assert_one_error(outcome: Outcome, *fragments: str) -> str:
    assert outcome.returncode == 1, outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    lines = outcome.error_lines()
    assert len(lines) == 1, outcome.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    for line in outcome.stdout.splitlines():
        json.loads(line)
    return lines[0]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/trickle", "did not arrive in full within request_deadline_seconds (2s"),
        ("/endless", "did not arrive in full within request_deadline_seconds (2s"),
        ("/slowheaders", "no complete response headers within request_deadline_seconds (2s"),
    ],
)
def test_slow_or_endless_body_ends_at_the_deadline(server, tmp_path, path, expected):
    config = config_for(server, {"path": path}, request_deadline_seconds=2, max_response_mb=64)
    outcome = run(tmp_path, config)
    assert_one_error(outcome, f"GET {server.url}{path}", expected)


@pytest.mark.parametrize(("path", "after"), [("/bomb", ", after decompression"), ("/big", "")])
def test_huge_body_stops_at_max_response_mb(server, tmp_path, path, after):
    """1 MB of gzip inflating to 1 GB, and 120 MB sent chunked: both stop at the 4 MB cap."""
    outcome = run(tmp_path, config_for(server, {"path": path}, max_response_mb=4), memory=True)
    assert_one_error(outcome, f"GET {server.url}{path}", f"passed max_response_mb (4 MB{after})")
    assert outcome.peak_rss_mb < 200, outcome.peak_rss_mb


def test_deeply_nested_json_is_one_line_at_sync_and_discovery(server, tmp_path):
    config = config_for(server, {"path": "/deep"})
    sync = run(tmp_path, config)
    assert_one_error(sync, f"GET {server.url}/deep", "JSON nested deeper than 200 levels")
    discovery = run(tmp_path, config, "--discover")
    assert_one_error(discovery, "JSON nested deeper than 200 levels")


def test_json_just_under_the_depth_limit_syncs(server, tmp_path):
    """190 levels: decoded, schema inferred (capped), conformed and written without recursion errors."""
    outcome = run(tmp_path, config_for(server, {"path": "/deep", "params": {"depth": 190}}))
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr
    (record,) = [json.loads(line)["record"] for line in outcome.stdout.splitlines() if '"RECORD"' in line]
    depth, value = 0, record["x"]
    while value:
        if isinstance(value, str):  # arrays of arrays are written as JSON text (docs/bigquery.md)
            value = json.loads(value)
        assert isinstance(value, list), value
        value, depth = value[0], depth + 1
    assert depth == 189


def test_schema_inference_caps_depth(server, tmp_path):
    """150 levels decode fine; genson would recurse past Python's limit on them."""
    outcome = run(tmp_path, config_for(server, {"path": "/nested"}), "--discover")
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    schema = json.loads(outcome.stdout)["streams"][0]["schema"]
    depth, node = 0, schema["properties"]["tree"]
    while "properties" in node:
        node, depth = node["properties"]["child"], depth + 1
    assert 20 < depth < 40  # described down to the cap, a plain object below it
    assert node["type"] == ["string", "null"]  # an object never seen with a key: JSON text


def test_invalid_utf8_is_one_line(server, tmp_path):
    outcome = run(tmp_path, config_for(server, {"path": "/badutf8"}))
    assert_one_error(outcome, f"GET {server.url}/badutf8", "not valid UTF-8")


@pytest.mark.parametrize(
    ("total", "expected"),
    [("1e9", "more than 1,000,000 pages"), ('"abc"', "not a whole number"), ("-5", "negative count")],
)
def test_lying_total_pages_under_concurrency(server, tmp_path, total, expected):
    stream = {
        "path": "/totals",
        "params": {"total": total},
        "pagination": {"type": "page_number", "total_pages_path": "$.meta.total_pages"},
    }
    outcome = run(tmp_path, config_for(server, stream, concurrency=4), memory=True)
    line = assert_one_error(outcome, "/totals?", "$.meta.total_pages is", expected)
    assert "total=" in line
    assert outcome.peak_rss_mb < 200


def test_large_total_is_walked_lazily_up_to_max_pages(server, tmp_path):
    """900,000 pages promised, max_pages 6: six requests, none of the rest ever built."""
    stream = {
        "path": "/totals",
        "params": {"total": "900000"},
        "max_pages": 6,
        "pagination": {"type": "page_number", "total_pages_path": "$.meta.total_pages"},
    }
    before = len(server.paths)
    outcome = run(tmp_path, config_for(server, stream, concurrency=4), memory=True)
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    records = [json.loads(line) for line in outcome.stdout.splitlines() if '"RECORD"' in line]
    assert [r["record"]["id"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert outcome.peak_rss_mb < 150, outcome.peak_rss_mb
    assert len(server.paths) - before <= 6 + 10  # discovery samples, then the sync's six pages


def test_api_ignoring_the_page_param_is_caught(server, tmp_path):
    schema = {"properties": {"id": {"type": "integer"}}}  # declared: no sampling before the sync
    stream = {"path": "/ignored", "pagination": {"type": "page_number"}, "schema": schema}
    outcome = run(tmp_path, config_for(server, stream))
    assert_one_error(outcome, "repeats the previous page's 5 records (same primary keys (id))", "page=2")
    records = [json.loads(line) for line in outcome.stdout.splitlines() if '"RECORD"' in line]
    assert len(records) == 5  # the first page only; the repeat is not emitted


def test_api_ignoring_the_page_param_without_primary_keys(server, tmp_path):
    stream = {"path": "/ignored", "primary_keys": [], "pagination": {"type": "page_number"}}
    outcome = run(tmp_path, config_for(server, stream))
    assert_one_error(outcome, "repeats the previous page's 5 records (same content)")


def test_next_url_changing_only_its_fragment_is_the_same_page(server, tmp_path):
    stream = {
        "path": "/fragment",
        "records_path": "$.results[*]",
        "pagination": {"type": "next_url", "next_url_path": "$.next"},
    }
    outcome = run(tmp_path, config_for(server, stream))
    line = assert_one_error(outcome, "asked for the same page twice")
    assert "#" not in line


@pytest.mark.parametrize("key", [".", ".."])
def test_dot_segment_parent_keys_are_refused(server, tmp_path, key):
    config = config_for(server, {"path": "/parents", "params": {"key": key}})
    config["streams"].append(
        {"name": "kids", "path": "/parents/{pid}/kids", "parent": "items", "parent_keys": {"pid": "id"}}
    )
    before = len(server.paths)
    outcome = run(tmp_path, config)
    assert_one_error(outcome, f"a parent record's pid is {key!r}, which would change the request path")
    assert not any(path.startswith("/kids") for path in server.paths[before:])


def test_slash_in_a_parent_key_stays_in_its_segment(server, tmp_path):
    config = config_for(server, {"path": "/parents", "params": {"key": "a/../b"}})
    config["streams"].append(
        {"name": "kids", "path": "/parents/{pid}/kids", "parent": "items", "parent_keys": {"pid": "id"}}
    )
    before = len(server.paths)
    outcome = run(tmp_path, config)
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    assert "/parents/a%2F..%2Fb/kids" in server.paths[before:]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"bookmarks": {"items": {"replication_key_va', "is not valid JSON (Unterminated string"),
        ("[1, 2]", "not a Singer state: expected a JSON object, got a list"),
        ('{"bookmarks": []}', 'not a Singer state: "bookmarks" should be an object'),
        ('{"bookmarks": {"items": 5}}', '"bookmarks"."items" should be an object, got a number'),
        ("", "the state file is empty"),
    ],
)
def test_bad_state_file_is_one_line(server, tmp_path, content, expected):
    outcome = run(tmp_path, config_for(server, {"path": "/ignored"}), state=content)
    line = assert_one_error(outcome, "--state ", "state.json", expected)
    assert outcome.stdout == ""
    assert line.startswith("tap-restoauth: error:")


def test_token_endpoint_is_held_to_the_deadline(server, tmp_path):
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": f"{server.url}/trickle",
        "client_id": "id",
        "client_secret": "a-client-secret",
    }
    config = config_for(server, {"path": "/ignored"}, auth=auth, request_deadline_seconds=2)
    outcome = run(tmp_path, config)
    line = assert_one_error(outcome, f"POST {server.url}/trickle", "request_deadline_seconds (2s")
    assert "a-client-secret" not in outcome.stderr + line

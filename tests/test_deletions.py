"""Deleted-record signals: a deleted-records endpoint and a deleted flag become `_sdc_deleted_at` records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_restoauth.records.deletions import DeletedWhen, as_timestamp
from tests.deletions_api import DeletionsApi, stamp
from tests.helpers import ISOLATED_ENV, TapRun, discover, run_tap
from tests.test_versions import SDK_WRITER_TAP


@pytest.fixture
def api() -> t.Iterator[DeletionsApi]:
    server = DeletionsApi().start()
    yield server
    server.stop()


def only(api: DeletionsApi, *names: str) -> dict[str, t.Any]:
    config = api.config()
    config["streams"] = [s for s in config["streams"] if s["name"] in names]
    return config


def test_deleted_records_endpoint_emits_key_and_deleted_at_and_keeps_its_own_bookmark(api, tmp_path):
    api.deleted = [{"id": 2, "deleted_at": stamp(20)}, {"id": 5, "deleted_at": stamp(21)}]
    first = run_tap(tmp_path / "1", only(api, "tickets"))
    assert first.returncode == 0, first.stderr
    records = first.records("tickets")
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5, 6, 2, 5]
    assert records[-2:] == [
        {"id": 2, "_sdc_deleted_at": "2024-03-01T00:20:00Z"},
        {"id": 5, "_sdc_deleted_at": "2024-03-01T00:21:00Z"},
    ]
    state = first.final_state["bookmarks"]["tickets"]
    assert state["replication_key_value"] == stamp(6)  # the stream's bookmark ignores deletion records
    assert state["deletions"] == {"replication_key_value": stamp(21)}
    # STATE with the deletion bookmark comes only after the deletion records
    last_deleted = max(i for i, m in enumerate(first.messages) if m.get("record", {}).get("_sdc_deleted_at"))
    first_marked = min(
        i
        for i, m in enumerate(first.messages)
        if m["type"] == "STATE" and "deletions" in m["value"]["bookmarks"]["tickets"]
    )
    assert first_marked > last_deleted

    api.deleted.append({"id": 6, "deleted_at": stamp(30)})
    api.requested.clear()
    second = run_tap(tmp_path / "2", only(api, "tickets"), state=first.final_state)
    assert "/deleted_tickets?since=2024-03-01T00%3A21%3A00%2B00%3A00" in api.requested
    deleted = [r for r in second.records("tickets") if "_sdc_deleted_at" in r]
    assert deleted == [{"id": 5, "_sdc_deleted_at": stamp(21)}, {"id": 6, "_sdc_deleted_at": stamp(30)}]
    assert second.final_state["bookmarks"]["tickets"]["deletions"] == {"replication_key_value": stamp(30)}


def test_schema_gains_a_nullable_deleted_at(api, tmp_path):
    catalog = discover(tmp_path, only(api, "tickets", "contacts", "plans"))
    schemas = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    expected = {"type": ["string", "null"], "format": "date-time"}
    assert schemas["tickets"]["_sdc_deleted_at"] == expected
    assert schemas["contacts"]["_sdc_deleted_at"] == expected
    assert "_sdc_deleted_at" not in schemas["plans"]


def test_deleted_when_flags_archived_records_and_clears_restored_ones(api, tmp_path):
    api.contacts[3] = (True, stamp(9))
    run = run_tap(tmp_path, only(api, "contacts"))
    assert run.returncode == 0, run.stderr
    marks = {r["id"]: r["_sdc_deleted_at"] for r in run.records("contacts")}
    assert [i for i, at in marks.items() if at] == [3]
    assert marks[3].endswith("Z")
    assert run.final_state["bookmarks"]["contacts"]["replication_key_value"] == stamp(9)


def test_deleted_when_takes_the_deletion_time_from_a_field():
    rule = DeletedWhen(field="status", equals="deleted", deleted_at="archived_at")
    records = [
        {"id": 1, "status": "deleted", "archived_at": 1709251200},
        {"id": 2, "status": "open"},
        {"id": 3, "status": "deleted", "archived_at": "2024-03-01T01:00:00+01:00"},
    ]
    rule.mark(records)
    assert [r["_sdc_deleted_at"] for r in records] == ["2024-03-01T00:00:00Z", None, "2024-03-01T00:00:00Z"]


def test_a_deleted_record_without_its_key_fails_with_one_line(api, tmp_path):
    api.deleted = [{"ticket": 2, "deleted_at": stamp(20)}]
    run = run_tap(tmp_path, only(api, "tickets"))
    assert run.returncode != 0
    assert run.error_lines() == [
        "tap-restoauth: error: tickets: a deleted record has no 'id' (its fields: ticket, deleted_at); "
        "check deletions.key and deletions.records_path"
    ]
    assert all("deletions" not in s["bookmarks"].get("tickets", {}) for s in run.states)


@pytest.mark.parametrize(
    ("deletions", "error"),
    [
        ({"records_path": "$.x"}, "streams[tickets].deletions.path is required"),
        ({"path": "/d", "incremental": {"param": "since"}}, "needs streams[tickets].deletions.deleted_at"),
        ({"path": "/d", "colour": 1}, "streams[tickets].deletions: unknown option(s) colour"),
    ],
)
def test_deletions_config_errors_name_the_setting(api, tmp_path, deletions, error):
    config = only(api, "tickets")
    config["streams"][0]["deletions"] = deletions
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert error in run.stderr


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40)))
def test_deletion_times_from_the_api_are_timestamps_or_the_time_of_reading(value):
    result = as_timestamp(value, "READ")
    assert result == "READ" or (result.endswith("Z") and "T" in result)


def test_the_sdk_record_loop_writes_deletion_records_and_their_bookmark_too(api, tmp_path):
    """With another message writer the SDK's own record loop runs: the same records and state."""
    api.deleted = [{"id": 2, "deleted_at": stamp(20)}]
    api.contacts[3] = (True, stamp(9))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(only(api, "tickets", "contacts")))
    done = subprocess.run(
        [sys.executable, "-c", SDK_WRITER_TAP, "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines() if line]
    run = TapRun(done.returncode, done.stdout, done.stderr, messages)
    assert run.records("tickets")[-1] == {"id": 2, "_sdc_deleted_at": stamp(20)}
    assert [r["id"] for r in run.records("contacts") if r["_sdc_deleted_at"]] == [3]
    tickets = run.final_state["bookmarks"]["tickets"]
    assert tickets["deletions"] == {"replication_key_value": stamp(20)}
    assert tickets["replication_key_value"] == stamp(6)

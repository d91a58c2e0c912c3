"""Incremental sync: the bookmark goes to the API, and never backwards."""

from __future__ import annotations

import typing as t

import pytest

from tests.helpers import run_tap
from tests.paging_server import PagingServer, make_records


@pytest.fixture
def server() -> t.Iterator[PagingServer]:
    server = PagingServer(23).start()
    yield server
    server.stop()


@pytest.fixture
def ignoring_server() -> t.Iterator[PagingServer]:
    server = PagingServer(23, ignore_filter=True).start()
    yield server
    server.stop()


def config(server: PagingServer) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "start_date": "2024-01-05T00:00:00Z",
        "streams": [
            {
                "name": "items",
                "path": "/page",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "incremental": {"param": "since"},
                "pagination": {"type": "page_number", "size_param": "size", "page_size": 5},
            }
        ],
    }


def bookmark(state: dict[str, t.Any]) -> str:
    return state["bookmarks"]["items"]["replication_key_value"]


def test_second_run_emits_only_newer_records(server, tmp_path):
    first = run_tap(tmp_path / "1", config(server))
    assert first.returncode == 0, first.stderr
    assert [r["id"] for r in first.records("items")] == list(range(4, 24))
    assert server.hits("/page")[-1]["since"] == "2024-01-05T00:00:00+00:00"
    assert bookmark(first.final_state) == "2024-01-24T00:00:00Z"

    server.records.extend(make_records(26)[23:])
    second = run_tap(tmp_path / "2", config(server), state=first.final_state)
    assert second.returncode == 0, second.stderr
    # The bookmark itself is sent again (inclusive filter), then the new records.
    assert [r["id"] for r in second.records("items")] == [23, 24, 25, 26]
    assert server.hits("/page")[-1]["since"] == "2024-01-24T00:00:00+00:00"
    assert bookmark(second.final_state) == "2024-01-27T00:00:00Z"


def test_api_ignoring_the_filter_cannot_move_the_bookmark_back(ignoring_server, tmp_path):
    state = {
        "bookmarks": {
            "items": {"replication_key": "updated_at", "replication_key_value": "2024-01-20T00:00:00Z"}
        }
    }
    run = run_tap(tmp_path, config(ignoring_server), state=state)
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("items")] == [19, 20, 21, 22, 23]
    assert "dropped 18 records older than the bookmark" in run.stderr
    assert bookmark(run.final_state) == "2024-01-24T00:00:00Z"

    later = {
        "bookmarks": {
            "items": {"replication_key": "updated_at", "replication_key_value": "2030-01-01T00:00:00Z"}
        }
    }
    run = run_tap(tmp_path / "later", config(ignoring_server), state=later)
    assert run.returncode == 0, run.stderr
    assert run.records("items") == []
    assert bookmark(run.final_state) == "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("fmt", "sent"),
    [("epoch", "1704412800"), ("epoch_ms", "1704412800000"), ("date", "2024-01-05"), ("%Y%m%d", "20240105")],
)
def test_bookmark_formats(server, tmp_path, fmt, sent):
    cfg = config(server)
    cfg["streams"][0]["incremental"]["format"] = fmt
    cfg["streams"][0]["max_pages"] = 1
    run = run_tap(tmp_path, cfg)
    assert run.returncode == 0, run.stderr
    assert server.hits("/page")[-1]["since"] == sent


def test_records_without_a_replication_value_are_emitted_and_skip_the_bookmark(server, tmp_path):
    server.records[21]["updated_at"] = None
    del server.records[22]["updated_at"]
    run = run_tap(tmp_path, config(server))
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("items")][-3:] == [21, 22, 23]
    assert bookmark(run.final_state) == "2024-01-22T00:00:00Z"  # record 21's
    assert "a record has no 'updated_at' value" in run.stderr
    assert "Traceback" not in run.stderr

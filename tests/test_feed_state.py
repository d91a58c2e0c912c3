"""Newest-first feeds (order: desc) and one bookmark for all parents (per_parent: false)."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tests.helpers import run_tap
from tests.request_server import Request, RequestServer

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def stamp(day: int) -> str:
    return (EPOCH + dt.timedelta(days=day)).isoformat().replace("+00:00", "Z")


FEED = [{"id": n, "at": stamp(n)} for n in range(20, 0, -1)]  # newest first
EVENTS = {"p1": [1, 9], "p2": [2, 4], "p3": []}  # days of each parent's events
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"}},
}


def _feed(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    page = int(request.query.get("page", 1))
    return 200, {"data": FEED[(page - 1) * 5 : page * 5]}, {}


def _parents(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    return 200, {"data": [{"id": key} for key in EVENTS]}, {}


def _events(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    parent = request.path.split("/")[2]
    if parent == request.headers.get("x-fail-for"):
        return 400, {"error": "nope"}, {}
    since = request.query.get("since", "")
    rows = [
        {"id": f"{parent}-{d}", "at": stamp(d)}
        for d in EVENTS[parent]
        if stamp(d) >= since.replace("+00:00", "Z")
    ]
    return 200, {"data": rows}, {}


@pytest.fixture
def server() -> t.Iterator[RequestServer]:
    server = RequestServer({"/feed": _feed, "/parents": _parents, "*": _events}).start()
    yield server
    server.stop()


def test_desc_feed_stops_paging_at_the_first_record_older_than_the_bookmark(server, tmp_path):
    config = {
        "api_url": server.url,
        "streams": [
            {
                "name": "feed",
                "path": "/feed",
                "primary_keys": ["id"],
                "replication_key": "at",
                "incremental": {"order": "desc"},
                "schema": {**SCHEMA, "properties": {**SCHEMA["properties"], "id": {"type": "integer"}}},
                "pagination": {"type": "page_number", "page_size": 5},
            }
        ],
    }
    state = {"bookmarks": {"feed": {"replication_key": "at", "replication_key_value": stamp(12)}}}
    run = run_tap(tmp_path, config, state=state)
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("feed")] == list(range(20, 11, -1))
    assert [r.query["page"] for r in server.hits("/feed")] == ["1", "2"]  # pages 3 and 4 never asked
    assert run.final_state["bookmarks"]["feed"]["replication_key_value"] == stamp(20)


def config(server: RequestServer, per_parent: bool, fail_for: str | None = None) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "start_date": stamp(0),
        "max_retries": 0,
        "headers": {"X-Fail-For": fail_for or "none"},
        "streams": [
            {"name": "parents", "path": "/parents", "primary_keys": ["id"], "pagination": {"type": "none"}},
            {
                "name": "events",
                "parent": "parents",
                "path": "/parents/{parent.id}/events",
                "primary_keys": ["id"],
                "replication_key": "at",
                "schema": SCHEMA,
                "incremental": {"param": "since", "per_parent": per_parent},
                "pagination": {"type": "none"},
            },
        ],
    }


def test_one_bookmark_for_all_parents_is_the_lowest_parent_high_water_mark(server, tmp_path):
    run = run_tap(tmp_path / "1", config(server, per_parent=False))
    assert run.returncode == 0, run.stderr
    assert len(run.records("events")) == 4
    events_state = run.final_state["bookmarks"]["events"]
    assert "partitions" not in events_state
    # p1 reached day 9, p2 day 4, p3 has nothing: day 4 is safe for every parent.
    assert events_state["replication_key_value"] == stamp(4)

    server.requests.clear()
    again = run_tap(tmp_path / "2", config(server, per_parent=False), state=run.final_state)
    assert again.returncode == 0, again.stderr
    assert {r.query["since"] for r in server.requests if r.path.endswith("/events")} == {
        "2024-01-05T00:00:00+00:00"
    }
    assert [r["id"] for r in again.records("events")] == ["p1-9", "p2-4"]


def test_default_keeps_a_bookmark_per_parent(server, tmp_path):
    run = run_tap(tmp_path, config(server, per_parent=True))
    assert run.returncode == 0, run.stderr
    marks = {
        p["context"]["parent_id"]: p.get("replication_key_value")
        for p in run.final_state["bookmarks"]["events"]["partitions"]
    }
    assert marks == {"p1": stamp(9), "p2": stamp(4), "p3": None}


def test_shared_bookmark_does_not_move_when_a_parent_fails(server, tmp_path):
    run = run_tap(tmp_path, config(server, per_parent=False, fail_for="p2"))
    assert run.returncode == 1
    assert "replication_key_value" not in run.final_state.get("bookmarks", {}).get("events", {})


def test_windowed_child_with_one_bookmark_reads_every_parent_from_the_same_start(server, tmp_path):
    cfg = config(server, per_parent=False)
    cfg["streams"][1]["incremental"] = {
        "param": "since",
        "step": "P5D",
        "end": stamp(10),
        "per_parent": False,
    }
    run = run_tap(tmp_path, cfg)
    assert run.returncode == 0, run.stderr
    sent = [(r.path.split("/")[2], r.query["since"]) for r in server.requests if r.path.endswith("/events")]
    # Every parent starts at start_date: the first parent's windows do not move the shared bookmark.
    assert [since for parent, since in sent if parent in {"p1", "p2", "p3"}][::2] == [
        "2024-01-01T00:00:00+00:00"
    ] * 3
    assert {r["id"] for r in run.records("events")} == {"p1-1", "p1-9", "p2-2", "p2-4"}
    assert run.final_state["bookmarks"]["events"]["replication_key_value"] == "2024-01-11T00:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"incremental": {"per_parent": False}},
            "streams[feed].incremental.per_parent applies to child streams",
        ),
        (
            {"incremental": {"order": "desc"}, "is_sorted": True},
            "is_sorted means ascending replication_key order",
        ),
        ({"incremental": {"order": "newest"}}, "streams[feed].incremental.order: expected one of asc, desc"),
    ],
)
def test_contradicting_incremental_options_are_config_errors(server, tmp_path, changes, message):
    stream = {"name": "feed", "path": "/feed", "primary_keys": ["id"], "replication_key": "at", **changes}
    run = run_tap(tmp_path, {"api_url": server.url, "streams": [stream]})
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert message in line

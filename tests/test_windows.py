"""Date-window incremental: contiguous windows, STATE per finished window, concurrency."""

from __future__ import annotations

import datetime as dt
import itertools
import typing as t

import pytest

from tap_restoauth.fetch.windows import Duration, plan
from tests.helpers import run_tap
from tests.request_server import Request, RequestServer

UTC = dt.timezone.utc
EPOCH = dt.datetime(2024, 1, 1, tzinfo=UTC)
RECORDS = [
    {"id": n, "at": (EPOCH + dt.timedelta(hours=6 * n)).isoformat().replace("+00:00", "Z")} for n in range(40)
]
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}},
}


class ReportApi:
    """`GET /report?from=YYYY-MM-DD&to=YYYY-MM-DD` (both inclusive, at most 31 days)."""

    def __init__(self) -> None:
        self.fail_on: str | None = None

    def __call__(self, request: Request) -> tuple[int, t.Any, dict[str, str]]:
        start, end = request.query["from"], request.query["to"]
        if self.fail_on == start:
            return 400, {"error": "boom"}, {}
        if dt.date.fromisoformat(end) < dt.date.fromisoformat(start):
            return 400, {"error": "to before from"}, {}
        if (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days > 30:
            return 400, {"error": "at most 31 days"}, {}
        rows = [r for r in RECORDS if start <= r["at"][:10] <= end]
        return 200, {"rows": rows}, {}


@pytest.fixture
def api() -> t.Iterator[tuple[RequestServer, ReportApi]]:
    report = ReportApi()
    server = RequestServer({"/report": report}).start()
    yield server, report
    server.stop()


def config(server: RequestServer, **incremental: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "start_date": "2024-01-01T00:00:00Z",
        "max_retries": 0,
        "streams": [
            {
                "name": "report",
                "path": "/report",
                "records_path": "$.rows[*]",
                "primary_keys": ["id"],
                "replication_key": "at",
                "schema": SCHEMA,
                "pagination": {"type": "none"},
                "incremental": {
                    "param": "from",
                    "end_param": "to",
                    "format": "date",
                    "step": "P1D",
                    "granularity": "P1D",
                    "end": "2024-01-08T12:00:00Z",
                    **incremental,
                },
            }
        ],
    }


def bookmark(state: dict[str, t.Any]) -> str:
    return state["bookmarks"]["report"]["replication_key_value"]


def test_daily_windows_neither_overlap_nor_leave_gaps(api, tmp_path):
    server, _ = api
    run = run_tap(tmp_path, config(server))
    assert run.returncode == 0, run.stderr
    sent = [(r.query["from"], r.query["to"]) for r in server.hits("/report")]
    days = [f"2024-01-0{d}" for d in range(1, 9)]
    assert sent == [(day, day) for day in days]
    assert [r["id"] for r in run.records("report")] == list(range(32))
    # The last window (Jan 8) is read up to `end` only: the bookmark is `end`, not Jan 9.
    assert bookmark(run.final_state) == "2024-01-08T12:00:00+00:00"
    # STATE after each finished window, in order.
    window_marks = [s["bookmarks"]["report"].get("replication_key_value") for s in run.states]
    assert [m for m in window_marks if m][:3] == [
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T00:00:00+00:00",
        "2024-01-04T00:00:00+00:00",
    ]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_interrupted_run_resumes_at_the_first_unfinished_window(api, tmp_path, concurrency):
    server, report = api
    report.fail_on = "2024-01-05"
    # With concurrency, later windows are fetched too, but nothing after the failed one is emitted.
    first = run_tap(tmp_path / "1", {**config(server), "concurrency": concurrency})
    assert first.returncode == 1
    assert bookmark(first.final_state) == "2024-01-05T00:00:00+00:00"
    assert [r["id"] for r in first.records("report")] == list(range(16))

    report.fail_on = None
    server.requests.clear()
    second = run_tap(tmp_path / "2", config(server), state=first.final_state)
    assert second.returncode == 0, second.stderr
    assert server.hits("/report")[0].query["from"] == "2024-01-05"
    assert [r["id"] for r in second.records("report")] == list(range(16, 32))
    assert bookmark(second.final_state) == "2024-01-08T12:00:00+00:00"


def test_concurrent_windows_emit_the_same_records_and_state_in_order(api, tmp_path):
    server, _ = api
    server.delay = 0.05
    one = run_tap(tmp_path / "1", config(server))
    server.max_in_flight = 0
    four = run_tap(tmp_path / "4", {**config(server), "concurrency": 4})
    assert four.returncode == 0, four.stderr
    assert server.max_in_flight > 1
    assert four.records("report") == one.records("report")
    assert without_signposts(four.states) == without_signposts(one.states)


def without_signposts(states: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """STATE messages without the SDK's signpost (the wall-clock time the run started)."""
    return [
        {"bookmarks": {name: {k: v for k, v in mark.items() if k != "replication_key_signpost"}}}
        for state in states
        for name, mark in state["bookmarks"].items()
    ]


def test_lookback_rereads_before_the_bookmark_and_a_month_step_caps_each_request(api, tmp_path):
    server, _ = api
    state = {
        "bookmarks": {"report": {"replication_key": "at", "replication_key_value": "2024-01-06T00:00:00Z"}}
    }
    run = run_tap(tmp_path, config(server, step="P1M", lookback="P2D"), state=state)
    assert run.returncode == 0, run.stderr
    assert [(r.query["from"], r.query["to"]) for r in server.hits("/report")] == [
        ("2024-01-04", "2024-01-08")
    ]
    assert [r["id"] for r in run.records("report")] == list(range(12, 32))
    assert bookmark(run.final_state) == "2024-01-08T12:00:00+00:00"


def test_window_plan_units():
    day = Duration.parse("P1D", "step")
    second = Duration.parse("PT1S", "granularity")
    start = dt.datetime(2024, 1, 30, 10, tzinfo=UTC)
    end = dt.datetime(2024, 4, 2, tzinfo=UTC)
    months = plan(start, end, step=Duration.parse("P1M", "step"), granularity=day)
    assert [(w.start.date().isoformat(), w.sent_end.date().isoformat()) for w in months] == [
        ("2024-01-30", "2024-02-28"),
        ("2024-02-29", "2024-03-29"),
        ("2024-03-30", "2024-04-01"),
    ]
    hours = plan(
        start, start + dt.timedelta(hours=13), step=Duration.parse("PT6H", "step"), granularity=second
    )
    assert [w.sent_end - w.start for w in hours] == [dt.timedelta(hours=6, seconds=-1)] * 2 + [
        dt.timedelta(hours=1, seconds=-1)
    ]
    assert all(a.end == b.start for a, b in itertools.pairwise(hours))
    assert plan(end, start, step=day) == []
    week = Duration.parse("P1W", "granularity")
    assert week.floor(dt.datetime(2024, 1, 4, 15, tzinfo=UTC)) == dt.datetime(
        2024, 1, 1, tzinfo=UTC
    )  # a Monday
    with pytest.raises(Exception, match="ISO 8601 duration"):
        Duration.parse("1 day", "step")


def test_a_step_making_too_many_windows_is_one_error_line(api, tmp_path):
    server, _ = api
    run = run_tap(tmp_path, config(server, step="PT1S", granularity=None, end="2030-01-01T00:00:00Z"))
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "makes more than 100,000 windows; use a larger step" in line
    assert not server.hits("/report")


class DayRowsApi:
    """`GET /report?from=&to=` answering rows whose replication key is a plain date."""

    def __call__(self, request: Request) -> tuple[int, t.Any, dict[str, str]]:
        start, end = request.query["from"], request.query["to"]
        return (
            200,
            {"rows": [{"id": r["id"], "day": r["at"][:10]} for r in RECORDS if start <= r["at"][:10] <= end]},
            {},
        )


def test_a_windowed_stream_with_a_date_replication_key_resumes_from_its_bookmark(tmp_path):
    server = RequestServer({"/report": DayRowsApi()}).start()
    try:
        settings = config(server)
        stream = settings["streams"][0]
        stream["replication_key"] = "day"
        stream["schema"] = {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "day": {"type": "string", "format": "date"}},
        }
        first = run_tap(tmp_path / "1", settings)
        assert first.returncode == 0, first.stderr
        assert "Traceback" not in first.stderr
        assert [r["id"] for r in first.records("report")] == list(range(32))
        assert (
            first.final_state["bookmarks"]["report"]["replication_key_value"] == "2024-01-08T12:00:00+00:00"
        )
        server.requests.clear()
        second = run_tap(tmp_path / "2", settings, state=first.final_state)
        assert second.returncode == 0, second.stderr
        assert [r.query["from"] for r in server.hits("/report")] == ["2024-01-08"]
    finally:
        server.stop()

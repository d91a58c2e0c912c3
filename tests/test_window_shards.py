"""Sharded date windows: N processes split a windowed stream by window, on one grid.

The windows are two days (P2D) on inclusive dates (granularity P1D), so the grid
(cells of two UTC days counted from 1970-01-01: ..., Dec 31, Jan 2, ...) differs from
windows anchored on start_date (Jan 1) or on a shard's own bookmark.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tap_restoauth.fetch.windows import Duration, plan
from tap_restoauth.sync.shards import Shards, ShardSettings, unit_key
from tests.helpers import TapRun, run_tap
from tests.request_server import Reply, Request, RequestServer

# End-to-end (several tap processes over a window grid): scripts/test.sh --quick skips them.
pytestmark = pytest.mark.e2e

UTC = dt.timezone.utc
FIRST = dt.datetime(2024, 1, 1, tzinfo=UTC)
RECORDS = [
    {"id": n, "at": (FIRST + dt.timedelta(hours=6 * n)).isoformat().replace("+00:00", "Z")}
    for n in range(124)
]
FIRST_END, SECOND_END = "2024-01-21T00:00:00Z", "2024-01-31T00:00:00Z"  # the 2nd run ends mid-cell
STEP = Duration.parse("P2D", "step")


def report(request: Request) -> Reply:
    """`GET /report?from=YYYY-MM-DD&to=YYYY-MM-DD`, both inclusive."""
    start, end = request.query["from"], request.query["to"]
    if end < start:
        return 400, {"error": "to before from"}, {}
    return 200, {"rows": [r for r in RECORDS if start <= r["at"][:10] <= end]}, {}


@pytest.fixture
def server() -> t.Iterator[RequestServer]:
    server = RequestServer({"/report": report}).start()
    yield server
    server.stop()


def config(server: RequestServer, end: str) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "start_date": "2024-01-01T00:00:00Z",
        "max_retries": 0,
        "audit": True,
        "concurrency": 2,
        "streams": [
            {
                "name": "metrics",
                "path": "/report",
                "records_path": "$.rows[*]",
                "primary_keys": ["id"],
                "replication_key": "at",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                    },
                },
                "pagination": {"type": "none"},
                "incremental": {
                    "param": "from",
                    "end_param": "to",
                    "format": "date",
                    "step": "P2D",
                    "granularity": "P1D",
                    "end": end,
                },
            }
        ],
    }


def run_shards(tmp_path: Path, base: dict[str, t.Any], states: list[dict[str, t.Any] | None]) -> list[TapRun]:
    """One tap process per shard, all at once; each sends `X-Shard: <index>`."""
    count = len(states)

    def run(index: int) -> TapRun:
        shard_config = {**base, "shard": {"index": index, "count": count}, "headers": {"X-Shard": str(index)}}
        return run_tap(tmp_path / f"shard-{index}", shard_config, state=states[index])

    with ThreadPoolExecutor(count) as pool:
        runs = list(pool.map(run, range(count)))
    for done in runs:
        assert done.returncode == 0, done.stderr
    return runs


def records(runs: list[TapRun]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True) for done in runs for r in done.records("metrics"))


def requested(server: RequestServer, shard: int) -> list[tuple[str, str]]:
    return [
        (r.query["from"], r.query["to"]) for r in server.hits("/report") if r.headers["x-shard"] == str(shard)
    ]


def cell(day: str) -> str:
    """The grid key of the window starting on `day`: the start of its two-day cell."""
    return STEP.floor(dt.datetime.fromisoformat(day).replace(tzinfo=UTC)).isoformat()


def test_three_shards_fetch_each_window_of_the_grid_once_and_resume_on_it(server, tmp_path):
    (single,) = run_shards(tmp_path / "one", config(server, FIRST_END), [None])
    server.requests.clear()
    first = run_shards(tmp_path / "three", config(server, FIRST_END), [None, None, None])

    # The union of the shards' records is the one shard's, each record once.
    assert records(first) == records([single])
    assert set(records(first).values()) == {1}
    assert len(records(first)) == 80  # Jan 1 to Jan 20, four a day

    # Each shard requested only windows it owns, on the grid: a first window clipped to
    # start_date (Jan 1, in the cell from Dec 31), then whole two-day cells.
    owners = [Shards(ShardSettings(index, 3)) for index in range(3)]
    windows = []
    for index, shard in enumerate(owners):
        sent = requested(server, index)
        assert sent, f"shard {index} fetched no window"
        assert all(shard.owns(unit_key("metrics", None, cell(start))) for start, _ in sent), sent
        windows += sent
    days = [(FIRST + dt.timedelta(days=n)).date().isoformat() for n in range(21)]
    assert sorted(windows) == [("2024-01-01", "2024-01-01")] + [
        (days[n], days[n + 1]) for n in range(1, 19, 2)
    ] + [("2024-01-20", "2024-01-20")]

    # One audit record per window fetched, with its bounds; together they count every record.
    audit = [r for done in first for r in done.records("_audit")]
    assert sorted(
        (r["window_start"][:10], r["window_end"][:10]) for r in audit if r["window_start"]
    ) == sorted(
        (start, (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat()) for start, end in windows
    )
    assert all(r["unit"] == f"metrics @{cell(r['window_start'][:10])}" for r in audit if r["window_start"])
    assert sum(r["records"] for r in audit) == 80
    assert all(r["outcome"] == "complete" and r["shard_count"] == 3 for r in audit)

    # The next run: each shard from its own bookmark, on the same grid; nothing twice.
    server.requests.clear()
    second = run_shards(tmp_path / "again", config(server, SECOND_END), [done.final_state for done in first])
    again = records(second)
    assert not set(again) & set(records(first))
    assert set(again.values()) == {1}
    assert {json.loads(r)["at"][:10] for r in again} == {f"2024-01-{d}" for d in range(21, 31)}
    sent = [w for index in range(3) for w in requested(server, index)]
    assert sorted(sent)[0] == ("2024-01-21", "2024-01-21")  # the cell from Jan 20, clipped to the bookmark
    assert len(sent) == len(set(sent)) == 6  # Jan 21, 22-23, 24-25, 26-27, 28-29, 30
    for index, shard in enumerate(owners):
        assert all(
            shard.owns(unit_key("metrics", None, cell(start))) for start, _ in requested(server, index)
        )


def test_grid_windows_do_not_depend_on_where_the_range_starts():
    day = Duration.parse("P1D", "granularity")
    end = dt.datetime(2024, 3, 10, 12, tzinfo=UTC)
    for start in (dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 20, 6, tzinfo=UTC)):
        windows = plan(start, end, step=Duration.parse("P1M", "step"), granularity=day, grid=True)
        assert [w.key[:10] for w in windows] == [f"2024-0{m}-01" for m in range(start.month, 4)]
        assert windows[0].start == day.floor(start)  # clipped to the start, keyed by its cell
        assert [w.end.date().isoformat() for w in windows[:-1]] == [
            f"2024-0{m}-01" for m in range(start.month + 1, 4)
        ]
        assert windows[-1].done_at == end
    two_days = plan(FIRST, FIRST + dt.timedelta(days=5), step=STEP, granularity=day, grid=True)
    assert [(w.start.day, w.end.day, w.key[:10]) for w in two_days] == [
        (1, 2, "2023-12-31"),
        (2, 4, "2024-01-02"),
        (4, 6, "2024-01-04"),
    ]

"""Child-stream state stays linear: STATE held back by an interval, partitions folded beyond a cap.

A local API lists parents (page-number pages) and, for each parent, its events
(incremental on `updated_at`, the tap dropping events older than the bookmark).
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tap_restoauth.sync.child_state import PartitionStateManager
from tests.helpers import run_tap

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
PAGE = 20


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ParentsServer(LocalServer):
    """`parents` parents; each has two events, then one more per `add_events` round."""

    def __init__(self, parents: int) -> None:
        super().__init__(_Handler, 0)
        self.parents = parents
        self.rounds = 1
        self.fail_at: int | None = None  # events of this parent answer 500
        self.lock = threading.Lock()
        self.requests = 0

    def events(self, parent: int) -> list[dict[str, t.Any]]:
        """Spread over time independently of the id (the earliest: parent 40, in the middle).

        Each round adds an event just after the parent's last one.
        """
        base = EPOCH + dt.timedelta(hours=((parent + 20) * 37) % self.parents)
        found = [
            {"id": parent * 1000 + k, "parent_id": parent, "updated_at": _iso(base + dt.timedelta(minutes=k))}
            for k in (1, 2)
        ]
        for round_number in range(2, self.rounds + 1):
            moment = base + dt.timedelta(minutes=1 + round_number)
            event_id = parent * 1000 + 1 + round_number
            found.append({"id": event_id, "parent_id": parent, "updated_at": _iso(moment)})
        return found


class _Handler(JsonHandler):
    server: ParentsServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        if segments == ["parents"]:
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            total = -(-self.server.parents // PAGE)
            ids = range((page - 1) * PAGE + 1, min(self.server.parents, page * PAGE) + 1)
            self.send_json(200, {"data": [{"id": n} for n in ids], "meta": {"total_pages": total}})
        elif len(segments) == 3 and segments[0] == "parents" and segments[2] == "events":
            parent = int(segments[1])
            if parent == self.server.fail_at:
                self.send_json(500, {"error": "down"})
            else:
                self.send_json(200, {"data": self.server.events(parent)})
        else:
            self.send_json(404, {"error": "not found"})


@pytest.fixture
def api() -> t.Iterator[ParentsServer]:
    server = ParentsServer(60).start()
    yield server
    server.stop()


def _config(server: ParentsServer, **top: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "max_retries": 0,
        "streams": [
            {
                "name": "parents",
                "path": "/parents",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "pagination": {"type": "page_number", "total_pages_path": "$.meta.total_pages"},
                "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            },
            {
                "name": "events",
                "path": "/parents/{parent_id}/events",
                "parent": "parents",
                "parent_keys": {"parent_id": "id"},
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "parent_id": {"type": "integer"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        ],
        **top,
    }


def _bookmark(state: dict[str, t.Any]) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", state["bookmarks"]["events"])


def test_partitions_beyond_the_cap_fold_into_the_lowest_bookmark(tmp_path: t.Any, api: ParentsServer) -> None:
    run = run_tap(tmp_path, _config(api, state_max_partitions=10, state_interval_seconds=0))
    assert run.returncode == 0, run.stderr
    assert len(run.records("events")) == 120
    for state in run.states:  # every STATE message is whole, and bounded
        assert len(_bookmark(state).get("partitions", [])) <= 10
    final = _bookmark(run.final_state)
    kept = {entry["context"]["parent_id"]: entry["replication_key_value"] for entry in final["partitions"]}
    highest: dict[int, str] = {}
    for record in run.records("events"):
        highest[record["parent_id"]] = max(highest.get(record["parent_id"], ""), record["updated_at"])
    assert {parent: highest[parent] for parent in kept} == kept  # kept ones: exact per-parent bookmarks
    folded = set(highest) - set(kept)
    assert final["folded_partitions"] == len(folded) == 60 - len(kept)
    # The parents list is read whole every run: the fold is the lowest folded bookmark.
    assert final["replication_key_value"] == min(highest[parent] for parent in folded)


def test_resume_after_a_cut_in_the_middle_loses_no_record(tmp_path: t.Any, api: ParentsServer) -> None:
    config = _config(api, state_max_partitions=10, state_interval_seconds=0)
    first = run_tap(tmp_path / "first", config)
    assert first.returncode == 0, first.stderr
    api.rounds = 2  # every parent gets one event just after its own bookmark
    api.fail_at = 30
    # STATE held back all along (interval of an hour) is written when the run fails.
    held = {**config, "state_interval_seconds": 3600}
    cut = run_tap(tmp_path / "cut", held, state=first.final_state)
    assert cut.returncode != 0
    assert len(cut.states) == 2  # the input state echoed at the start, then the state at the failure
    assert cut.final_state != first.final_state
    assert len(_bookmark(cut.final_state)["partitions"]) <= 10
    api.fail_at = None
    resumed = run_tap(tmp_path / "resumed", config, state=cut.final_state)
    assert resumed.returncode == 0, resumed.stderr
    emitted = {record["id"] for record in cut.records("events") + resumed.records("events")}
    new = {event["id"] for parent in range(1, 61) for event in api.events(parent)[2:]}
    assert new <= emitted, f"lost: {sorted(new - emitted)}"


def test_state_is_written_at_most_every_interval_and_at_the_end(tmp_path: t.Any, api: ParentsServer) -> None:
    held = run_tap(tmp_path / "held", _config(api, state_interval_seconds=3600))
    every = run_tap(tmp_path / "every", _config(api, state_interval_seconds=0))
    assert held.returncode == every.returncode == 0, held.stderr + every.stderr
    assert len(held.states) == 1  # only the end
    assert len(every.states) >= 60  # one per parent
    assert held.final_state == every.final_state
    assert len(_bookmark(held.final_state)["partitions"]) == 60  # under the cap: nothing folded


# Folding as a property: over any sequence of parents, caps and a cut, every parent resumes at
# or before its own bookmark (a parent without a bookmark from the beginning).

Run = list[tuple[int, int | None]]  # (parent, its highest value this run, None: no record)


def _sync(state: dict[str, t.Any], run: Run, cap: int, *, complete: bool) -> None:
    manager = PartitionStateManager(
        tap_name="tap",
        stream_name="events",
        tap_state=state,
        state_partitioning_keys=None,
        replication_key="n",
        max_partitions=cap,
        timestamps=False,
        complete_pass=complete,
    )
    for parent, value in run:
        entry = manager.get_context_state({"parent": parent})
        if value is not None:
            entry["replication_key"], entry["replication_key_value"] = "n", value
    if complete:
        manager.pass_complete()


def _resumes_from(state: dict[str, t.Any], parent: int) -> int | None:
    bookmark = state["bookmarks"]["events"]
    for entry in bookmark.get("partitions", []):
        if entry["context"] == {"parent": parent}:
            return t.cast("int | None", entry.get("replication_key_value"))
    return t.cast("int | None", bookmark.get("replication_key_value"))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    first=st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=1, max_size=40),
    growth=st.lists(st.integers(0, 5), min_size=40, max_size=40),
    cap=st.integers(1, 12),
    cut=st.integers(0, 40),
)
def test_folded_state_never_resumes_a_parent_past_its_bookmark(
    first: list[int | None], growth: list[int], cap: int, cut: int
) -> None:
    state: dict[str, t.Any] = {}
    _sync(state, list(enumerate(first)), cap, complete=True)  # run 1: every parent, to the end
    truth = dict(enumerate(first))
    for parent, value in truth.items():
        start = _resumes_from(state, parent)
        assert start is None or (value is not None and start <= value)
    # Run 2 resumes from it and is cut after `cut` parents: each visited parent read from its
    # start on and reached a new highest value.
    second: Run = []
    for parent in range(min(cut, len(first))):
        start = _resumes_from(state, parent)
        old = truth[parent]
        reached = max(v for v in (start, old, 0) if v is not None) + growth[parent]
        second.append((parent, reached))
        truth[parent] = reached
    _sync(state, second, cap, complete=False)
    for parent, value in truth.items():
        start = _resumes_from(state, parent)
        assert start is None or (value is not None and start <= value), (parent, start, value)

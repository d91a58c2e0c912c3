"""Static partitions: one read and one bookmark per account."""

from __future__ import annotations

import typing as t
from urllib.parse import unquote

import pytest

from tests.helpers import run_tap
from tests.request_server import Request, RequestServer

INVOICES = {
    "a1": [{"id": f"a1-{n}", "updated": f"2024-01-0{n}T00:00:00Z"} for n in range(1, 4)],
    "a 2": [{"id": f"a2-{n}", "updated": f"2024-02-0{n}T00:00:00Z"} for n in range(1, 3)],
}


def _invoices(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    segments = request.raw_path.split("/")
    account = unquote(segments[2])
    rows = [r for r in INVOICES.get(account, []) if r["updated"] >= request.query.get("since", "")]
    if segments[-1] == "lines":
        rows = [{"line": f"{unquote(segments[4])}-L", "invoice": unquote(segments[4])}]
    return 200, {"data": rows}, {}


@pytest.fixture
def server() -> t.Iterator[RequestServer]:
    server = RequestServer({"*": _invoices}).start()
    yield server
    server.stop()


def config(server: RequestServer) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "partitions": [{"account_id": "a1"}, {"account_id": "a 2"}],
        "streams": [
            {
                "name": "invoices",
                "path": "/accounts/{partition.account_id}/invoices",
                "primary_keys": ["id"],
                "replication_key": "updated",
                "incremental": {"param": "since"},
                "pagination": {"type": "none"},
            },
            {
                "name": "lines",
                "parent": "invoices",
                "path": "/accounts/{partition.account_id}/invoices/{parent.id}/lines",
                "primary_keys": ["line"],
                "pagination": {"type": "none"},
            },
        ],
    }


def test_each_partition_is_read_with_its_own_bookmark(server, tmp_path):
    first = run_tap(tmp_path / "1", config(server))
    assert first.returncode == 0, first.stderr
    assert [(r["id"], r["account_id"]) for r in first.records("invoices")] == [
        ("a1-1", "a1"),
        ("a1-2", "a1"),
        ("a1-3", "a1"),
        ("a2-1", "a 2"),
        ("a2-2", "a 2"),
    ]
    # Children see the partition too: in their path and in their records.
    assert [(r["line"], r["account_id"]) for r in first.records("lines")][:1] == [("a1-1-L", "a1")]
    assert "/accounts/a%202/invoices/a2-1/lines" in [r.raw_path for r in server.requests]
    partitions = first.final_state["bookmarks"]["invoices"]["partitions"]
    assert [(p["context"], p["replication_key_value"]) for p in partitions] == [
        ({"account_id": "a1"}, "2024-01-03T00:00:00Z"),
        ({"account_id": "a 2"}, "2024-02-02T00:00:00Z"),
    ]

    server.requests.clear()
    second = run_tap(tmp_path / "2", config(server), state=first.final_state)
    assert second.returncode == 0, second.stderr
    since = {r.raw_path: r.query.get("since") for r in server.requests if r.raw_path.endswith("/invoices")}
    assert since == {
        "/accounts/a1/invoices": "2024-01-03T00:00:00+00:00",
        "/accounts/a%202/invoices": "2024-02-02T00:00:00+00:00",
    }
    assert [r["id"] for r in second.records("invoices")] == ["a1-3", "a2-2"]


def test_partitions_on_a_child_stream_are_a_config_error(server, tmp_path):
    broken = config(server)
    broken["streams"][1]["partitions"] = [{"region": "eu"}]
    run = run_tap(tmp_path, broken)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "streams[lines].partitions: a child stream takes its partitions from its parent" in line


def test_partitions_need_the_same_keys(server, tmp_path):
    broken = config(server)
    broken["partitions"] = [{"account_id": "a1"}, {"acount_id": "a2"}]
    run = run_tap(tmp_path, broken)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "partitions[1]: every partition needs the same keys (account_id), got acount_id" in line

"""Schema inference, catalogs, records_path detection and parent/child wiring."""

from __future__ import annotations

import typing as t

import pytest

from tap_restoauth.records.schema import infer
from tests.conftest import sandbox_config
from tests.helpers import discover, run_tap
from tests.paging_server import PagingServer


@pytest.fixture
def server() -> t.Iterator[PagingServer]:
    server = PagingServer(23).start()
    yield server
    server.stop()


def page_config(server: PagingServer, **stream: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "schema_sample_size": 12,
        "streams": [
            {
                "name": "items",
                "path": "/page",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "pagination": {"type": "page_number", "size_param": "size", "page_size": 5},
                **stream,
            }
        ],
    }


def test_inferred_schema_types_and_sampling_stops_at_sample_size(server, tmp_path):
    catalog = discover(tmp_path, page_config(server))
    (entry,) = catalog["streams"]
    properties = entry["schema"]["properties"]
    assert properties["id"] == {"type": "integer"}
    assert properties["name"] == {"type": ["string", "null"]}
    assert properties["price"] == {"type": ["number", "null"]}
    assert properties["updated_at"] == {"type": ["string", "null"], "format": "date-time"}
    assert len(server.hits("/page")) == 3  # 12 records sampled from pages of 5
    assert "records_path not set; using $.data[*]" in run_tap(tmp_path / "r", page_config(server)).stderr


def test_sync_with_a_catalog_never_samples(server, tmp_path):
    catalog = discover(tmp_path, page_config(server))
    sampled = len(server.requests)
    run = run_tap(tmp_path / "sync", page_config(server), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.records("items")) == 23
    assert len(server.requests) - sampled == 5  # exactly the five pages of the sync


def test_infer_merges_numbers_keeps_nested_objects_and_detects_date_times():
    schema = infer(
        [
            {"id": 1, "amount": 3, "when": "2024-05-01T10:00:00+02:00", "meta": {"tag": "a"}, "tags": ["x"]},
            {"id": 2, "amount": 2.5, "when": "2024-05-02", "meta": {"tag": None, "n": 1}, "tags": []},
        ],
        ["id"],
    )
    properties = schema["properties"]
    assert properties["id"] == {"type": "integer"}
    assert properties["amount"] == {"type": ["number", "null"]}
    assert "format" not in properties["when"]  # a plain date is not a date-time
    assert properties["meta"]["type"] == ["object", "null"]
    assert properties["meta"]["properties"]["n"] == {"type": ["integer", "null"]}
    assert properties["tags"] == {"type": ["array", "null"], "items": {"type": "string"}}


def test_records_path_cannot_be_guessed_gives_one_clear_line(server, tmp_path):
    config = page_config(server, path="/cursor-header")
    config["streams"][0]["pagination"] = {"type": "none"}
    # /cursor-header returns a bare list (its first page of 5): guessed as $[*].
    bare = run_tap(tmp_path / "list", config)
    assert bare.returncode == 0, bare.stderr
    assert "items: records_path not set; using $[*]" in bare.stderr
    assert [r["id"] for r in bare.records("items")] == [1, 2, 3, 4, 5]
    config["streams"][0]["path"] = "/next-url"  # {"records": [...], "links": {...}}: "records" is common
    common = run_tap(tmp_path / "records", config)
    assert common.returncode == 0, common.stderr
    assert "items: records_path not set; using $.records[*]" in common.stderr
    assert [r["id"] for r in common.records("items")] == [1, 2, 3, 4, 5]
    config["streams"][0]["path"] = "/page"
    config["streams"][0]["params"] = {"size": 5}
    config["streams"][0]["records_path"] = "$.rows[*]"
    run = run_tap(tmp_path / "bad", config)
    assert run.returncode == 1
    assert run.error_lines() == [
        "tap-restoauth: error: items: records_path $.rows[*] matched nothing in the response of "
        f"{server.url}/page?size=5; the response is an object with keys: data, meta"
    ]
    assert "Traceback" not in run.stderr


def test_children_two_levels_carry_parent_keys_and_incremental_children_keep_per_parent_state(
    sandbox, tmp_path
):
    config = sandbox_config(sandbox)
    config["streams"][1]["replication_key"] = "created_at"  # user_orders: incremental child
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    orders = run.records("user_orders")
    expected = {(uid, o["id"]) for uid, user_orders in sandbox.data.orders.items() for o in user_orders}
    assert {(o["user_id"], o["id"]) for o in orders} == expected
    items = run.records("order_items")
    assert len(items) == sandbox.data.counts()["order_items"]
    assert {i["order_id"] // 100 for i in items} == {i["user_id"] for i in items}

    bookmarks = run.final_state["bookmarks"]
    partitions = bookmarks["user_orders"]["partitions"]
    latest = {o["user_id"]: o["created_at"] for o in sorted(orders, key=lambda o: o["created_at"])}
    assert len(partitions) == len(sandbox.data.users)
    bookmarked = {
        p["context"]["user_id"]: p["replication_key_value"] for p in partitions if p.get("replication_key")
    }
    assert bookmarked == latest
    # order_items has no replication key: nothing to bookmark, so no partition per order.
    assert "partitions" not in bookmarks.get("order_items", {})


def test_child_schema_includes_context_keys_typed_from_the_parent(sandbox, tmp_path):
    catalog = discover(tmp_path, sandbox_config(sandbox))
    schemas = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    assert schemas["user_orders"]["user_id"] == {"type": "integer"}
    assert schemas["order_items"]["user_id"] == {"type": "integer"}
    assert schemas["order_items"]["order_id"] == {"type": "integer"}

"""The fast record path gives the SDK's results: conformed records, selection, stream maps, state."""

from __future__ import annotations

import copy
import gc
import logging
import random
import typing as t
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_restoauth.records.conform import Conformer, to_text
from tap_restoauth.sandbox import JsonHandler, LocalServer
from tap_restoauth.sync.fast_path import YOUNG_COLLECTION_THRESHOLD, _collect_past_pages
from tests.helpers import discover, run_tap

LOGGER = logging.getLogger("test_fast_path")

SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": ["number", "null"]},
        "count": {"type": ["integer", "null"]},
        "label": {"type": ["string", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "strict_flag": {"type": "boolean"},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "updated": {"type": ["string", "null"], "format": "date-time"},
        "address": {
            "type": ["object", "null"],
            "properties": {
                "city": {"type": "string"},
                "verified": {"type": ["boolean", "null"]},
                "geo": {"type": "object", "properties": {"lat": {"type": "number"}}},
            },
        },
        "open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
        "blob": {"type": ["object", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "flags": {"type": "array", "items": {"type": "boolean"}},
        "lines": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "gift": {"type": "boolean"}},
            },
        },
        "choice": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]},
    },
}

TRICKY: list[dict[str, t.Any]] = [
    {"id": 1, "amount": 5, "count": 3, "label": "ints in a number field"},
    {"id": 2, "amount": 2.5, "count": 3.5, "label": "a float in an integer field"},
    {"id": 3, "amount": "12.50", "count": "7", "label": "numeric strings"},
    {"id": 4, "when": "2024-01-02T03:04:05Z", "updated": "2024-01-05T00:00:00Z"},
    {"id": 5, "when": "2024-01-02T03:04:05", "updated": "2024-01-03T00:00:00+02:00"},
    {"id": 6, "when": "2024-01-02T03:04:05.123+02:00", "updated": "2024-01-09T10:00:00Z"},
    {"id": 7, "when": "not a date", "updated": None},
    {"id": 8, "flag": 0, "strict_flag": 1},
    {"id": 9, "flag": 2, "strict_flag": "false"},
    {"id": 10, "flag": "", "strict_flag": None},
    {"id": 11, "flag": True, "strict_flag": False},
    {"id": 12, "address": {"city": "Oslo", "verified": 1, "zip": "0150", "geo": {"lat": 59.9, "alt": 3}}},
    {"id": 13, "address": {"city": "Bergen", "verified": True, "geo": {"lat": 60}}},
    {"id": 14, "address": "a string", "blob": {"anything": [1, {"x": None}]}},
    {"id": 15, "address": [1, 2], "open": {"a": "x", "b": 2, "c": {"d": 1}}},
    {"id": 16, "tags": [1, "a", None, 2.5, True], "flags": [1, 0, True, None, "x"]},
    {"id": 17, "tags": "not a list", "flags": [True, False, None]},
    {"id": 18, "lines": [{"sku": "a", "gift": 1, "extra": 2}, "not an object", None]},
    {"id": 19, "lines": [{"sku": "b", "gift": False}], "choice": ["1", 2]},
    {"id": 20, "unknown": 1, "also_unknown": {"x": 1}},
    {"id": 21},
    {"id": 22, "amount": None, "count": None, "label": None, "flag": None, "address": None, "tags": None},
    {},
]


def sdk(record: dict[str, t.Any], level: TypeConformanceLevel = TypeConformanceLevel.RECURSIVE) -> bytes:
    """The SDK's conformance of `record` after `to_text`, as JSON bytes (so 1, 1.0 and true differ)."""
    record = copy.deepcopy(record)
    if level != TypeConformanceLevel.NONE:
        record = to_text(record, SCHEMA, recursive=level == TypeConformanceLevel.RECURSIVE)
    return msgspec.json.encode(conform_record_data_types("items", record, SCHEMA, level, LOGGER))


def fast(records: list[dict[str, t.Any]], level: TypeConformanceLevel) -> tuple[list[bytes], list[bytes]]:
    """The conformer's results, one record at a time and as one batch."""
    conformer = Conformer("items", SCHEMA, level=level, logger=LOGGER)
    singles = [msgspec.json.encode(conformer(copy.deepcopy(r))) for r in records]
    batch = [msgspec.json.encode(r) for r in conformer.batch(copy.deepcopy(records))]
    return singles, batch


@pytest.mark.parametrize("level", list(TypeConformanceLevel), ids=lambda level: level.name)
def test_conformer_matches_the_sdk_on_tricky_records(level):
    expected = [sdk(r, level) for r in TRICKY]
    singles, batch = fast(TRICKY, level)
    assert singles == expected
    assert batch == expected
    # A batch where every record conforms already comes back as the same objects.
    clean = [{"id": 1, "amount": 2, "tags": ["a"], "address": {"city": "x", "geo": {"lat": 1.5}}}]
    conformer = Conformer("items", SCHEMA, level=level, logger=LOGGER)
    assert conformer.batch(clean) is clean


def test_values_of_string_only_properties_become_their_json_text():
    conformer = Conformer("items", SCHEMA, logger=LOGGER)
    record = conformer({"id": 1, "label": 7, "tags": [1, "a", None, 2.5, True, {"k": [1]}]})
    assert record == {"id": 1, "label": "7", "tags": ["1", "a", None, "2.5", "true", '{"k":[1]}']}
    lines = conformer({"id": 2, "lines": [{"sku": 12, "gift": True}]})["lines"]
    assert lines == [{"sku": "12", "gift": True}]


def random_value(rng: random.Random, depth: int = 0) -> t.Any:
    scalars = [0, 1, 2, -7, 3.25, 0.0, "", "0", "true", "2024-01-01T00:00:00Z", True, False, None]
    kind = rng.random()
    if depth < 2 and kind < 0.15:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and kind < 0.3:
        keys = ["city", "verified", "geo", "lat", "sku", "gift", "a", "zip", "x"]
        return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(scalars)


def test_conformer_matches_the_sdk_on_random_json_records():
    rng = random.Random(20261127)
    names = [*SCHEMA["properties"], "unknown", "extra"]
    records = [
        {name: random_value(rng) for name in rng.sample(names, rng.randint(0, len(names)))}
        for _ in range(3000)
    ]
    expected = [sdk(r) for r in records]
    singles, batch = fast(records, TypeConformanceLevel.RECURSIVE)
    assert singles == expected
    assert batch == expected


def test_conformer_lets_the_sdk_raise_where_it_raises():
    schema = {"type": "object", "properties": {"anything": {}}}
    conformer = Conformer("items", schema, logger=LOGGER)
    assert conformer({"anything": {"a": 1}}) == {"anything": {"a": 1}}
    with pytest.raises(Exception) as from_sdk:
        conform_record_data_types("items", {"anything": [1]}, schema, TypeConformanceLevel.RECURSIVE, LOGGER)
    with pytest.raises(type(from_sdk.value)):
        conformer.batch([{"anything": [1]}])


# -- the real tap, end to end --------------------------------------------------------------


class TrickyServer(LocalServer):
    """Serves TRICKY (minus the empty record) in pages of 5, bookmarks out of order."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        # The SDK fails on a record without its replication key, so each one has it.
        self.records = [{"updated": f"2024-01-{r['id']:02d}T12:00:00Z", **r} for r in TRICKY if r]


class _Handler(JsonHandler):
    server: TrickyServer

    def do_GET(self) -> None:
        page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
        self.send_json(200, {"data": self.server.records[(page - 1) * 5 : page * 5]})


@pytest.fixture
def tricky() -> t.Iterator[TrickyServer]:
    server = TrickyServer().start()
    yield server
    server.stop()


def tricky_config(server: TrickyServer, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": server.url,
        "streams": [
            {
                "name": "items",
                "path": "/items",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated",
                "schema": SCHEMA,
                "pagination": {"type": "page_number", "page_size": 5},
            }
        ],
        **extra,
    }


def test_emitted_records_are_the_sdks_conformance_and_state_follows_them(tricky, tmp_path):
    run = run_tap(tmp_path, tricky_config(tricky))
    assert run.returncode == 0, run.stderr[-3000:]
    assert [msgspec.json.encode(r) for r in run.records("items")] == [sdk(r) for r in tricky.records]
    assert "Properties ('unknown', 'also_unknown') were present in the 'items' stream" in run.stderr
    # Unsorted stream: the bookmark is the greatest value emitted (the SDK compares strings),
    # and no STATE message ever names a value not yet emitted.
    emitted: list[str] = []
    for message in run.messages:
        if message["type"] == "RECORD" and message["record"].get("updated"):
            emitted.append(message["record"]["updated"])
        elif message["type"] == "STATE":
            value = message["value"]["bookmarks"]["items"].get("replication_key_value")
            assert value is None or value in emitted
    assert run.final_state["bookmarks"]["items"]["replication_key_value"] == max(emitted)
    assert all(a != b for a, b in zip(run.states, run.states[1:]))  # no STATE repeats the last
    assert all(m["time_extracted"].endswith("Z") for m in run.messages if m["type"] == "RECORD")


def test_deselected_properties_and_stream_maps_apply(tricky, tmp_path):
    config = tricky_config(
        tricky,
        stream_maps={"items": {"__alias__": "goods", "__filter__": "id != 3", "double": "id * 2"}},
    )
    catalog = discover(tmp_path / "discover", config)
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] == ["properties", "label"]:
            entry["metadata"]["selected"] = False
    run = run_tap(tmp_path / "sync", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records("items") == []
    goods = run.records("goods")
    assert [r["id"] for r in goods] == [r["id"] for r in tricky.records if r["id"] != 3]
    assert all("label" not in r and r["double"] == r["id"] * 2 for r in goods)
    by_id = {r["id"]: r for r in goods}
    assert by_id[12]["address"] == {"city": "Oslo", "verified": True, "geo": {"lat": 59.9}}
    assert by_id[9]["flag"] is True and by_id[9]["strict_flag"] is True


def test_proxies_from_the_environment_still_apply(tricky, tmp_path):
    # The client looks proxies up once per origin instead of on every request.
    config = {**tricky_config(tricky), "api_url": "http://api.example.invalid"}
    env = {"HTTP_PROXY": tricky.url, "http_proxy": tricky.url, "NO_PROXY": "", "no_proxy": ""}
    run = run_tap(tmp_path, config, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("items")) == len(tricky.records)


# -- the collector while pages are synced --------------------------------------------------------


def test_pages_are_synced_with_fewer_young_collections_and_the_thresholds_come_back():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with _collect_past_pages():
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
            with _collect_past_pages():  # a child stream synced inside its parent's page
                assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(RuntimeError), _collect_past_pages():
            raise RuntimeError("a failed page")
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(0)  # automatic collection turned off by the embedding program: stays off
        with _collect_past_pages():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*saved)

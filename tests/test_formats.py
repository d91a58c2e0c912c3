"""Non-JSON responses: CSV (gzip files, Content-Encoding, other delimiters), JSON Lines, XML.

Each test runs the real tap against a provider-shaped API from tests/api_zoo, checks records
(typed as JSON would have them), the inferred schema, STATE and exit code, and greps all output
for the credential. One test streams a ~200 MB CSV and bounds the tap's peak memory.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.errors import ConfigError
from tap_restoauth.records.decoders import BodyError, CsvDecoder, XmlDecoder, build_decoder, gunzip_if_gzip
from tests.api_zoo import csv_reports, xml_catalog
from tests.helpers import ISOLATED_ENV, TapRun, run_tap
from tests.request_server import Request, RequestServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str, url: str) -> dict[str, t.Any]:
    config = json.loads((EXAMPLES / f"{name}.json").read_text())
    config["api_url"] = url
    return config


def run(tmp_path: Path, config: dict[str, t.Any], secret: str) -> TapRun:
    result = run_tap(tmp_path, config, env={"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}, timeout=90)
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def schema(result: TapRun, stream: str) -> dict[str, t.Any]:
    return next(m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == stream)


@pytest.fixture
def reports() -> t.Iterator[csv_reports.CsvReportsApi]:
    server = csv_reports.CsvReportsApi().start()
    yield server
    server.stop()


def test_csv_reports_gzip_files_content_encoding_semicolons_and_json_lines(tmp_path, reports):
    config = example("csv_reports", reports.url)
    config["auth"]["token"] = csv_reports.TOKEN
    result = run(tmp_path, config, csv_reports.TOKEN)
    assert result.returncode == 0, result.stderr[-3000:]

    assert result.records("daily_sales") == csv_reports.daily_rows()  # typed like JSON, in order
    properties = schema(result, "daily_sales")["properties"]
    assert properties["sold_at"].get("format") == "date-time"
    assert "integer" in str(properties["id"]) and "string" in str(properties["sku"])
    assert "boolean" in str(properties["refunded"]) and "number" in str(properties["amount"])

    pages = range(1, csv_reports.CONTACT_PAGES + 1)
    assert result.records("contacts") == [c for page in pages for c in csv_reports.contacts(page)]
    assert all("gzip" in sent for sent in reports.accept_encodings)  # so every page came gzip-encoded

    assert result.records("events") == csv_reports.events()
    assert result.final_state.get("bookmarks", {}).keys() <= {"daily_sales", "contacts", "events"}


def test_a_malformed_csv_row_is_one_error_line(tmp_path, reports):
    config = example("csv_reports", reports.url)
    config["auth"]["token"] = csv_reports.TOKEN
    config["streams"] = [
        {
            "name": "broken",
            "path": "/reports/broken.csv",
            "format": "csv",
            "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        }
    ]
    result = run(tmp_path, config, csv_reports.TOKEN)
    assert result.returncode == 1
    (line,) = result.error_lines()
    assert "broken: GET" in line and "the csv body is unreadable after 0 records" in line
    assert "row 3 has 3 fields, the header has 2" in line
    assert result.records("broken") == []


@pytest.mark.parametrize(
    ("path", "compression"), [("/export/big.csv?rows=3000", ""), ("/reports/bomb.csv.gz", "gzip file")]
)
def test_a_streamed_download_stops_at_max_response_mb(tmp_path, reports, path, compression):
    """The cap counts a streamed body as it is read, after un-gzipping a .gz file too."""
    config = example("csv_reports", reports.url)
    config["auth"]["token"] = csv_reports.TOKEN
    config["max_response_mb"] = 2
    config["streams"] = [
        {
            "name": "download",
            "path": path,
            "format": "csv",
            "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        }
    ]
    result = run(tmp_path, config, csv_reports.TOKEN)
    assert result.returncode == 1, compression
    (line,) = result.error_lines()
    assert f"GET {reports.url}{path.split('?')[0]}" in line and "passed max_response_mb (2 MB" in line
    assert len(result.records("download")) < 30_000  # stopped near 2 MB, not after the whole body


def test_a_report_that_is_not_ready_is_retried_by_rule_then_streamed(tmp_path):
    server = csv_reports.CsvReportsApi(not_ready=2).start()
    config = example("csv_reports", server.url)
    config["auth"]["token"] = csv_reports.TOKEN
    config["streams"] = [
        {
            "name": "monthly",
            "path": "/reports/monthly.csv",
            "format": "csv",
            "primary_keys": ["id"],
            "response_rules": [
                {"status": 404, "body_path": "$.error.code", "equals": "report_not_ready", "action": "retry"}
            ],
        }
    ]
    try:
        result = run(tmp_path, config, csv_reports.TOKEN)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.records("monthly") == csv_reports.daily_rows()
    waits = [line for line in result.stderr.splitlines() if "Report is still being generated); retry" in line]
    assert len(waits) == 2 and all("in 1.0s" in line for line in waits)
    assert server.not_ready == 0


def test_xml_api_pages_become_records(tmp_path):
    server = xml_catalog.XmlCatalogApi().start()
    try:
        config = example("xml_catalog", server.url)
        config["auth"]["value"] = xml_catalog.API_KEY
        result = run(tmp_path, config, xml_catalog.API_KEY)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.records("books") == xml_catalog.books()
    assert schema(result, "books")["properties"]["published"].get("format") == "date-time"
    assert result.final_state.get("bookmarks", {}).get("books", {}).get("replication_key_value") is None


def test_formats_are_checked_when_the_config_is_read():
    assert build_decoder(None, "f").type == "json"
    assert build_decoder("csv", "f") == CsvDecoder()
    with pytest.raises(ConfigError, match=r"unknown format 'parquet' \(known: csv, json, jsonl, xml\)"):
        build_decoder("parquet", "streams[x].format")
    with pytest.raises(ConfigError, match="records_path is required for xml"):
        build_decoder({"type": "xml"}, "streams[x].format")
    with pytest.raises(ConfigError, match="single characters"):
        build_decoder({"type": "csv", "delimiter": ";;"}, "f")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) delimter"):
        build_decoder({"type": "csv", "delimter": ";"}, "streams[x].format")


def test_decoders_read_from_any_chunking():
    body = csv_reports.daily_csv()
    for size in (1, 7, 4096):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert list(CsvDecoder().records(chunks)) == csv_reports.daily_rows()
        packed = gzip.compress(body) + gzip.compress(b"")  # two gzip members
        zipped = [packed[i : i + size] for i in range(0, len(packed), size)]
        assert b"".join(gunzip_if_gzip(zipped)) == body
    with pytest.raises(BodyError, match="ends early"):
        b"".join(gunzip_if_gzip([gzip.compress(body)[:-20]]))
    xml = b'<a><b><item k="1">x</item></b><item k="2"><v>3</v></item></a>'
    assert list(XmlDecoder(records_path="item").records([xml[:9], xml[9:]])) == [
        {"k": 1, "#text": "x"},
        {"k": 2, "v": 3},
    ]
    assert list(XmlDecoder(records_path="/a/item").records([xml])) == [{"k": 2, "v": 3}]
    with pytest.raises(BodyError, match="invalid XML"):
        list(XmlDecoder(records_path="/a/item").records([b"<a><item></a>"]))


BIG_ROWS = 100_000  # x 2 KiB = ~200 MB


def test_a_200_mb_csv_streams_in_bounded_memory(tmp_path, reports):
    config = {
        "api_url": reports.url,
        "auth": {"type": "bearer", "token": csv_reports.TOKEN},
        "streams": [
            {
                "name": "big",
                "path": f"/export/big.csv?rows={BIG_ROWS}",
                "format": "csv",
                "primary_keys": ["id"],
                "schema": {
                    "properties": {
                        "id": {"type": "integer"},
                        "group": {"type": "integer"},
                        "flag": {"type": "boolean"},
                        "payload": {"type": "string"},
                    }
                },
            }
        ],
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    peak = tmp_path / "peak_rss"
    tap = [sys.executable, "-m", "tap_restoauth", "--config", str(config_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peak_rss", str(peak), *tap],  # the tap's own RSS, not pytest's
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **ISOLATED_ENV},
    )
    assert process.stdout is not None
    records = 0
    last = b""
    for line in process.stdout:
        if line.startswith(b'{"type":"RECORD"'):
            records += 1
            last = line
    assert process.wait() == 0
    assert records == BIG_ROWS
    assert json.loads(last)["record"]["id"] == BIG_ROWS - 1
    peak_mb = int(peak.read_text()) / 1024  # KiB on Linux
    print(f"PEAK-RSS-MB {peak_mb:.0f}")
    assert peak_mb < 150, (
        f"peak RSS {peak_mb:.0f} MB for a {BIG_ROWS * csv_reports.BIG_ROW_BYTES >> 20} MB CSV"
    )


def test_hostile_xml_is_refused_not_expanded():
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )  # a9 is "lol" 10^9 times
    bomb = f'<?xml version="1.0"?><!DOCTYPE r [{entities}]><r><item>&a9;</item></r>'.encode()
    with pytest.raises(BodyError, match="amplification"):
        list(XmlDecoder(records_path="item").records([bomb]))
    external = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><item>&x;</item></r>'
    with pytest.raises(BodyError, match="undefined entity"):
        list(XmlDecoder(records_path="item").records([external]))
    huge_field = b"id,text\n1," + b"x" * 200_000 + b"\n"
    with pytest.raises(BodyError, match="field larger than field limit"):
        list(CsvDecoder().records([huge_field]))


def test_a_json_page_that_is_a_gzip_file_served_as_octet_stream_is_decompressed(tmp_path):
    rows = [{"id": n, "name": f"row {n}"} for n in range(5)]
    payload = gzip.compress(json.dumps({"data": rows}).encode())

    def export(request: Request) -> tuple[int, t.Any, dict[str, str]]:
        return 200, payload, {"Content-Type": "application/octet-stream"}

    server = RequestServer({"/export": export}).start()
    try:
        config = {
            "api_url": server.url,
            "streams": [{"name": "rows", "path": "/export", "records_path": "$.data[*]", "format": "json"}],
        }
        result = run_tap(tmp_path, config)
        assert result.returncode == 0, result.stderr
        assert result.records("rows") == rows
    finally:
        server.stop()

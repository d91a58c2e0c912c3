"""Streaming decoders are bounded by construction: depth, columns, memory; only BodyError escapes.

Findings reproduced: XML nested 2,000 deep and a JSON Lines line nested 100,000 deep
raised RecursionError; XML with nested records (`/orders/order/line`) and sibling
elements outside records grew with the file; deep non-record nesting was quadratic;
a CSV header of 300,000 columns made 300,000-field records. Memory is measured with
tracemalloc on bodies generated chunk by chunk (the body itself is never held).
"""

from __future__ import annotations

import tracemalloc
import typing as t

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.http.client import decode_json
from tap_restoauth.records.decoders import (
    MAX_COLUMNS,
    BodyError,
    CsvDecoder,
    JsonLinesDecoder,
    XmlDecoder,
    gunzip_if_gzip,
)

PROPERTY = settings(derandomize=True, max_examples=150, deadline=3000)  # generous: CI shares cores


def chunked(body: bytes, size: int = 4096) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def test_xml_nested_2000_deep_is_one_body_error():
    body = b"<r><item>" + b"<a>" * 2000 + b"x" + b"</a>" * 2000 + b"</item></r>"
    with pytest.raises(BodyError, match="XML nested deeper than 200 levels"):
        list(XmlDecoder(records_path="/r/item").records(chunked(body)))


def test_xml_under_the_depth_limit_is_read():
    body = b"<r><item><id>1</id>" + b"<a>" * 150 + b"7" + b"</a>" * 150 + b"</item></r>"
    (record,) = XmlDecoder(records_path="/r/item").records(chunked(body))
    depth, value = 0, record["a"]
    while isinstance(value, dict):
        depth, value = depth + 1, value["a"]
    assert (record["id"], depth, value) == (1, 149, 7)


def test_a_jsonl_line_nested_100000_deep_is_one_body_error():
    body = b'{"id": 1}\n' + b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    with pytest.raises(BodyError, match="line 2 is JSON nested deeper than 200 levels"):
        list(JsonLinesDecoder().records(chunked(body)))


def test_a_jsonl_line_with_many_shallow_brackets_is_read():
    line = b'{"x": [' + b"[1], " * 500 + b"[2]]}\n"
    assert len(next(JsonLinesDecoder().records([line]))["x"]) == 501


def test_a_csv_header_over_the_column_limit_is_one_body_error():
    header = ",".join(f"c{i}" for i in range(300_000)).encode() + b"\n1\n"
    with pytest.raises(BodyError, match=f"300000 columns, more than {MAX_COLUMNS}"):
        list(CsvDecoder().records(chunked(header, 65536)))
    wide = ",".join(f"c{i}" for i in range(MAX_COLUMNS)).encode() + b"\n" + b"1," * (MAX_COLUMNS - 1) + b"1\n"
    (record,) = CsvDecoder().records(chunked(wide, 65536))
    assert len(record) == MAX_COLUMNS


# --- constant memory ------------------------------------------------------------------------


def orders(count: int) -> t.Iterator[bytes]:
    """`/orders/order/line`: each order has a 2 kB note (not a record) and three lines."""
    yield b"<orders>"
    line = b"<line><sku>a</sku><qty>1</qty></line>"
    order = b"<order><id>7</id><note>" + b"n" * 2000 + b"</note>" + line * 3 + b"</order>"
    for _ in range(count):
        yield order
    yield b"</orders>"


def siblings(count: int) -> t.Iterator[bytes]:
    """Records under /root/items/item after `count` 2 kB <noise> elements outside records."""
    yield b"<root>"
    noise = b"<noise><x>" + b"y" * 2000 + b"</x></noise>"
    for _ in range(count):
        yield noise
    yield b"<items>" + b"<item><id>1</id></item>" * 10 + b"</items></root>"


def peak_bytes(decoder: XmlDecoder, body: t.Iterator[bytes]) -> tuple[int, int]:
    """(records, peak traced bytes) of decoding `body`."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in decoder.records(body))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("records_path", "body", "per_unit"),
    [("/orders/order/line", orders, 3), ("line", orders, 3), ("/root/items/item", siblings, 0)],
)
def test_xml_memory_does_not_grow_with_the_body(records_path, body, per_unit):
    """0.8 MB and 6.5 MB bodies peak at about the same memory (before: 8 x more for 8 x the body)."""
    decoder = XmlDecoder(records_path=records_path)
    small_count, small = peak_bytes(decoder, body(400))
    large_count, large = peak_bytes(decoder, body(3200))
    assert (small_count, large_count) == (per_unit * 400 or 10, per_unit * 3200 or 10)
    print(f"XML-PEAK-BYTES {records_path} {small} {large}")
    assert large < 2 * small + 256 * 1024, (small, large)


# --- property tests: arbitrary bytes, only BodyError ------------------------------------


XML_PIECES = st.sampled_from(
    [
        b"<a>",
        b"</a>",
        b"<item>",
        b"</item>",
        b"<b k='1'>",
        b"</b>",
        b"<x:item xmlns:x='u'>",
        b"</x:item>",
        b"text",
        b"&amp;",
        b"&bogus;",
        b"<!--c-->",
        b"<?pi?>",
        b"<![CDATA[<]]>",
        b"<?xml version='1.0'?>",
        b"<?xml version='1.0' encoding='nope'?>",
        b"<!DOCTYPE r [<!ENTITY e 'v'>]>",
        b"&e;",
        b"\xff",
        b"\x00",
    ]
)
BYTES_OR_MARKUP = st.one_of(
    st.binary(max_size=2000),
    st.lists(XML_PIECES, max_size=60).map(b"".join),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"<r>" + b"<item>" * n + b"</item>" * n + b"</r>"),
)


def _decode_all(decoder: t.Any, body: bytes, size: int) -> list[dict[str, t.Any]]:
    """The records, or none after a BodyError; at most 64 chunks (tiny chunks of a large body
    only make the test slow: the tap reads 64 kB ones)."""
    size = max(size, len(body) // 64)
    try:
        return list(decoder.records(gunzip_if_gzip(chunked(body, size))))
    except BodyError:
        return []


@PROPERTY
@given(body=BYTES_OR_MARKUP, size=st.integers(min_value=1, max_value=512), anchored=st.booleans())
def test_xml_decoder_raises_only_body_errors(body, size, anchored):
    decoder = XmlDecoder(records_path="/r/item" if anchored else "item")
    assert all(isinstance(record, dict) for record in _decode_all(decoder, body, size))


JSONL_LINES = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=20,
    ).map(lambda value: repr(value).replace("'", '"').encode()),
    st.integers(min_value=100, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
)


@PROPERTY
@given(lines=st.lists(JSONL_LINES, max_size=5), size=st.integers(min_value=1, max_value=512))
def test_jsonl_decoder_raises_only_body_errors(lines, size):
    body = b"\n".join(lines)
    assert all(isinstance(record, dict) for record in _decode_all(JsonLinesDecoder(), body, size))


CSV_TEXT = st.one_of(
    st.binary(max_size=2000),
    st.lists(
        st.lists(
            st.sampled_from(["1", "a", '"q"', '"un', "", "x\ny", "\r", ";", "2024-01-01", "-0.5"]),
            max_size=12,
        ),
        max_size=20,
    ).map(lambda rows: "\n".join(",".join(row) for row in rows).encode()),
    st.integers(min_value=1, max_value=30_000).map(lambda n: b",".join(b"c%d" % i for i in range(n)) + b"\n"),
)


@PROPERTY
@given(
    body=CSV_TEXT,
    size=st.integers(min_value=1, max_value=512),
    header=st.booleans(),
    infer=st.booleans(),
    encoding=st.sampled_from(["utf-8-sig", "latin-1", "utf-16"]),
)
def test_csv_decoder_raises_only_body_errors(body, size, header, infer, encoding):
    decoder = CsvDecoder(
        header=header, columns=() if header else ("a", "b"), infer_types=infer, encoding=encoding
    )
    assert all(len(record) <= MAX_COLUMNS for record in _decode_all(decoder, body, size))


@PROPERTY
@given(body=st.one_of(JSONL_LINES, st.binary(max_size=2000)), status=st.sampled_from([200, 500]))
def test_json_pages_raise_only_the_taps_errors(body, status):
    """A JSON page (decoded whole by the client): ApiError with one line, or a document."""
    response = requests.Response()
    response._content = body
    response.status_code = status
    response.url = "http://127.0.0.1:9/page"
    response.headers["Content-Type"] = "application/json"
    try:
        decode_json("s", "GET", response)
    except TapRestOAuthError as exc:
        assert "\n" not in str(exc).strip() or "Traceback" not in str(exc)

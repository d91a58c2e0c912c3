"""Response formats besides one JSON document: JSON Lines, CSV and XML, gzip or not.

A stream's `format` names a decoder (a registry, like pagination types)::

    format: jsonl
    format: {type: csv, delimiter: ";"}
    format: {type: xml, records_path: /catalog/books/book}

These decoders stream: they read the body as an iterator of byte chunks and yield
records one at a time, so a 1 GB CSV export takes as little memory as a small one.
The chunks come from `body_chunks(response)`: the body as sent, with its
Content-Encoding (gzip, deflate) undone and a gzip file (a `.gz` download, found by
its magic bytes) decompressed; a `json` page that is a gzip file is decompressed too
(`gunzip_body`), whatever its Content-Type. Anything that bounds a body (size, time) can wrap that
iterator. `json`, the default, is not a streaming decoder: the page is one JSON
document, read by the client with `records_path` and pagination as before.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import typing as t
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping

import msgspec

from tap_restoauth import options
from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.http import limits

if t.TYPE_CHECKING:
    from xml.etree import ElementTree

    import requests

CHUNK_BYTES = 64 * 1024
MAX_COLUMNS = 10_000  # CSV columns (a record with more fields is not a record but an attack)
GZIP_MAGIC = b"\x1f\x8b"


class BodyError(ApiError, ValueError):
    """The body is not what its format says; the message says where. The only error a
    decoder raises for any body (tests/test_decoder_bounds.py)."""


class Decoder(ABC):
    """Turns a response body into records."""

    type: t.ClassVar[str]
    accept: t.ClassVar[str] = "*/*"  # the Accept header sent for this format
    streaming: t.ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            DECODERS[cls.type] = cls

    @abstractmethod
    def records(self, chunks: Iterable[bytes]) -> Iterator[dict[str, t.Any]]:
        """The records in the body, read chunk by chunk; BodyError when it is malformed."""


DECODERS: dict[str, type[Decoder]] = {}


def build_decoder(setting: t.Any, where: str) -> Decoder:
    """The decoder a `format` setting describes: a name, or an object with a `type`."""
    spec: Mapping[str, t.Any] = (
        {"type": setting} if isinstance(setting, str) else (setting or {"type": "json"})
    )
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a format name (json, jsonl, csv, xml) or an object with a type")
    cls = DECODERS.get(str(spec.get("type")))
    if cls is None:
        raise ConfigError(
            f"{where}: unknown format {spec.get('type')!r} (known: {', '.join(sorted(DECODERS))})"
        )
    return options.build(cls, spec, where, ignore={"type"})


def body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body of a streamed response, decoded (Content-Encoding) and un-gzipped, in chunks."""
    return limits.streamed_chunks(response, CHUNK_BYTES, gunzip_if_gzip)


def gunzip_if_gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks`, decompressed when they start with the gzip magic bytes (several members too)."""
    iterator = iter(chunks)
    first = b""
    for chunk in iterator:
        first += chunk
        if len(first) >= 2:
            break
    if first[:2] != GZIP_MAGIC:
        if first:
            yield first
        yield from iterator
        return
    inflater = zlib.decompressobj(wbits=31)
    pending = first
    for chunk in _chain(pending, iterator):
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, CHUNK_BYTES)
            except zlib.error as exc:
                raise BodyError(f"the gzip data is corrupt ({exc})") from None
            if out:
                yield out
            while inflater.unconsumed_tail:
                out = inflater.decompress(inflater.unconsumed_tail, CHUNK_BYTES)
                if out:
                    yield out
            data = inflater.unused_data  # a next gzip member (concatenated files)
            if data:
                inflater = zlib.decompressobj(wbits=31)
    rest = inflater.flush()
    if rest:
        yield rest
    if not inflater.eof:
        raise BodyError("the gzip data ends early (the download was cut off)")


def gunzip_body(content: bytes, max_bytes: int) -> bytes:
    """A whole body, decompressed when it is a gzip file (found by its magic bytes, whatever its
    Content-Type); BodyError past `max_bytes` decompressed, so a small bomb cannot inflate."""
    if content[:2] != GZIP_MAGIC:
        return content
    out = bytearray()
    for chunk in gunzip_if_gzip([content]):
        out += chunk
        if len(out) > max_bytes:
            raise BodyError(
                f"the gzip body inflates past max_response_mb ({max_bytes / limits.MEGABYTE:g} MB)"
            )
    return bytes(out)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for the C readers of io and csv)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _text(chunks: Iterable[bytes], encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.BufferedReader(_ChunkReader(chunks), CHUNK_BYTES), encoding=encoding, newline=""
    )


_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_BOOLEANS = {"true": True, "false": False, "TRUE": True, "FALSE": False, "True": True, "False": False}


def infer_value(text: str) -> t.Any:
    """A text field typed as JSON would have it: "" is null, numbers and booleans are parsed.

    Only canonical numbers are: "007" and "1,5" stay strings (codes, not quantities).
    ISO timestamps stay strings; schema inference marks them `format: date-time`.
    """
    if not text:
        return None
    first = text[0]
    if first.isdigit() or first == "-":
        if _INTEGER.match(text):
            return int(text)
        if _NUMBER.match(text):
            return float(text)
        return text
    return _BOOLEANS.get(text, text)


@dataclasses.dataclass(frozen=True)
class JsonDecoder(Decoder):
    """One JSON document a page (the default): records_path picks the records.

    Config: ``format: json``
    """

    type: t.ClassVar[str] = "json"
    accept: t.ClassVar[str] = "application/json"
    streaming: t.ClassVar[bool] = False

    def records(self, chunks: Iterable[bytes]) -> Iterator[dict[str, t.Any]]:
        raise NotImplementedError("JSON pages are decoded by the client")


@dataclasses.dataclass(frozen=True)
class JsonLinesDecoder(Decoder):
    """One JSON object a line (NDJSON), e.g. ``{"id": 1}\\n{"id": 2}\\n``; blank lines are skipped.

    A line nested deeper than limits.MAX_JSON_DEPTH (200) levels is refused, as JSON pages are.

    Config: ``format: jsonl``
    """

    type: t.ClassVar[str] = "jsonl"
    accept: t.ClassVar[str] = "application/x-ndjson, application/jsonl, application/json;q=0.9, */*;q=0.1"

    def records(self, chunks: Iterable[bytes]) -> Iterator[dict[str, t.Any]]:
        decode = msgspec.json.Decoder().decode
        depth = limits.MAX_JSON_DEPTH
        for number, line in enumerate(io.BufferedReader(_ChunkReader(chunks), CHUNK_BYTES), start=1):
            if not line.strip():
                continue
            # A line with fewer brackets than the limit cannot nest deeper (the usual case: no scan).
            if line.count(b"[") + line.count(b"{") > depth and limits.nesting_exceeds(line, depth):
                raise BodyError(f"line {number} is JSON nested deeper than {depth} levels (the tap's limit)")
            try:
                record = decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                raise BodyError(
                    f"line {number} is not JSON ({type(exc).__name__}: {str(exc)[:200]})"
                ) from None
            if not isinstance(record, dict):
                raise BodyError(f"line {number} is a JSON {type(record).__name__}, expected an object")
            yield record


@dataclasses.dataclass(frozen=True)
class CsvDecoder(Decoder):
    """Comma- (or `delimiter`-) separated values, one record a row, named by the header row.

    Reads ``id,name,active,updated_at\\n1,Ada,true,2024-01-01T00:00:00Z\\n``. Without a header
    row (`header: false`) the fields are named by `columns`. Values are typed like JSON
    (`infer_types`): numbers, true/false, an empty field as null. At most MAX_COLUMNS
    columns and csv's field size limit (128 kB a field), else BodyError.

    Config: ``format: {type: csv, delimiter: ";", header: true, encoding: utf-8}``
    """

    type: t.ClassVar[str] = "csv"
    accept: t.ClassVar[str] = "text/csv, application/csv;q=0.9, */*;q=0.1"
    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    columns: tuple[str, ...] = ()
    infer_types: bool = True
    encoding: str = "utf-8-sig"  # a byte-order mark, as spreadsheet exports write, is skipped

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1 or len(self.quotechar) != 1:
            raise ConfigError(
                'format: delimiter and quotechar must be single characters (use "\\t" for tabs)'
            )
        if not self.header and not self.columns:
            raise ConfigError("format: header: false needs columns (the field names, in order)")

    def records(self, chunks: Iterable[bytes]) -> Iterator[dict[str, t.Any]]:
        rows = csv.reader(_text(chunks, self.encoding), delimiter=self.delimiter, quotechar=self.quotechar)
        convert = infer_value if self.infer_types else _keep
        try:
            names = list(self.columns) if self.columns else None
            if self.header:
                first = next(rows, None)
                if first is None:
                    return
                names = names or [name.strip() for name in first]
            assert names is not None
            width = len(names)
            if width > MAX_COLUMNS:
                raise BodyError(f"the header has {width} columns, more than {MAX_COLUMNS} (the tap's limit)")
            for row in rows:
                if len(row) != width:
                    if not row:
                        continue
                    raise BodyError(
                        f"row {rows.line_num} has {min(len(row), MAX_COLUMNS + 1)}"
                        f"{'+' if len(row) > MAX_COLUMNS else ''} fields, the header has {width}"
                    )
                yield dict(zip(names, map(convert, row), strict=True))
        except csv.Error as exc:
            raise BodyError(f"invalid CSV at line {rows.line_num} ({exc})") from None
        except UnicodeError as exc:  # UnicodeDecodeError, or UTF-16 without a byte-order mark
            reason = getattr(exc, "reason", None) or str(exc)[:200]
            raise BodyError(f"the body is not {self.encoding} text ({reason})") from None


def _keep(value: str) -> str:
    return value


@dataclasses.dataclass(frozen=True)
class XmlDecoder(Decoder):
    """XML: each element at `records_path` is a record.

    Reads ``<catalog><book id="7"><title>Dune</title><tag>sf</tag><tag>classic</tag></book>
    </catalog>`` with ``records_path: /catalog/book`` as ``{"id": 7, "title": "Dune", "tag":
    ["sf", "classic"]}``: attributes and child elements become fields (namespaces
    dropped), repeated elements a list, text next to attributes or children `#text`.
    A path without a leading ``/`` matches at any depth (``book``).

    The body is parsed incrementally and every finished element is dropped once read:
    a record after it is yielded, anything outside records at once. Memory is that of
    one record (plus the open ancestors), whatever the file's size; documents nested
    deeper than MAX_DEPTH levels are refused. Time is linear in the body.

    Config: ``format: {type: xml, records_path: /catalog/book}``
    """

    type: t.ClassVar[str] = "xml"
    accept: t.ClassVar[str] = "application/xml, text/xml;q=0.9, */*;q=0.1"
    records_path: str = ""
    infer_types: bool = True

    def __post_init__(self) -> None:
        if not self.steps:
            raise ConfigError("format.records_path is required for xml (e.g. /catalog/book)")

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(step for step in self.records_path.split("/") if step)

    def records(self, chunks: Iterable[bytes]) -> Iterator[dict[str, t.Any]]:
        from xml.etree import ElementTree  # noqa: PLC0415  (imported by XML streams only)

        convert = infer_value if self.infer_types else _keep
        walk = _XmlWalk(self.steps, anchored=self.records_path.startswith("/"))
        try:
            for events in _xml_events(chunks):
                for element in walk.records(events):
                    value = _element_value(element, convert)
                    yield value if isinstance(value, dict) else {_local(element.tag): value}
        except ElementTree.ParseError as exc:
            raise BodyError(f"invalid XML ({exc})") from None
        except BodyError:
            raise
        except (ValueError, LookupError, RecursionError) as exc:  # e.g. an unknown encoding declared
            raise BodyError(f"unreadable XML ({type(exc).__name__}: {str(exc)[:200]})") from None


MAX_DEPTH = limits.MAX_JSON_DEPTH


def _xml_events(chunks: Iterable[bytes]) -> Iterator[Iterable[tuple[str, t.Any]]]:
    """The parser's start/end events, a chunk's worth at a time."""
    from xml.etree import ElementTree  # noqa: PLC0415  (imported by XML streams only)

    parser: t.Any = ElementTree.XMLPullParser(events=("start", "end"))
    for chunk in chunks:
        parser.feed(chunk)
        yield parser.read_events()
    parser.close()
    yield parser.read_events()


class _XmlWalk:
    """Follows start/end events: which finished elements are records, and drops the rest.

    Per event it does constant work: whether the open path matches `steps` is kept
    per level (anchored) or checked on the last len(steps) tags (at any depth).
    """

    def __init__(self, steps: tuple[str, ...], *, anchored: bool) -> None:
        self.steps = steps
        self.anchored = anchored
        self.path: list[str] = []
        self.open: list[ElementTree.Element] = []
        self.prefix: list[bool] = [True]  # anchored: path[:i] == steps[:i]
        self.is_record: list[bool] = []
        self.in_records = 0  # open elements that are records

    def records(self, events: Iterable[tuple[str, t.Any]]) -> Iterator[ElementTree.Element]:
        steps, path, open_ = self.steps, self.path, self.open
        for event, element in events:
            if event == "start":
                if len(path) >= MAX_DEPTH:
                    raise BodyError(f"XML nested deeper than {MAX_DEPTH} levels (the tap's limit)")
                tag = _local(element.tag)
                depth = len(path)
                path.append(tag)
                open_.append(element)
                if self.anchored:
                    matches = self.prefix[depth] and depth < len(steps) and steps[depth] == tag
                    self.prefix.append(matches)
                    record = matches and depth + 1 == len(steps)
                else:
                    record = tag == steps[-1] and tuple(path[-len(steps) :]) == steps
                self.is_record.append(record)
                self.in_records += record
                continue
            path.pop()
            open_.pop()
            if self.anchored:
                self.prefix.pop()
            record = self.is_record.pop()
            self.in_records -= record
            if record:
                yield element
            elif self.in_records:
                continue  # part of a record still open: kept until that record is read
            element.clear()
            if open_:
                del open_[-1][-1]  # the element that ends is always its parent's last child


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _element_value(element: ElementTree.Element, convert: t.Callable[[str], t.Any]) -> t.Any:
    text = (element.text or "").strip()
    if not len(element) and not element.attrib:
        return convert(text)
    value: dict[str, t.Any] = {_local(k): convert(v) for k, v in element.attrib.items()}
    for child in element:
        key = _local(child.tag)
        item = _element_value(child, convert)
        if key not in value:
            value[key] = item
        elif isinstance(value[key], list):
            value[key].append(item)
        else:
            value[key] = [value[key], item]
    if text:
        value["#text"] = convert(text)
    return value

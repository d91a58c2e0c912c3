"""What one page shows: where the records are, which field identifies them, which field
says when they changed.

Reads e.g. ``{"results": [{"id": 1, "updated_at": "2024-01-02T03:04:05Z"}, ...], "next": "..."}``:
records ``$.results[*]`` (the only array of objects, or the one with a listing name, or
the longest), primary key ``id`` (present and unique in every record; else the one
``*_id``/``uuid``/``key`` field that is), replication key ``updated_at`` (named like an
update time and holding ISO-8601 date-times in every record).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Iterator, Mapping

from tap_restoauth.fetch.incremental import parse_timestamp
from tap_restoauth.openapi.streams import LIST_FIELDS

_KEY = re.compile(r"^(.+_id|uuid|key)$", re.IGNORECASE)
_UPDATED = re.compile(
    r"^(updated|updated_?at|updated_?time|modified|modified_?at|last_?modified(_?at|_?date|_?date_?time)?|"
    r"date_?modified|last_?updated|system_?modstamp|update_?time)$",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def field_path(keys: t.Sequence[str]) -> str:
    """``$.meta.next`` or ``$['@odata.nextLink']``."""
    parts = [f".{key}" if _IDENTIFIER.match(key) else f"['{key}']" for key in keys]
    return "$" + "".join(parts)


def walk(
    body: t.Any, depth: int = 3, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], t.Any]]:
    """(keys, value) of every field of nested objects, `depth` levels deep (arrays not entered)."""
    if not isinstance(body, Mapping) or depth == 0:
        return
    for key, value in body.items():
        keys = (*prefix, str(key))
        yield keys, value
        yield from walk(value, depth - 1, keys)


@dataclasses.dataclass(frozen=True)
class Records:
    path: str
    keys: tuple[str, ...]  # the array's keys in the body, () for a top-level array
    records: list[Mapping[str, t.Any]]
    evidence: str


def find_records(body: t.Any) -> Records | None:
    if _objects(body):
        return Records(
            "$[*]", (), body, f"records_path $[*]: a top-level array of objects, {len(body)} items"
        )
    arrays = [(keys, value) for keys, value in walk(body) if _objects(value)]
    if not arrays:
        return None
    named = [(keys, value) for keys, value in arrays if keys[-1] in LIST_FIELDS]
    if len(arrays) == 1:
        (keys, value), why = arrays[0], "the only array of objects"
    elif named:
        (keys, value), why = named[0], f"the array named {named[0][0][-1]!r}"
    else:
        keys, value = max(arrays, key=lambda item: len(item[1]))
        why = f"the longest of {len(arrays)} arrays of objects"
    path = field_path(keys) + "[*]"
    return Records(path, keys, value, f"records_path {path}: {why}, {len(value)} items")


def _objects(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def primary_key(records: list[Mapping[str, t.Any]]) -> tuple[list[str], str]:
    def unique(name: str) -> bool:
        values = [record.get(name) for record in records]
        scalar = all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)
        return scalar and len(set(values)) == len(values)

    shared = [name for name in records[0] if all(name in record for record in records)]
    ids = [name for name in shared if name.lower() == "id" and unique(name)]
    if ids:
        return [ids[0]], f"primary key {ids[0]}: present and unique in {len(records)} records"
    keys = [name for name in shared if _KEY.match(name) and unique(name)]
    if len(keys) == 1:
        return keys, f"primary key {keys[0]}: the one *_id/uuid/key field unique in {len(records)} records"
    return [], "no primary key: no field named id (or one *_id/uuid/key) is unique in every record"


def replication_key(records: list[Mapping[str, t.Any]]) -> tuple[str | None, str]:
    for name in records[0]:
        if _UPDATED.match(str(name)) and all(
            isinstance(record.get(name), str) and parse_timestamp(record[name]) for record in records
        ):
            return str(name), f"replication key {name}: an ISO-8601 update time in every record"
    return None, "no replication key: no update-time field (updated_at, modified, ...) holds date-times"


def ids(records: Records, key: list[str]) -> set[str]:
    """What identifies each record: its primary key, else the whole record."""
    if key:
        return {str(record.get(key[0])) for record in records.records}
    return {repr(sorted(record.items(), key=lambda item: str(item[0]))) for record in records.records}

"""Stream schemas: declared (inline or file) or inferred from sample records."""

from __future__ import annotations

import copy
import json
import re
import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path

from genson import SchemaBuilder
from genson.schema.strategies import Number, String

from tap_restoauth.errors import ConfigError

# genson recurses once per level of a sample: deeper values are described as plain
# objects / arrays (any content) instead.
MAX_INFERRED_DEPTH = 32

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def load_declared(value: t.Any, where: str) -> dict[str, t.Any] | None:
    """The JSON Schema given inline or as a file path; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        path = Path(value).expanduser()
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read schema file {value!r}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: schema file {value!r} is not valid JSON ({exc})") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("properties", {}), Mapping):
        raise ConfigError(f"{where}: expected a JSON Schema object with 'properties'")
    schema = dict(value)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


class _DateTimeString(String):
    """genson's string strategy, adding `format: date-time` when every sample is ISO-8601."""

    def __init__(self, node_class: t.Any) -> None:
        super().__init__(node_class)
        self._all_date_times = True

    def add_object(self, obj: t.Any) -> None:
        super().add_object(obj)
        if not _DATE_TIME.match(obj):
            self._all_date_times = False

    def to_schema(self) -> dict[str, t.Any]:
        schema: dict[str, t.Any] = super().to_schema()
        if self._all_date_times:
            schema["format"] = "date-time"
        return schema


_WIDE_INTEGER = "x-wider-than-int64"
_INT64 = range(-(2**63), 2**63)


class _Number(Number):
    """genson's number strategy, noting integers that do not fit in 64 bits."""

    def __init__(self, node_class: t.Any) -> None:
        super().__init__(node_class)
        self._wide = False

    def add_object(self, obj: t.Any) -> None:
        super().add_object(obj)
        if obj.__class__ is int and obj not in _INT64:
            self._wide = True

    def to_schema(self) -> dict[str, t.Any]:
        schema: dict[str, t.Any] = super().to_schema()
        if self._wide:
            schema[_WIDE_INTEGER] = True
        return schema


class _Builder(SchemaBuilder):
    EXTRA_STRATEGIES = (_DateTimeString, _Number)


def infer(records: Iterable[Mapping[str, t.Any]], primary_keys: Iterable[str]) -> dict[str, t.Any]:
    """A JSON Schema for `records` that every major target reads the same way.

    Each property has one type, nullable except the primary keys: `{"type": [X, "null"]}`,
    never `anyOf` (targets such as BigQuery's take the first branch of an `anyOf` and
    load it as text). See `_loadable` for the rules.
    """
    builder = _Builder()
    builder.add_schema({"type": "object", "properties": {}})
    for record in records:
        builder.add_object(_shallow(record, MAX_INFERRED_DEPTH))
    schema = builder.to_schema()
    keys = set(primary_keys)
    properties = {
        name: _loadable(prop, nullable=name not in keys)
        for name, prop in schema.get("properties", {}).items()
    }
    return {"type": "object", "properties": properties}


def _kinds(schema: Mapping[str, t.Any]) -> dict[str, Mapping[str, t.Any]]:
    """Each JSON type a genson schema allows, with the (sub)schema describing it."""
    kinds: dict[str, Mapping[str, t.Any]] = {}
    for branch in schema.get("anyOf") or [schema]:
        declared = branch.get("type")
        for kind in [declared] if isinstance(declared, str) else declared or []:
            kinds[kind] = branch
    return kinds


def _shallow(value: t.Any, depth: int) -> t.Any:
    """`value` with objects and arrays below `depth` levels emptied (typed, but not described)."""
    if isinstance(value, dict):
        return {k: _shallow(v, depth - 1) for k, v in value.items()} if depth > 0 else {}
    if isinstance(value, list):
        return [_shallow(v, depth - 1) for v in value] if depth > 0 else []
    return value


def _loadable(schema: Mapping[str, t.Any], *, nullable: bool) -> dict[str, t.Any]:
    """One inferred property as a single JSON type (the rules docs/bigquery.md lists).

    - integer and number seen together: number;
    - integers outside 64 bits (BigQuery INT64, most warehouses' BIGINT): string;
    - several other types (`1` then `"two"`), or none but null: string; the records'
      values are turned into text when they are conformed (records/conform.py);
    - strings that are all ISO-8601 date-times keep `format: date-time`;
    - objects: each property again; an object never seen with a key: string (JSON text);
    - arrays: `items` typed by the same rules, nested arrays as string (JSON text); an
      array never seen with an item has `items: {"type": ["string", "null"]}`; an array
      seen with a null item is string (its JSON text), as BigQuery arrays hold no NULL.
    """
    kinds = _kinds(schema)
    kinds.pop("null", None)
    if "integer" in kinds and "number" in kinds:
        del kinds["integer"]
    result: dict[str, t.Any] = {"type": "string"}
    if len(kinds) == 1:
        ((kind, branch),) = kinds.items()
        if kind == "object" and branch.get("properties"):
            result = {
                "type": "object",
                "properties": {k: _loadable(v, nullable=True) for k, v in branch["properties"].items()},
            }
        elif kind == "array":
            items = branch.get("items")
            item_kinds = _kinds(items) if isinstance(items, Mapping) else {}
            if not item_kinds:
                result = {"type": "array", "items": {"type": ["string", "null"]}}
            elif "null" not in item_kinds:
                item = _loadable(t.cast(Mapping[str, t.Any], items), nullable=False)
                if "array" in item["type"]:
                    item = {"type": "string"}  # arrays of arrays: BigQuery has no such type
                result = {"type": "array", "items": item}
        elif kind == "integer" and branch.get(_WIDE_INTEGER):
            result = {"type": "string"}
        elif kind != "object":
            result = {"type": kind}
            if kind == "string" and "format" in branch:
                result["format"] = branch["format"]
    if nullable:
        result["type"] = [result["type"], "null"]
    return result


def with_properties(
    schema: Mapping[str, t.Any], extra: Mapping[str, Mapping[str, t.Any]]
) -> dict[str, t.Any]:
    """A copy of `schema` with `extra` properties added where missing."""
    result = copy.deepcopy(dict(schema))
    properties = result.setdefault("properties", {})
    for name, prop in extra.items():
        properties.setdefault(name, dict(prop))
    return result


def property_type(schema: Mapping[str, t.Any] | None, name: str) -> dict[str, t.Any]:
    """The schema of property `name`, or a permissive scalar when unknown."""
    if schema:
        prop = schema.get("properties", {}).get(name)
        if isinstance(prop, Mapping):
            return dict(prop)
    return {"type": ["string", "integer", "number", "null"]}


def is_timestamp(schema: Mapping[str, t.Any], name: str) -> bool:
    prop = schema.get("properties", {}).get(name) or {}
    if prop.get("format") in {"date-time", "date"}:
        return True
    return any(b.get("format") in {"date-time", "date"} for b in prop.get("anyOf", []))

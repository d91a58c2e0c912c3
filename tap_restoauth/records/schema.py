"""Stream schemas: declared (inline or file) or inferred from sample records."""

from __future__ import annotations

import copy
import json
import re
import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path

from genson import SchemaBuilder
from genson.schema.strategies import String

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


class _Builder(SchemaBuilder):
    EXTRA_STRATEGIES = (_DateTimeString,)


def infer(records: Iterable[Mapping[str, t.Any]], primary_keys: Iterable[str]) -> dict[str, t.Any]:
    """A JSON Schema for `records`: properties nullable except the primary keys."""
    builder = _Builder()
    builder.add_schema({"type": "object", "properties": {}})
    for record in records:
        builder.add_object(_shallow(record, MAX_INFERRED_DEPTH))
    schema = builder.to_schema()
    schema.pop("$schema", None)
    schema.pop("required", None)
    keys = set(primary_keys)
    schema["properties"] = {
        name: (_normalize(prop) if name in keys else _nullable(_normalize(prop)))
        for name, prop in schema.get("properties", {}).items()
    }
    return schema


def _shallow(value: t.Any, depth: int) -> t.Any:
    """`value` with objects and arrays below `depth` levels emptied (typed, but not described)."""
    if isinstance(value, dict):
        return {k: _shallow(v, depth - 1) for k, v in value.items()} if depth > 0 else {}
    if isinstance(value, list):
        return [_shallow(v, depth - 1) for v in value] if depth > 0 else []
    return value


def _normalize(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Merge integer into number, recurse into objects and arrays, drop `required`."""
    schema = dict(schema)
    schema.pop("required", None)
    if "anyOf" in schema:
        return {"anyOf": [_normalize(branch) for branch in schema["anyOf"]]}
    kind = schema.get("type")
    if isinstance(kind, list) and "integer" in kind and "number" in kind:
        schema["type"] = [k for k in kind if k != "integer"]
    if "properties" in schema:
        schema["properties"] = {k: _nullable(_normalize(v)) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _normalize(schema["items"])
    if kind == "array" and "items" not in schema:
        schema["items"] = {}
    return schema


def _nullable(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    if "anyOf" in schema:
        if not any(b.get("type") == "null" for b in schema["anyOf"]):
            return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
        return schema
    kind = schema.get("type")
    if kind is None:
        return schema
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" not in kinds:
        schema = {**schema, "type": [*kinds, "null"]}
    return schema


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

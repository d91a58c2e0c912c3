"""Type conformance compiled once per schema: the SDK's result, without its per-property cost.

The SDK conforms every record by walking its properties and classifying each
property's schema again for every value (a third of a minimal tap's run time).
For values a JSON decoder produces, almost all of that work changes nothing:
the SDK only ever

- drops properties the schema does not know (unless ``additionalProperties``),
- turns non-boolean values of boolean-only properties into ``value != 0``,
- replaces NaN and infinities with None (msgspec never decodes those: it rejects
  out-of-range numbers),
- and does the same inside objects with ``properties`` and arrays with ``items``.

One addition to the SDK's result: a value of a string-only property (``"type": "string"``
or ``["string", "null"]``) that is not a string becomes its JSON text (``1`` -> ``"1"``,
``true`` -> ``"true"``, objects and arrays compact JSON). Inferred schemas declare a
property string when the samples mixed types or held integers beyond 64 bits
(records/schema.py); without this, targets such as BigQuery's reject those values.

`Conformer` classifies the schema once, checks a record for those cases with a
few C-level operations, and returns the record itself when none applies. Any
record it cannot vouch for goes through the SDK's own function, so the result is
always exactly the SDK's (after `to_text`).
"""

from __future__ import annotations

import json
import logging
import typing as t
from collections.abc import Callable
from itertools import chain, repeat

from singer_sdk.exceptions import EmptySchemaTypeError
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    conform_record_data_types,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

Check = Callable[[t.Any], bool]


def _reject(value: t.Any) -> bool:
    return False


def _is_bool_or_none(value: t.Any) -> bool:
    return value is None or value.__class__ is bool


def _is_str_or_none(value: t.Any) -> bool:
    return value is None or value.__class__ is str


def is_text_only(schema: t.Any) -> bool:
    """True when `schema` allows strings and nothing else but null."""
    if not isinstance(schema, t.Mapping):
        return False
    declared = schema.get("type")
    kinds = {declared} if isinstance(declared, str) else set(declared or ())
    return "string" in kinds and kinds <= {"string", "null"}


def text(value: t.Any) -> str:
    """A non-string JSON value as text: its compact JSON (`1`, `true`, `{"a":1}`)."""
    if value.__class__ is bool or value.__class__ is int or value.__class__ is float:
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def to_text(value: t.Any, schema: t.Any, *, recursive: bool = True) -> t.Any:
    """`value` with every non-string value of a string-only property turned into `text`.

    Not `recursive`: only the top-level properties of a record (conformance level ROOT_ONLY).
    """
    if value is None or not isinstance(schema, t.Mapping):
        return value
    if is_text_only(schema):
        return value if value.__class__ is str else text(value)
    if value.__class__ is dict and isinstance(schema.get("properties"), t.Mapping):
        properties = schema["properties"]
        if not recursive:
            return {
                k: (text(v) if v is not None and v.__class__ is not str else v)
                if is_text_only(properties.get(k))
                else v
                for k, v in value.items()
            }
        return {k: to_text(v, properties[k]) if k in properties else v for k, v in value.items()}
    if value.__class__ is list and isinstance(schema.get("items"), t.Mapping):
        items = schema["items"]
        return [to_text(v, items) for v in value]
    return value


class _Value:
    """What conformance does to JSON values of one property schema, decided once."""

    def __init__(self, schema: t.Mapping[str, t.Any], *, recursive: bool) -> None:
        prop = dict(schema)
        self.text = is_text_only(prop)
        self.boolean = bool(_is_exclusive_boolean_type(prop))
        self.objects: _Object | None = None
        self.lists: Check | None = None
        self.item_types: frozenset[type] | None = None  # lists whose items need a type check only
        if recursive:
            if is_object_type(prop) and "properties" in prop:
                self.objects = _Object(prop, recursive=True)
            try:
                uniform = is_uniform_list(prop)
            except (EmptySchemaTypeError, ValueError):
                self.lists = _reject  # the SDK raises on a list here: let it
            else:
                if uniform:
                    self.lists = _list_check(prop["items"])
                    self.item_types = _item_types(prop["items"])

    @property
    def only_boolean(self) -> bool:
        """Values are left alone exactly when they are booleans or null."""
        return self.boolean and self.objects is None and self.lists is None

    def check(self) -> Check | None:
        """A predicate telling that a (non-null) value is left as it is; None when every value is."""
        boolean, lists = self.boolean, self.lists
        objects = self.objects.unchanged if self.objects is not None else None
        if not (boolean or objects or lists):
            return None

        def unchanged(value: t.Any) -> bool:
            cls = value.__class__
            if cls is dict and objects is not None:
                return objects(value)
            if cls is list and lists is not None:
                return lists(value)
            return not boolean or cls is bool

        return unchanged


class _Object:
    """Tells whether conforming a dict against an object schema returns an equal dict, warning of nothing."""

    def __init__(self, schema: t.Mapping[str, t.Any], *, recursive: bool) -> None:
        properties: t.Mapping[str, t.Any] = schema["properties"]
        self.keys = frozenset(properties)
        self.open_ended = bool(schema.get("additionalProperties"))
        values = {name: _Value(prop, recursive=recursive) for name, prop in properties.items()}
        self.booleans = tuple(name for name, value in values.items() if value.only_boolean)
        self.texts = tuple(name for name, value in values.items() if value.text)
        checked = [
            (name, value, check)
            for name, value in values.items()
            if not value.only_boolean and not value.text and (check := value.check()) is not None
        ]
        self.checks = tuple((name, check) for name, _, check in checked)
        # Lists of booleans or strings (not a boolean property): their items' types are
        # checked for a whole batch at once, in C (`all_unchanged`).
        self.typed_lists = tuple(
            (name, value.item_types, check)
            for name, value, check in checked
            if value.item_types is not None and not value.boolean and value.objects is None
        )
        self.other_checks = tuple(
            (name, check) for name, check in self.checks if name not in {n for n, _, _ in self.typed_lists}
        )

    def unchanged(self, record: dict[str, t.Any]) -> bool:
        if not self.open_ended and not record.keys() <= self.keys:
            return False
        for name in self.booleans:
            value = record.get(name)
            if value is not None and value.__class__ is not bool:
                return False
        for name in self.texts:
            value = record.get(name)
            if value is not None and value.__class__ is not str:
                return False
        for name, check in self.checks:
            value = record.get(name)
            if value is not None and not check(value):
                return False
        return True

    def all_unchanged(self, records: list[dict[str, t.Any]]) -> bool:
        """`unchanged` for every record, mostly in C: one pass per property that needs a look."""
        if not self.open_ended and not set().union(*records) <= self.keys:
            return False
        for name in self.booleans:
            if not set(map(type, map(dict.get, records, repeat(name)))) <= _BOOLEAN_TYPES:
                return False
        for name in self.texts:
            if not set(map(type, map(dict.get, records, repeat(name)))) <= _TEXT_TYPES:
                return False
        for name, item_types, check in self.typed_lists:
            values = list(map(dict.get, records, repeat(name)))
            if set(map(type, values)) <= _LIST_TYPES:
                if not set(map(type, chain.from_iterable(filter(None, values)))) <= item_types:
                    return False
            elif not all(check(value) for value in values if value is not None):
                return False
        for name, check in self.other_checks:
            for value in map(dict.get, records, repeat(name)):
                if value is not None and not check(value):
                    return False
        return True


_LIST_TYPES: frozenset[type] = frozenset({list, type(None)})
_BOOLEAN_TYPES: frozenset[type] = frozenset({bool, type(None)})
_TEXT_TYPES: frozenset[type] = frozenset({str, type(None)})


def _item_types(items: t.Any) -> frozenset[type] | None:
    """The item types a uniform list keeps as they are when that is all there is to check."""
    if is_object_type(items):
        return None
    if _is_exclusive_boolean_type(items):
        return _BOOLEAN_TYPES
    if is_text_only(items):
        return _TEXT_TYPES
    return None


def _list_check(items: t.Any) -> Check | None:
    """Predicate for the items of a uniform list (the SDK conforms each one); None: any items."""
    if is_object_type(items):
        if "properties" not in items:
            # The SDK conforms dict items against `items` and fails without properties.
            return lambda values: not any(v.__class__ is dict for v in values)
        nested = _Object(items, recursive=True).unchanged
        return lambda values: all(nested(v) for v in values if v.__class__ is dict)
    if _is_exclusive_boolean_type(items):
        return lambda values: all(map(_is_bool_or_none, values))
    if is_text_only(items):
        return lambda values: all(map(_is_str_or_none, values))
    return None


class Conformer:
    """Conforms records of one stream as `conform_record_data_types` would, fast when nothing changes.

    `deselected` are top-level properties the catalog deselected: they are removed
    first, as the SDK's `pop_deselected_record_properties` does. Values must be what
    a JSON decoder returns (no NaN or infinities, no datetimes or bytes): the fast
    checks do not look for those.
    """

    def __init__(
        self,
        stream_name: str,
        schema: t.Mapping[str, t.Any],
        *,
        level: TypeConformanceLevel = TypeConformanceLevel.RECURSIVE,
        deselected: t.Iterable[str] = (),
        logger: logging.Logger,
    ) -> None:
        self.stream_name = stream_name
        self.schema = dict(schema)
        self.level = level
        self.logger = logger
        self.deselected = tuple(deselected)
        self._root: _Object | None = None
        if level != TypeConformanceLevel.NONE:
            root = {**self.schema, "properties": self.schema.get("properties") or {}}
            self._root = _Object(root, recursive=level == TypeConformanceLevel.RECURSIVE)

    def __call__(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The conformed record: `record` itself when conformance would not change it."""
        for name in self.deselected:
            record.pop(name, None)
        if self._root is None or self._root.unchanged(record):
            return record
        return self._sdk(record)

    def batch(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The conformed records, in order: `records` itself when none would change."""
        for name in self.deselected:
            for record in records:
                record.pop(name, None)
        root = self._root
        if root is None or root.all_unchanged(records):
            return records
        return [record if root.unchanged(record) else self._sdk(record) for record in records]

    def _sdk(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        recursive = self.level == TypeConformanceLevel.RECURSIVE
        return conform_record_data_types(
            stream_name=self.stream_name,
            record=to_text(record, self.schema, recursive=recursive),
            schema=self.schema,
            level=self.level,
            logger=self.logger,
        )

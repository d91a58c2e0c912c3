"""OpenAPI schemas translated to declared Singer (JSON) schemas.

Reads an OpenAPI 3.0/3.1 schema such as::

    {"allOf": [{"$ref": "#/components/schemas/Base"},
               {"type": "object", "required": ["id"],
                "properties": {"id": {"type": "string"},
                               "updated": {"type": "string", "format": "date-time", "nullable": true},
                               "tags": {"type": "array", "items": {"type": "string"}}}}]}

and writes ``{"type": "object", "properties": {"id": {"type": ["string"]}, "updated":
{"type": ["string", "null"], "format": "date-time"}, "tags": {"type": ["array", "null"],
"items": {"type": ["string"]}}, ...}}``. The rules:

- `$ref` followed (local, and to other files of the document); `allOf` merged;
  `oneOf`/`anyOf` of objects merged into one object holding all their properties, of
  scalars into the widest scalar (integer < number < string; boolean with a number is a
  string), of a mix into JSON text;
- ``nullable: true`` (3.0), ``type: [X, "null"]`` (3.1) and a ``{type: "null"}``
  branch all give ``["X", "null"]``; a property is nullable unless it is required and
  not nullable;
- ``format: date-time`` and ``date`` kept; ``enum`` becomes its base type;
  ``readOnly``/``writeOnly`` ignored; an object with only ``additionalProperties`` (a
  map) is JSON, ``{"type": ["object", "null"]}``;
- array items are always typed: untyped items, untyped values, a `$ref` back into
  itself (recursion) and anything deeper than `max_depth` are JSON text,
  ``{"type": ["string", "null"]}`` (the tap writes non-string values as their JSON text).
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping

from tap_restoauth.openapi.document import Document, DocumentError, Located

JSON_TEXT: dict[str, t.Any] = {"type": ["string", "null"]}
SCALARS = ("boolean", "integer", "number", "string")
KEPT_FORMATS = frozenset({"date-time", "date"})
MAX_SCHEMA_NODES = 200_000  # translated nodes per stream: bounds a document that fans out


@dataclasses.dataclass
class Flat:
    """One schema with `$ref`, `allOf`, `oneOf` and `anyOf` flattened away."""

    types: set[str] = dataclasses.field(default_factory=set)
    nullable: bool = False
    properties: dict[str, Located] = dataclasses.field(default_factory=dict)
    required: set[str] = dataclasses.field(default_factory=set)
    items: Located | None = None
    format: str | None = None
    map_values: bool = False  # additionalProperties without properties
    untyped: bool = False  # mixed or unknown: JSON text
    refs: frozenset[str] = frozenset()  # the `$ref`s followed to get here (recursion guard)

    @property
    def kind(self) -> str | None:
        """object, array, a scalar type, or None (JSON text)."""
        if self.untyped:
            return None
        if self.properties:
            return "object" if self.types <= {"object"} else None
        kinds = self.types
        if not kinds:
            if self.items is not None:
                return "array"
            return "object" if self.map_values else None
        if len(kinds) == 1:
            return next(iter(kinds))
        return widest(kinds)


def widest(kinds: set[str]) -> str | None:
    """The scalar type every value of `kinds` fits: None when they are not all scalars."""
    if not kinds <= set(SCALARS):
        return None
    if kinds <= {"integer", "number"}:
        return "number"
    return "string"


class Translator:
    """Translates the schemas of one document; `max_depth` bounds nesting."""

    def __init__(self, document: Document, max_depth: int = 8) -> None:
        self.document = document
        self.max_depth = max_depth
        self._budget = MAX_SCHEMA_NODES

    def flatten(self, located: Located, refs: frozenset[str] = frozenset(), depth: int = 0) -> Flat:
        """The schema at `located`, merged into one `Flat`."""
        node = located.node
        if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = f"{located.base}#{node['$ref']}"
            if ref in refs:
                return Flat(untyped=True, nullable=True, refs=refs)
            refs = refs | {ref}
            located = self.document.resolve(located)
            node = located.node
        if depth > 32:  # allOf inside allOf inside ...: a cycle the refs did not catch
            return Flat(untyped=True, nullable=True, refs=refs)
        if isinstance(node, bool) or not isinstance(node, Mapping):
            return Flat(untyped=node is not True, nullable=True, refs=refs)
        flat = self._own(node, located.base, refs)
        for member in _list(node.get("allOf")):
            _merge_all(flat, self.flatten(Located(member, located.base), refs, depth + 1))
        branches = [self.flatten(Located(m, located.base), refs, depth + 1) for m in _list(node.get("oneOf"))]
        branches += [
            self.flatten(Located(m, located.base), refs, depth + 1) for m in _list(node.get("anyOf"))
        ]
        if branches:
            _merge_any(flat, branches)
        return flat

    def _own(self, node: Mapping[str, t.Any], base: str, refs: frozenset[str]) -> Flat:
        flat = Flat(refs=refs)
        declared = node.get("type")
        types = declared if isinstance(declared, list) else [declared] if declared is not None else []
        for kind in types:
            if kind == "null":
                flat.nullable = True
            elif kind in (*SCALARS, "object", "array"):
                flat.types.add(str(kind))
            else:
                flat.untyped = True
        if node.get("nullable") is True:
            flat.nullable = True
        enum = node.get("enum")
        if isinstance(enum, list) and not flat.types:
            flat.types |= {_value_type(value) for value in enum if value is not None} - {None}  # type: ignore[arg-type]
            if any(value is None for value in enum):
                flat.nullable = True
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            flat.properties = {str(name): Located(value, base) for name, value in properties.items()}
        flat.required = {str(name) for name in _list(node.get("required")) if isinstance(name, str)}
        if "items" in node:
            flat.items = Located(node["items"], base)
        if isinstance(node.get("format"), str):
            flat.format = node["format"]
        additional = node.get("additionalProperties")
        flat.map_values = bool(additional) and not flat.properties
        return flat

    def record_schema(self, located: Located) -> dict[str, t.Any]:
        """The declared schema of records: an object (a non-object item is wrapped as `value`)."""
        self._budget = MAX_SCHEMA_NODES
        flat = self.flatten(located)
        if flat.kind != "object" or not flat.properties:
            return {"type": "object", "properties": {"value": self._translate(flat, 1, nullable=True)}}
        schema = self._translate(flat, 0, nullable=False)
        schema["type"] = "object"
        return schema

    def translate(self, located: Located, depth: int, *, nullable: bool) -> dict[str, t.Any]:
        return self._translate(self.flatten(located), depth, nullable=nullable)

    def _translate(self, flat: Flat, depth: int, *, nullable: bool) -> dict[str, t.Any]:
        self._budget -= 1
        if self._budget < 0:
            raise DocumentError(
                f"a response schema expands to more than {MAX_SCHEMA_NODES:,} properties; lower --max-depth"
            )
        kind = flat.kind
        nullable = nullable or flat.nullable
        if kind is None or depth > self.max_depth:
            return dict(JSON_TEXT)
        types = [kind, "null"] if nullable else [kind]
        if kind == "object":
            if not flat.properties:
                return {"type": ["object", "null"]}
            properties = {}
            for name, located in flat.properties.items():
                child = self.flatten(located, flat.refs)
                properties[name] = self._translate(child, depth + 1, nullable=name not in flat.required)
            return {"type": types, "properties": properties}
        if kind == "array":
            items = self.flatten(flat.items, flat.refs) if flat.items is not None else Flat(untyped=True)
            return {"type": types, "items": self._translate(items, depth + 1, nullable=items.nullable)}
        schema: dict[str, t.Any] = {"type": types}
        if kind == "string" and flat.format in KEPT_FORMATS:
            schema["format"] = flat.format
        return schema


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


def _value_type(value: t.Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _is_null(flat: Flat) -> bool:
    """A ``{type: "null"}`` branch: it only makes the value nullable."""
    empty = not (flat.types or flat.properties or flat.untyped or flat.map_values)
    return empty and flat.nullable and flat.items is None


def _merge_all(flat: Flat, member: Flat) -> None:
    """`allOf`: every member holds, so properties and required names add up."""
    if member.untyped and not member.properties:
        if not (flat.types or flat.properties):
            flat.untyped = True
        return
    if member.types:
        flat.types = (flat.types & member.types) or flat.types or member.types
    flat.properties.update(member.properties)
    flat.required |= member.required
    flat.items = flat.items or member.items
    flat.format = flat.format or member.format
    flat.map_values = flat.map_values or member.map_values
    flat.refs |= member.refs


def _merge_any(flat: Flat, branches: list[Flat]) -> None:
    """`oneOf`/`anyOf`: objects merge into one object, scalars into the widest scalar."""
    real = []
    for branch in branches:
        if _is_null(branch):
            flat.nullable = True
        else:
            real.append(branch)
    flat.nullable = flat.nullable or any(branch.nullable for branch in real)
    kinds = {branch.kind for branch in real}
    if not real:
        return
    if kinds == {"object"}:
        for branch in real:
            flat.properties.update(branch.properties)
            flat.refs |= branch.refs
            flat.map_values = flat.map_values or branch.map_values
        flat.types = flat.types or {"object"}
        if len(real) == 1:  # with several, a branch's required names hold only in that branch
            flat.required |= real[0].required
        return
    if kinds == {"array"} and len(real) == 1:
        flat.items = real[0].items
        flat.types = {"array"}
        return
    if None not in kinds and kinds <= set(SCALARS):
        flat.types = {widest(t.cast(set[str], kinds | flat.types)) or "string"}
        formats = {branch.format for branch in real}
        flat.format = formats.pop() if len(formats) == 1 else None
        return
    flat.untyped = True

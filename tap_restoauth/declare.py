"""One declaration per setting: a dataclass field that carries its own JSON schema.

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Options:
        timeout: float = setting("Connect and read timeout, seconds.", default=60, above=0)

`object_schema(Options)` is `--about`'s `{"type": "object", "properties": {"timeout": {"type":
["number", "null"], "default": 60, "description": ...}}}` (the shape singer-sdk's `th` writes,
`"secret": true, "writeOnly": true` on secrets), and `options.build(Options, config, where)` parses
the same field: its type from the annotation, its bound from the metadata, errors naming the key.
Standard library only: `--about` imports this and settings.py, nothing of the tap.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing as t
from collections.abc import Mapping

METADATA_KEY = "setting"


@dataclasses.dataclass(frozen=True)
class Setting:
    """What a field declares besides its type and default."""

    description: str
    documented_default: t.Any = None  # shown as "default" in the schema (None: not shown)
    required: bool = False
    secret: bool = False
    schema: Mapping[str, t.Any] | None = None  # the JSON type, when the annotation does not say it
    at_least: float | None = None  # checked by options.build: value >= at_least
    above: float | None = None  # checked by options.build: value > above
    of: type | None = None  # an object (or list of objects) declared by this class, parsed by its owner
    key: str | None = None  # the config key, when it is not the field's name (`in`)
    loose: bool = False  # required by the parser, whose error names the key, but not by the schema
    readers: str | None = None  # a registry option's readers as --about says them (default: the types)

    @property
    def schema_required(self) -> bool:
        return self.required and not self.loose

    def name(self, field: dataclasses.Field[t.Any]) -> str:
        return self.key or field.name


_UNSET: t.Any = dataclasses.MISSING


def setting(
    description: str,
    *,
    default: t.Any = _UNSET,
    fallback: t.Any = None,
    required: bool = False,
    secret: bool = False,
    schema: Mapping[str, t.Any] | None = None,
    at_least: float | None = None,
    above: float | None = None,
    of: type | None = None,
    key: str | None = None,
    loose: bool = False,
    readers: str | None = None,
) -> t.Any:
    """A dataclass field declaring one setting.

    `default` is used when the key is absent and shown in `--about`; `fallback` is used but
    not shown (an optional setting whose absence the parser reads as `fallback`); `loose`
    keeps a required setting out of the schema's `required` (the parser's error is clearer).
    `of` names the class declaring an object's own settings: `options.build` leaves such a
    value as written, for the module owning that class to parse (`auth`, `shard`, `job`...).
    A secret is left out of the dataclass's repr.
    """
    value = fallback if default is _UNSET else default
    shown = None if default is _UNSET else default
    declared = Setting(description, shown, required, secret, schema, at_least, above, of, key, loose, readers)
    return _field(declared, value)


def redeclare(cls: type, name: str, **default: t.Any) -> t.Any:
    """`cls`'s setting `name` with another default (`fallback=` or `required=True`), for a
    subclass: `client_id` is required by one auth type and optional for the next."""
    declared: Setting = cls.__dataclass_fields__[name].metadata[METADATA_KEY]  # type: ignore[attr-defined]
    required = default.get("required", False)
    return _field(dataclasses.replace(declared, required=required), default.get("fallback"))


def _field(declared: Setting, value: t.Any) -> t.Any:
    meta = {METADATA_KEY: declared}
    show = not declared.secret
    if declared.required:
        return dataclasses.field(metadata=meta, repr=show)
    if isinstance(value, (dict, list)):
        factory = functools.partial(copy.deepcopy, value)
        return dataclasses.field(default_factory=factory, metadata=meta, repr=show)
    return dataclasses.field(default=value, metadata=meta, repr=show)


def declared(cls: type) -> dict[str, tuple[dataclasses.Field[t.Any], Setting]]:
    """The settings `cls` declares, by config key, in declaration order."""
    return {
        f.metadata[METADATA_KEY].name(f): (f, f.metadata[METADATA_KEY])
        for f in dataclasses.fields(cls)
        if METADATA_KEY in f.metadata
    }


OBJECT: Mapping[str, t.Any] = {"type": "object", "properties": {}, "additionalProperties": True}
DATE_TIME: Mapping[str, t.Any] = {"type": ["string"], "format": "date-time"}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


@functools.cache
def type_hints(cls: type) -> dict[str, t.Any]:
    """`typing.get_type_hints(cls)`, evaluated once per class (the schema and every parse read it)."""
    return t.get_type_hints(cls)


def object_schema(cls: type, *, nullable: bool = False) -> dict[str, t.Any]:
    """The JSON schema of a dataclass's declared settings."""
    hints = type_hints(cls)
    settings = declared(cls)
    properties = {key: property_schema(hints[field.name], meta) for key, (field, meta) in settings.items()}
    properties.update(variant_properties(getattr(cls, "VARIANTS", ())))
    result: dict[str, t.Any] = {
        "type": ["object", "null"] if nullable else "object",
        "properties": properties,
    }
    required = [key for key, (_, meta) in settings.items() if meta.schema_required]
    if required:
        result["required"] = required
    result["additionalProperties"] = True
    return result


def variant_properties(variants: t.Sequence[type]) -> dict[str, dict[str, t.Any]]:
    """The options of a registry's types (`VARIANTS`: classes with a `type`), each listed once,
    its description led by the types reading it: `page_number, offset: first page (1) ...`.
    A key several types declare must say the same of it (one sentence, one JSON type)."""
    merged: dict[str, dict[str, t.Any]] = {}
    options = {variant: declared(variant) for variant in variants}
    for variant, settings in options.items():
        hints = type_hints(variant)
        for key, (field, meta) in settings.items():
            readers = [v for v in variants if key in options[v]]
            schema = property_schema(hints[field.name], dataclasses.replace(meta, description=""))
            named = meta.readers or ", ".join(v.type for v in readers)  # type: ignore[attr-defined]
            schema["description"] = f"{named}: {meta.description}"
            if key in merged and merged[key] != schema:
                raise TypeError(f"{variant.__name__}.{key} is declared unlike the other types' {key}")
            merged[key] = schema
    return merged


def property_schema(hint: t.Any, meta: Setting) -> dict[str, t.Any]:
    """One property: its type (nullable unless required), default, description, secret flags."""
    if meta.schema is not None:
        schema = copy.deepcopy(dict(meta.schema))
    elif meta.of is not None:
        schema = object_schema(meta.of)
        if t.get_origin(_without_none(hint)) in (list, tuple):
            schema = {"type": "array", "items": schema}
    else:
        schema = type_schema(hint)
    if not meta.schema_required:
        kind = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = kind if "null" in kind else [*kind, "null"]
    if meta.documented_default is not None:
        schema["default"] = meta.documented_default
    if meta.description:
        schema["description"] = meta.description
    if meta.secret:
        schema.update({"secret": True, "writeOnly": True})
    return schema


def type_schema(hint: t.Any) -> dict[str, t.Any]:
    """The JSON type of an annotation: scalars, Literals, lists and mappings."""
    hint = _without_none(hint)
    origin = t.get_origin(hint)
    if origin is t.Literal:
        return type_schema(type(t.get_args(hint)[0]))
    if origin in (list, tuple):
        return {"type": "array", "items": type_schema(t.get_args(hint)[0])}
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return dict(OBJECT)
    if hint in _SCALARS:
        return {"type": [_SCALARS[hint]]}
    raise TypeError(f"no JSON type for {hint!r}: give the setting a schema")


def _without_none(hint: t.Any) -> t.Any:
    """`X | None` is `X` (every optional setting is nullable)."""
    if t.get_origin(hint) in (t.Union, types.UnionType):
        (choice,) = [arg for arg in t.get_args(hint) if arg is not type(None)]
        return choice
    return hint

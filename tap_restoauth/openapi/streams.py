"""One operation as a stream: is it a listing, where are its records, what is each guess.

A GET (or a POST whose operationId or summary says it searches or lists) is kept when
its 2xx JSON response is a list of objects: a top-level array (``records_path:
"$[*]"``) or an object holding one array of objects, preferably named ``data``,
``items``, ``results``, ``records``, ``values``... or the only one
(``records_path: "$.data[*]"``). An object response of a path ending in a parameter
(``/v1/customers/{customer}``) is one resource, whatever arrays it holds.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from tap_restoauth.openapi import keys, paging
from tap_restoauth.openapi.document import Located
from tap_restoauth.openapi.naming import is_parameter, segments
from tap_restoauth.openapi.operations import Operation, Parameter
from tap_restoauth.openapi.schema import Flat, Translator

LIST_FIELDS = (
    "data",
    "items",
    "results",
    "records",
    "values",
    "entries",
    "elements",
    "list",
    "content",
    "rows",
    "objects",
    "resources",
    "hits",
    "value",
)
_LISTS = re.compile(r"search|list|query|find", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass
class Candidate:
    """A kept operation: its stream settings so far and the evidence."""

    operation: Operation
    records_path: str
    schema: dict[str, t.Any]
    paging: paging.Paging
    keys: keys.Keys
    reasons: list[str]


class Skip(Exception):  # control flow: why an operation is not a stream
    """The operation is not a stream; the message says why."""


def candidate(operation: Operation, translator: Translator) -> Candidate:
    if operation.method == "POST" and not _LISTS.search(
        f"{operation.operation_id} {operation.node.get('summary', '')}"
    ):
        raise Skip("a POST that does not say it searches or lists")
    if operation.response is None:
        raise Skip("no JSON schema on a 2xx response")
    envelope = translator.flatten(operation.response)
    field: str | None = None
    if envelope.kind == "array":
        assert envelope.items is not None  # kind array means items
        item_location: Located = envelope.items
        records_path = "$[*]"
        envelope_for_paging: Flat | None = None
    elif envelope.kind == "object":
        field = _records_field(
            envelope, translator, single=is_parameter((segments(operation.path) or [""])[-1])
        )
        item_location = translator.flatten(envelope.properties[field], envelope.refs).items  # type: ignore[assignment]
        records_path = f"$.{field}[*]" if _IDENTIFIER.match(field) else f"$['{field}'][*]"
        envelope_for_paging = envelope
    else:
        raise Skip("the 2xx response is not a JSON object or array")
    item = translator.flatten(item_location, envelope.refs)
    if item.kind != "object" or not item.properties:
        raise Skip(f"the records at {records_path} are not objects with properties")
    schema = translator.record_schema(item_location)
    found_paging = paging.detect(operation, envelope_for_paging, field, translator)
    found_keys = keys.detect(item, operation, translator)
    where = f"records {records_path}" + (
        f": the {field!r} array of objects" if field else ": a top-level array"
    )
    return Candidate(
        operation,
        records_path,
        schema,
        found_paging,
        found_keys,
        [where, found_paging.reason, *found_keys.reasons],
    )


def _records_field(envelope: Flat, translator: Translator, *, single: bool) -> str:
    arrays = []
    for name, located in envelope.properties.items():
        flat = translator.flatten(located, envelope.refs)
        if flat.kind == "array" and flat.items is not None:
            items = translator.flatten(flat.items, flat.refs)
            if items.kind == "object" and items.properties:
                arrays.append(name)
    named = [name for name in LIST_FIELDS if name in arrays]
    if single:
        raise Skip("the 2xx response is one object (the path ends in a parameter), not a list")
    if named:
        return named[0]
    if len(arrays) == 1:
        return arrays[0]
    if arrays:
        raise Skip(
            f"the response holds several arrays of objects ({', '.join(arrays)}) and none has a listing name"
        )
    raise Skip("the 2xx response is one object, not a list")


def parameter_value(parameter: Parameter) -> t.Any:
    """A documented value for a required parameter: default, example or first enum value."""
    for value in (parameter.schema.get("default"), parameter.example, parameter.schema.get("example")):
        if value is not None and not isinstance(value, (dict, list)):
            return value
    enum = parameter.schema.get("enum")
    if isinstance(enum, list) and enum and not isinstance(enum[0], (dict, list)):
        return enum[0]
    return None

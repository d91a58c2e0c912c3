"""Config validation errors that name the setting and what it expects, never the value.

jsonschema's own messages quote the value (``987654321987654321 is not of type
'string'``; a private key given as a list prints the whole PEM). Here an error reads::

    auth.client_secret: expected a string, got a number (quote it in YAML)
    streams[0]: 'name' is a required property
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from jsonschema import ValidationError

_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def kind_of(value: t.Any) -> str:
    """The JSON kind of `value`, in words ("a number"), saying nothing of the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def setting_name(path: Iterable[t.Any]) -> str:
    """`auth.client_secret`, `streams[0].name` for a jsonschema path."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "config"


def describe(error: ValidationError) -> str:
    """One line for `error` built from the schema and the setting's path only."""
    where = setting_name(error.absolute_path)
    expected = error.validator_value
    if error.validator == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_KINDS.get(kind, kind) for kind in kinds)
        got = kind_of(error.instance)
        hint = " (quote it in YAML)" if "string" in kinds and got == "a number" else ""
        return f"{where}: expected {wanted}, got {got}{hint}"
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in expected if name not in error.instance]
        return f"{where}: " + ", ".join(f"{name!r} is a required property" for name in missing)
    if error.validator == "enum":
        return f"{where}: expected one of {', '.join(map(str, expected))}"
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        return f"{where}: has unknown properties"
    if error.validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return f"{where}: expected a number with {error.validator} {expected}"
    if error.validator in {"minLength", "maxLength", "minItems", "maxItems", "pattern", "format"}:
        return f"{where}: does not meet {error.validator} {expected}"
    return f"{where}: does not match the {error.validator} rule of its setting"

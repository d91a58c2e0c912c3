"""Property tests: whatever a document holds, the generator ends with a config or one of the tap's errors."""

from __future__ import annotations

import contextlib
import json
import typing as t

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.openapi.document import Document, LoadLimits, parse
from tap_restoauth.openapi.generate import Options, generate

WORDS = [
    "openapi",
    "swagger",
    "paths",
    "get",
    "post",
    "responses",
    "200",
    "2XX",
    "content",
    "application/json",
    "schema",
    "type",
    "object",
    "array",
    "string",
    "integer",
    "null",
    "items",
    "properties",
    "required",
    "allOf",
    "oneOf",
    "anyOf",
    "$ref",
    "#/components/schemas/A",
    "#/components/schemas",
    "components",
    "schemas",
    "A",
    "nullable",
    "enum",
    "format",
    "date-time",
    "additionalProperties",
    "parameters",
    "in",
    "query",
    "path",
    "name",
    "limit",
    "offset",
    "cursor",
    "starting_after",
    "has_more",
    "data",
    "next",
    "securitySchemes",
    "flows",
    "clientCredentials",
    "tokenUrl",
    "servers",
    "url",
    "id",
    "security",
    "/v1/{id}/x",
    "/v1/x",
    "definitions",
    "#/definitions/A",
    "host",
    "2.0",
    "3.0.0",
    "3.1.0",
    "headers",
    "Link",
    "maximum",
    "default",
    "updated_at",
    "since",
]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(WORDS), st.text(max_size=4))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(WORDS), inner, max_size=5),
    ),
    max_leaves=25,
)


def as_document(body: t.Any, version: str, shape: t.Any) -> dict[str, t.Any]:
    document = {"openapi": version, "servers": [{"url": "https://api.example.com"}], "paths": body}
    if isinstance(shape, dict):
        document.update({k: v for k, v in shape.items() if k not in document})
    return document


@settings(derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=values, version=st.sampled_from(["3.0.3", "3.1.0", "2.0", "x"]), shape=values)
def test_any_document_gives_a_config_or_a_tap_error(body: t.Any, version: str, shape: t.Any) -> None:
    root = as_document(body, version, shape)
    if version == "2.0":
        root["swagger"] = root.pop("openapi")
    try:
        generated = generate(Document(root, "/tmp/doc.json", LoadLimits()), Options(max_depth=3))
    except TapRestOAuthError:
        return
    json.dumps(generated.config)  # the config is plain JSON


@settings(derandomize=True, max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_parse_or_give_a_tap_error(data: bytes) -> None:
    with contextlib.suppress(TapRestOAuthError):
        parse(data, "doc")


@settings(derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=values, component=values, depth=st.integers(1, 4))
def test_any_schema_translates_to_a_typed_schema_or_a_tap_error(
    item: t.Any, component: t.Any, depth: int
) -> None:
    listing = {
        "type": "array",
        "items": {"type": "object", "properties": {"a": item, "b": {"$ref": "#/components/schemas/A"}}},
    }
    root = {
        "openapi": "3.1.0",
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": listing}}}}}}
        },
        "components": {"schemas": {"A": component}},
    }
    try:
        generated = generate(Document(root, "/tmp/doc.json", LoadLimits()), Options(max_depth=depth))
    except TapRestOAuthError:
        return
    for stream in generated.config["streams"]:
        assert_typed(stream["schema"])


def assert_typed(schema: dict[str, t.Any]) -> None:
    """Every node names its types; arrays type their items; objects list their properties or are maps."""
    assert isinstance(schema.get("type"), (str, list)), schema
    for child in schema.get("properties", {}).values():
        assert_typed(child)
    if "array" in schema["type"]:
        assert_typed(schema["items"])

"""The operations of a document: path, method, parameters and the 2xx JSON response.

Reads ``paths: {/v1/customers: {parameters: [...], get: {operationId, tags, parameters,
responses: {"200": {content: {application/json: {schema: ...}}}}}}}``; path-level and
operation-level parameters are merged (the operation's win) with `$ref`s followed.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Iterator, Mapping

from tap_restoauth.openapi.document import Document, Located

METHODS = ("get", "post")


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # query, path, header, cookie
    required: bool
    schema: Mapping[str, t.Any]
    example: t.Any = None


@dataclasses.dataclass(frozen=True)
class Operation:
    path: str
    method: str  # GET, POST
    node: Mapping[str, t.Any]
    parameters: tuple[Parameter, ...]
    response: Located | None  # the schema of the first 2xx JSON response
    response_headers: frozenset[str]  # lower-cased names documented on that response

    @property
    def operation_id(self) -> str:
        return str(self.node.get("operationId") or "")

    @property
    def tags(self) -> list[str]:
        tags = self.node.get("tags")
        return [str(tag) for tag in tags] if isinstance(tags, list) else []

    def query(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters if p.location == "query"}

    def path_parameters(self) -> list[str]:
        return [p.name for p in self.parameters if p.location == "path"]


def operations(document: Document) -> Iterator[Operation]:
    paths = document.root.get("paths")
    if not isinstance(paths, Mapping):
        return
    for path, raw_item in paths.items():
        item = document.resolve(Located(raw_item, document.location))
        if not isinstance(item.node, Mapping):
            continue
        shared = _parameters(document, item.node.get("parameters"), item.base)
        for method in METHODS:
            node = item.node.get(method)
            if not isinstance(node, Mapping):
                continue
            own = _parameters(document, node.get("parameters"), item.base)
            merged = {(p.name, p.location): p for p in (*shared, *own)}
            schema, headers = _response(document, node.get("responses"), item.base)
            yield Operation(str(path), method.upper(), node, tuple(merged.values()), schema, headers)


def _parameters(document: Document, raw: t.Any, base: str) -> list[Parameter]:
    found = []
    for value in raw if isinstance(raw, list) else []:
        located = document.resolve(Located(value, base))
        node = located.node
        if not isinstance(node, Mapping) or not isinstance(node.get("name"), str):
            continue
        schema = document.resolve(Located(node.get("schema") or {}, located.base)).node
        found.append(
            Parameter(
                name=node["name"],
                location=str(node.get("in")),
                required=node.get("required") is True,
                schema=schema if isinstance(schema, Mapping) else {},
                example=node.get("example"),
            )
        )
    return found


def _response(document: Document, responses: t.Any, base: str) -> tuple[Located | None, frozenset[str]]:
    if not isinstance(responses, Mapping):
        return None, frozenset()
    for key in sorted(responses, key=str):
        code = str(key)
        if not (code.startswith("2") and len(code) == 3):
            continue
        located = document.resolve(Located(responses[key], base))
        if not isinstance(located.node, Mapping):
            continue
        headers = located.node.get("headers")
        names = (
            frozenset(str(name).lower() for name in headers) if isinstance(headers, Mapping) else frozenset()
        )
        content = located.node.get("content")
        if not isinstance(content, Mapping):
            return None, names
        for media, body in content.items():
            if "json" in str(media) and isinstance(body, Mapping) and "schema" in body:
                return Located(body["schema"], located.base), names
        return None, names
    return None, frozenset()

"""Swagger 2.0 documents converted to the OpenAPI 3.0 shape the generator reads.

Converted: ``host`` + ``basePath`` + ``schemes`` → ``servers``; ``definitions`` →
``components.schemas`` (and every ``#/definitions/`` `$ref`); each response's
``schema`` → ``content: {application/json: {schema}}``; ``securityDefinitions`` →
``components.securitySchemes`` (oauth2 ``application`` → clientCredentials,
``accessCode`` → authorizationCode). Body and form parameters are dropped (a GET
that lists needs neither). Anything else that is not ``swagger: "2.0"`` is refused.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_restoauth.openapi.document import DocumentError

_REF_PREFIXES = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}
_FLOWS = {
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
    "password": "password",
    "implicit": "implicit",
}


def convert(document: Mapping[str, t.Any], where: str) -> dict[str, t.Any]:
    """The 3.0 form of a Swagger 2.0 document."""
    if str(document.get("swagger")) != "2.0":
        raise DocumentError(f"{where}: swagger {document.get('swagger')!r} is not supported (only 2.0)")
    converted = t.cast(dict[str, t.Any], _rewrite_refs(document))
    schemes = _list(converted.get("schemes")) or ["https"]
    host = converted.get("host")
    base_path = str(converted.get("basePath") or "")
    servers = [{"url": f"{schemes[0]}://{host}{base_path}"}] if host else [{"url": base_path or "/"}]
    produces = _list(converted.get("produces")) or ["application/json"]
    result: dict[str, t.Any] = {
        "openapi": "3.0.0",
        "info": converted.get("info") or {},
        "servers": servers,
        "paths": {},
        "components": {
            "schemas": _mapping(converted.get("definitions")),
            "parameters": _parameters(_mapping(converted.get("parameters"))),
            "responses": {
                name: _response(value, produces)
                for name, value in _mapping(converted.get("responses")).items()
            },
            "securitySchemes": {
                name: _security_scheme(value)
                for name, value in _mapping(converted.get("securityDefinitions")).items()
                if isinstance(value, Mapping)
            },
        },
    }
    if "security" in converted:
        result["security"] = converted["security"]
    for path, item in _mapping(converted.get("paths")).items():
        if not isinstance(item, Mapping):
            continue
        result["paths"][path] = {
            method: _operation(operation, produces) if isinstance(operation, Mapping) else operation
            for method, operation in item.items()
        }
        if "parameters" in item:
            result["paths"][path]["parameters"] = _parameter_list(item["parameters"])
    return result


def _mapping(value: t.Any) -> Mapping[str, t.Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


def _rewrite_refs(node: t.Any) -> t.Any:
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _rewritten(value)
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _rewritten(ref: str) -> str:
    for old, new in _REF_PREFIXES.items():
        if ref.startswith(old):
            return new + ref[len(old) :]
    return ref


def _parameter(value: t.Any) -> t.Any:
    if not isinstance(value, Mapping) or "$ref" in value:
        return value
    if value.get("in") in {"body", "formData"}:
        return None
    schema_keys = ("type", "format", "enum", "default", "maximum", "minimum", "items")
    parameter = {k: v for k, v in value.items() if k not in schema_keys}
    parameter["schema"] = {k: value[k] for k in schema_keys if k in value}
    return parameter


def _parameters(values: Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {name: converted for name, value in values.items() if (converted := _parameter(value)) is not None}


def _parameter_list(values: t.Any) -> list[t.Any]:
    if not isinstance(values, list):
        return []
    return [converted for value in values if (converted := _parameter(value)) is not None]


def _response(value: t.Any, produces: list[t.Any]) -> t.Any:
    if not isinstance(value, Mapping) or "$ref" in value:
        return value
    response = {k: v for k, v in value.items() if k != "schema"}
    if "schema" in value:
        media = next((str(p) for p in produces if "json" in str(p)), "application/json")
        response["content"] = {media: {"schema": value["schema"]}}
    return response


def _operation(operation: Mapping[str, t.Any], produces: list[t.Any]) -> dict[str, t.Any]:
    converted = dict(operation)
    converted["parameters"] = _parameter_list(operation.get("parameters"))
    responses = operation.get("responses")
    if isinstance(responses, Mapping):
        converted["responses"] = {
            str(code): _response(value, _list(operation.get("produces")) or produces)
            for code, value in responses.items()
        }
    return converted


def _security_scheme(value: Mapping[str, t.Any]) -> dict[str, t.Any]:
    kind = value.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "oauth2":
        flow: dict[str, t.Any] = {"scopes": _mapping(value.get("scopes"))}
        for key in ("tokenUrl", "authorizationUrl"):
            if key in value:
                flow[key] = value[key]
        return {"type": "oauth2", "flows": {_FLOWS.get(str(value.get("flow")), "unknown"): flow}}
    return dict(value)

"""A whole tap config from a document: api_url, auth, and one stream per listing operation.

Children: an operation with path parameters becomes a child of the stream that lists
what its last parameter names (``/v1/customers/{customer}/sources`` → child of
``customers`` with ``parent_keys: {customer: id}``, the parent record's id); the parameter
maps to the parent's property of the same name, the name without its resource prefix
(``issue_number`` → ``number``), or the parent's primary key. A grandchild's earlier
parameters come from its ancestors the same way (``/users/{user_id}/orders/{order_id}/items``).
Parameters with no such parent are ``{config.NAME}`` placeholders,
added to the config as ``"CHANGE_ME"`` and listed in the report.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import urljoin

from tap_restoauth.openapi import auth, swagger
from tap_restoauth.openapi.document import Document, DocumentError, is_url
from tap_restoauth.openapi.naming import Names, snake
from tap_restoauth.openapi.operations import Operation, operations
from tap_restoauth.openapi.report import Report
from tap_restoauth.openapi.schema import Translator
from tap_restoauth.openapi.streams import Candidate, Skip, candidate, parameter_value

CHANGE_ME = "CHANGE_ME"
_PARAM = re.compile(r"\{([^{}]+)\}")


@dataclasses.dataclass(frozen=True)
class Options:
    """`tap-restoauth-openapi` options, and the `openapi` setting's."""

    api_url: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    max_depth: int = 8


@dataclasses.dataclass
class Generated:
    config: dict[str, t.Any]
    report: Report


def prepare(document: Document) -> Document:
    """The document as OpenAPI 3.x: Swagger 2.0 converted, anything else refused."""
    root = document.root
    where = "the document" if document.location == "<inline>" else document.location
    if "swagger" in root:
        return Document(swagger.convert(root, where), document.location, document.limits)
    version = str(root.get("openapi", ""))
    if not version.startswith("3."):
        raise DocumentError(f"{where}: not an OpenAPI 3.x or Swagger 2.0 document (no 'openapi: 3.x')")
    if not isinstance(root.get("paths"), Mapping) and not isinstance(root.get("webhooks"), Mapping):
        raise DocumentError(f"{where}: an OpenAPI document without 'paths'")
    return document


def api_url(document: Document, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    servers = document.root.get("servers")
    server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], Mapping) else None
    if server is None or not isinstance(server.get("url"), str):
        raise DocumentError("the document has no servers entry: pass --api-url")
    url = server["url"]
    variables = server.get("variables") if isinstance(server.get("variables"), Mapping) else {}
    for name, variable in (variables or {}).items():
        default = variable.get("default") if isinstance(variable, Mapping) else None
        url = url.replace("{" + str(name) + "}", str(default if default is not None else ""))
    if not is_url(url):
        if is_url(document.location):
            url = urljoin(document.location, url)
        else:
            raise DocumentError(f"the servers entry {url!r} is not an http(s) URL: pass --api-url")
    return url.rstrip("/")


def selected(operation: Operation, options: Options) -> str | None:
    """Why `operation` is filtered out, or None when it is in."""
    names = [operation.path, operation.operation_id]
    if options.include and not any(fnmatch.fnmatchcase(n, g) for g in options.include for n in names if n):
        return "not matched by --include"
    if any(fnmatch.fnmatchcase(n, g) for g in options.exclude for n in names if n):
        return "matched by --exclude"
    if options.tags and not set(options.tags) & set(operation.tags):
        return "none of its tags is in --tags"
    return None


def generate(document: Document, options: Options) -> Generated:
    document = prepare(document)
    report = Report()
    base_url = api_url(document, options.api_url)
    translator = Translator(document, options.max_depth)
    candidates: list[Candidate] = []
    for operation in operations(document):
        report.count("operations")
        why = selected(operation, options)
        if why:
            report.skipped(operation.method, operation.path, why)
            continue
        try:
            candidates.append(candidate(operation, translator))
        except Skip as skip:
            report.skipped(operation.method, operation.path, str(skip))
    config: dict[str, t.Any] = {"api_url": base_url}
    found_auth, auth_reason = auth.detect(document, [c.operation for c in candidates], base_url)
    if found_auth:
        config["auth"] = found_auth
    report.note(auth_reason)
    names = Names()
    by_path: dict[str, tuple[str, Candidate]] = {}
    named = []
    for item in candidates:
        name = names.name(item.operation.path)
        named.append((name, item))
        by_path.setdefault(_normal(item.operation.path), (name, item))
    placeholders: dict[str, str] = {}
    streams = []
    parents = {name: _parent(item.operation.path, by_path, name) for name, item in named}
    for name, item in named:
        stream = _stream(name, item, parents, placeholders)
        streams.append(stream)
        report.kept(
            item.operation.method, item.operation.path, name, [*item.reasons, *_parent_reason(stream)]
        )
        report.count(f"paging {item.paging.kind}")
        report.count("primary keys" if item.keys.primary_keys else "no primary key")
        report.count("replication keys" if item.keys.replication_key else "full table")
        if stream.get("parent"):
            report.count("children")
    report.count("streams", len(streams))
    for key in sorted(placeholders):
        config[key] = CHANGE_ME
        report.note(f"placeholder {{config.{key}}}: {placeholders[key]}; set {key!r} in the config")
    config["streams"] = _parents_first(streams)
    return Generated(config, report)


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"


def _inherited(
    name: str, item: Candidate, parents: Mapping[str, tuple[str, Candidate, str] | None], depth: int = 0
) -> set[str]:
    """Path parameters the stream `name` passes to its children as context keys: its own
    parent_keys key and those of its ancestors it uses in its own path."""
    parent = parents.get(name)
    if parent is None or depth > len(parents):
        return set()
    own = _PARAM.findall(item.operation.path)
    return {own[-1]} | (_inherited(parent[0], parent[1], parents, depth + 1) & set(own))


def _stream(
    name: str,
    item: Candidate,
    parents: Mapping[str, tuple[str, Candidate, str] | None],
    placeholders: dict[str, str],
) -> dict[str, t.Any]:
    operation = item.operation
    stream: dict[str, t.Any] = {"name": name, "path": operation.path}
    if operation.method != "GET":
        stream["method"] = operation.method
    path = operation.path
    parameters = _PARAM.findall(path)
    parent = parents.get(name)
    inherited: set[str] = set()
    if parent is not None:
        parent_name, parent_item, field = parent
        stream["parent"] = parent_name
        stream["parent_keys"] = {parameters[-1]: field}
        inherited = _inherited(parent_name, parent_item, parents)
        parameters = parameters[:-1]
    for parameter in parameters:
        if parameter in inherited:
            continue
        key = snake(parameter) or "param"
        placeholders.setdefault(key, f"path parameter of {operation.path}")
        path = path.replace("{" + parameter + "}", "{config." + key + "}")
    stream["path"] = path
    params: dict[str, t.Any] = {}
    paging_names = {str(v) for k, v in item.paging.setting.items() if k.endswith("_param")}
    for query in operation.query().values():
        if not query.required or query.name in paging_names or query.name == item.keys.filter_param:
            continue
        value = parameter_value(query)
        if value is None:
            key = snake(query.name) or "param"
            placeholders.setdefault(key, f"required query parameter {query.name} of {operation.path}")
            value = "{config." + key + "}"
        params[query.name] = value
    if item.paging.size_param:
        params[item.paging.size_param[0]] = item.paging.size_param[1]
    if params:
        stream["params"] = params
    stream["records_path"] = item.records_path
    if item.keys.primary_keys:
        stream["primary_keys"] = item.keys.primary_keys
    if item.keys.replication_key:
        stream["replication_key"] = item.keys.replication_key
        stream["incremental"] = {"param": item.keys.filter_param}
    stream["pagination"] = item.paging.setting
    stream["schema"] = item.schema
    return stream


def _parent(
    path: str, by_path: dict[str, tuple[str, Candidate]], name: str
) -> tuple[str, Candidate, str] | None:
    """The stream listing what the last path parameter names, and the field that fills it."""
    parameters = _PARAM.findall(path)
    if not parameters:
        return None
    last = parameters[-1]
    prefix = _normal(path.split("{" + last + "}", maxsplit=1)[0])
    found = by_path.get(prefix)
    if found is None or found[0] == name:
        return None
    parent_name, parent_item = found
    properties = parent_item.schema.get("properties", {})
    stripped = last.split("_", 1)[1] if "_" in last else None
    for field in (last, stripped):
        if field and field in properties:
            return parent_name, parent_item, field
    if parent_item.keys.primary_keys:
        return parent_name, parent_item, parent_item.keys.primary_keys[0]
    return None


def _parent_reason(stream: Mapping[str, t.Any]) -> list[str]:
    if not stream.get("parent"):
        return []
    (key, field), *_ = stream["parent_keys"].items()
    return [f"child of {stream['parent']}: {{{key}}} is the parent's {field}"]


def _parents_first(streams: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Streams in document order, each parent before its children."""
    by_name = {stream["name"]: stream for stream in streams}
    ordered: dict[str, dict[str, t.Any]] = {}

    def add(stream: dict[str, t.Any], depth: int) -> None:
        parent = stream.get("parent")
        if parent in by_name and parent not in ordered and depth < len(streams):
            add(by_name[parent], depth + 1)
        ordered.setdefault(stream["name"], stream)

    for stream in streams:
        add(stream, 0)
    return list(ordered.values())

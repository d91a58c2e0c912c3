"""Pagination guessed from an operation's query parameters and its response.

In this order:

- a cursor parameter (``starting_after``, ``after``, ``cursor``, ``page_token``,
  ``pageToken``, ``next_page_token``, ``continuation``...) → ``cursor``, read from the
  response field that carries the next cursor (``next_cursor``, ``nextPageToken``,
  ``meta.next``...), or, for Stripe-style ``starting_after`` with ``has_more``, the last
  record's id: ``{type: cursor, cursor_param: starting_after, cursor_path: "$.data[-1].id",
  has_more_path: "$.has_more"}``;
- ``offset`` + ``limit`` → ``offset``; ``page`` + ``per_page``/``page_size``/``pageSize``
  → ``page_number`` (a text ``page`` with a ``next_page`` field is a cursor, as Stripe's search);
- a ``next`` URL field in the response → ``next_url``;
- a documented ``Link`` response header → ``link_header``;
- else ``none``.

The page size is the parameter's documented maximum, else its default.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from tap_restoauth.openapi.operations import Operation, Parameter
from tap_restoauth.openapi.schema import Flat, Translator

CURSOR_PARAMS = (
    "starting_after",
    "after",
    "cursor",
    "page_token",
    "pagetoken",
    "next_page_token",
    "nextpagetoken",
    "continuation",
    "continuation_token",
    "continuationtoken",
    "next_token",
    "nexttoken",
    "page_cursor",
    "start_cursor",
)
LIMIT_PARAMS = ("limit", "per_page", "page_size", "pagesize", "max_results", "maxresults", "count", "size")
PAGE_SIZE_PARAMS = ("per_page", "page_size", "pagesize", "limit", "size")
_CURSOR_FIELD = re.compile(
    r"(next.*(cursor|token|after|continuation))|^(cursor|continuation|after|next_?cursor)$", re.IGNORECASE
)
_NEXT_URL_FIELD = re.compile(
    r"^(next|next_?url|next_?link|next_?page_?url|@odata\.nextlink|nextlink)$", re.IGNORECASE
)
_HAS_MORE_FIELD = re.compile(r"^(has_?more|has_?next(_?page)?|more)$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Paging:
    """The `pagination` setting and the evidence for it."""

    kind: str
    setting: dict[str, t.Any]
    reason: str
    size_param: tuple[str, int] | None = None  # (param, page size) to add to the stream's params


def detect(
    operation: Operation, envelope: Flat | None, records_field: str | None, translator: Translator
) -> Paging:
    query = {name.lower(): parameter for name, parameter in operation.query().items()}
    fields = _fields(envelope, translator) if envelope is not None else {}
    cursor = next((query[name] for name in CURSOR_PARAMS if name in query), None)
    if cursor is not None:
        paging = _cursor(cursor, fields, records_field, query)
        if paging is not None:
            return paging
    if "offset" in query:
        limit = next((query[name] for name in LIMIT_PARAMS if name in query), None)
        if limit is not None:
            size: int = page_size(limit) or 100
            setting = {
                "type": "offset",
                "offset_param": query["offset"].name,
                "limit_param": limit.name,
                "limit": size,
            }
            return Paging("offset", setting, f"offset: {query['offset'].name} + {limit.name}={size}")
    page = query.get("page")
    if page is not None and page.schema.get("type") == "string":  # Stripe search: an opaque page token
        carrier = next(
            (path for path, (name, _) in fields.items() if name in {"next_page", "nextPage"}), None
        )
        if carrier is not None:
            setting = {"type": "cursor", "cursor_param": page.name, "cursor_path": carrier}
            return Paging(
                "cursor",
                setting,
                f"cursor: {page.name} (a text token) from the response field {carrier}",
                _size(query),
            )
    if "page" in query or "page_number" in query:
        number = query.get("page") or query["page_number"]
        size_param = next((query[name] for name in PAGE_SIZE_PARAMS if name in query), None)
        numbered: dict[str, t.Any] = {"type": "page_number", "page_param": number.name}
        reason = f"page numbers: {number.name}"
        if size_param is not None:
            wanted = page_size(size_param)
            numbered["size_param"] = size_param.name
            if wanted:
                numbered["page_size"] = wanted
            reason += f" + {size_param.name}" + (f"={wanted}" if wanted else "")
        return Paging("page_number", numbered, reason)
    next_url = next(
        (
            path
            for path, (name, kind) in fields.items()
            if _NEXT_URL_FIELD.match(name) and kind in {"string", "uri"}
        ),
        None,
    )
    if next_url is not None:
        return Paging(
            "next_url",
            {"type": "next_url", "next_url_path": next_url},
            f"next_url: the response field {next_url}",
        )
    if "link" in operation.response_headers:
        return Paging(
            "link_header", {"type": "link_header"}, "link_header: a documented Link response header"
        )
    return Paging(
        "none", {"type": "none"}, "no paging: no cursor, offset, page, next URL or Link header documented"
    )


def _cursor(
    cursor: Parameter,
    fields: dict[str, tuple[str, str]],
    records_field: str | None,
    query: dict[str, Parameter],
) -> Paging | None:
    texts = [(path, name) for path, (name, kind) in fields.items() if kind in {"string", "integer"}]
    urls = {path for path, (name, kind) in fields.items() if kind == "uri"}
    carrier = next((path for path, name in texts if _CURSOR_FIELD.match(name)), None)
    if carrier is None:  # a plain `next` that is not documented as a URL: the cursor itself
        carrier = next((path for path, name in texts if name == "next" and path not in urls), None)
    has_more = next(
        (path for path, (name, kind) in fields.items() if _HAS_MORE_FIELD.match(name) and kind == "boolean"),
        None,
    )
    size = _size(query)
    if carrier is not None:
        setting: dict[str, t.Any] = {"type": "cursor", "cursor_param": cursor.name, "cursor_path": carrier}
        reason = f"cursor: {cursor.name} from the response field {carrier}"
    elif cursor.name.lower() in {"starting_after", "after"} and has_more and records_field is not None:
        setting = {"type": "cursor", "cursor_param": cursor.name, "cursor_path": f"$.{records_field}[-1].id"}
        reason = f"cursor: {cursor.name} with the last record's id while {has_more}"
    else:
        return None
    if has_more:
        setting["has_more_path"] = has_more
    return Paging("cursor", setting, reason, size)


def _size(query: dict[str, Parameter]) -> tuple[str, int] | None:
    limit = next((query[name] for name in LIMIT_PARAMS if name in query), None)
    size = page_size(limit) if limit is not None else None
    return (limit.name, size) if limit is not None and size else None


def page_size(parameter: Parameter) -> int | None:
    """The documented maximum, else the default."""
    for key in ("maximum", "default"):
        value = parameter.schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1_000_000:
            return int(value)
    return None


def _fields(envelope: Flat, translator: Translator) -> dict[str, tuple[str, str]]:
    """`$.path` → (name, kind) of the envelope's fields, two levels deep (kind ``uri`` for URLs)."""
    found: dict[str, tuple[str, str]] = {}
    for name, located in envelope.properties.items():
        flat = translator.flatten(located, envelope.refs)
        kind = flat.kind
        if kind == "object":
            for inner, inner_located in flat.properties.items():
                inner_flat = translator.flatten(inner_located, flat.refs)
                if inner_flat.kind:
                    found[f"$.{name}.{inner}"] = (inner, _kind(inner_flat))
        elif kind:
            found[f"$.{name}"] = (name, _kind(flat))
    return found


def _kind(flat: Flat) -> str:
    """The field's type, or ``uri`` for a string documented as a URL."""
    return (
        "uri" if flat.kind == "string" and flat.format in {"uri", "url", "uri-reference"} else str(flat.kind)
    )

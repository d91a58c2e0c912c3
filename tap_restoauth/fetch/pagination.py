"""Paginators: each reads one page and decides what the next request is.

A paginator is an immutable dataclass built from the stream's `pagination`
setting; its `type` and options are declared by its base in settings.py
(`PageNumberPaging`...), where `--about` reads them without importing this module.
It holds no per-run state: the request that fetched a page carries everything
needed to compute the next one, so one paginator serves every partition and
thread. The fetch loop (see `streams.py`) guards against repeated requests and
enforces `max_pages`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import typing as t
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from urllib.parse import urldefrag, urljoin

from requests import PreparedRequest
from requests.utils import parse_header_links

from tap_restoauth import options
from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.jsonpath import Matcher, compile_path, first_match
from tap_restoauth.settings import (
    CursorPaging,
    LinkHeaderPaging,
    NextUrlPaging,
    NoPaging,
    OffsetPaging,
    PageNumberPaging,
)


@dataclasses.dataclass(frozen=True)
class PageRequest:
    """The URL, query parameters, headers and JSON body of one page request."""

    url: str
    params: Mapping[str, t.Any]
    body: t.Any = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def identity(self) -> tuple[t.Any, ...]:
        """A hashable key: two requests with the same key fetch the same page (a #fragment is
        never sent, so it does not make a request different)."""
        params = tuple(sorted((k, str(v)) for k, v in self.params.items()))
        key: tuple[t.Any, ...] = (urldefrag(self.url)[0], params)
        if self.body is not None:
            key += (json.dumps(self.body, sort_keys=True, default=str),)
        return key

    def full_url(self) -> str:
        """The URL with the parameters encoded into it, as it is sent."""
        prepared = PreparedRequest()
        prepared.prepare_url(self.url, self.params)
        return str(prepared.url)

    def with_params(self, **changes: t.Any) -> PageRequest:
        return dataclasses.replace(self, params={**self.params, **changes})

    def with_body_value(self, path: str, value: t.Any) -> PageRequest:
        """A copy whose JSON body holds `value` at `path` (``$.paging.after``), objects made as needed."""
        body = copy.deepcopy(self.body) if isinstance(self.body, dict) else {}
        target = body
        *parents, last = body_path_keys(path)
        for key in parents:
            child = target.get(key)
            if not isinstance(child, dict):
                child = target[key] = {}
            target = child
        target[last] = value
        return dataclasses.replace(self, body=body)

    def body_value(self, path: str) -> t.Any:
        value = self.body
        for key in body_path_keys(path):
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def follow(self, url: str) -> PageRequest:
        """The request for a URL the API named: its own query, same headers and body."""
        return dataclasses.replace(self, url=url, params={})


def body_path_keys(path: str, where: str = "pagination") -> list[str]:
    """The keys of a body path such as ``$.paging.after`` (plain dotted names only)."""
    keys = path[2:].split(".") if path.startswith("$.") else []
    if not keys or not all(key and key.replace("_", "a").replace("-", "a").isalnum() for key in keys):
        raise ConfigError(f"{where}: expected a body path such as $.paging.after, got {path!r}")
    return keys


@dataclasses.dataclass(frozen=True)
class Page:
    """One fetched page: what was asked, what came back, how many records it held."""

    request: PageRequest
    url: str
    headers: Mapping[str, str]
    body: t.Any
    record_count: int


class Paginator(ABC):
    """Decides the first and each next request of a paginated endpoint."""

    type: t.ClassVar[str]

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = getattr(cls, "type", None)  # declared by its options class (settings.py)
        if kind is not None and kind not in PAGINATORS:
            PAGINATORS[kind] = cls

    def first_request(self, request: PageRequest) -> PageRequest:
        """The request for the first page (adds e.g. the page size)."""
        return request

    @abstractmethod
    def next_request(self, page: Page) -> PageRequest | None:
        """The request for the page after `page`, or None when `page` was the last."""

    def remaining_requests(self, first: Page) -> Iterator[PageRequest] | None:
        """Every request after `first` when the first page tells how many there are.

        Lets the fetch loop request pages concurrently; None means the pages must be
        walked one after another. The requests are generated as the loop takes them,
        so a huge total allocates nothing.
        """
        return None

    def declared_total(self, first: Page) -> int | None:
        """How many records the API says the endpoint has, read from the first page (the audit)."""
        return None


PAGINATORS: dict[str, type[Paginator]] = {}

# More pages than any API serves to one client: a total above it is a lie or a bug.
MAX_TOTAL_PAGES = 1_000_000


def page_count(value: t.Any, path: str, page: Page, *, per_page: int = 1, start: int = 0) -> int | None:
    """The number of pages a `total_*` field promises, checked: a whole number, not negative,
    not absurd. `value` counts records when `per_page` > 1 (pages of that size after `start`)."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())

    def where() -> str:  # for an error only: masking the URL is the costly part of this check
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        return f"{mask_url(page.url)}: {path} is {shown}"

    if number is None:
        raise ApiError(f"{where()}, not a whole number; check the pagination setting {path}")
    if number < 0:
        raise ApiError(f"{where()}, a negative count; the API's total cannot be trusted")
    pages = -(-max(0, number - start) // per_page)
    if pages > MAX_TOTAL_PAGES:
        raise ApiError(
            f"{where()}, more than {MAX_TOTAL_PAGES:,} pages; the API's total cannot be trusted "
            "(remove the total setting to page until an empty page)"
        )
    return number


def build_paginator(settings: Mapping[str, t.Any] | None, where: str) -> Paginator:
    """The paginator a `pagination` setting describes."""
    settings = settings or {"type": "none"}
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: expected an object with a 'type'")
    kind = settings.get("type")
    cls = PAGINATORS.get(str(kind))
    if cls is None:
        known = ", ".join(sorted(PAGINATORS))
        raise ConfigError(f"{where}.type: unknown pagination type {kind!r} (known: {known})")
    return options.build(cls, settings, where, ignore={"type"})


@dataclasses.dataclass(frozen=True)
class NoPagination(NoPaging, Paginator):
    """A single request returns everything.

    Config: ``pagination: {type: none}``
    """

    def next_request(self, page: Page) -> PageRequest | None:
        return None


@dataclasses.dataclass(frozen=True)
class PageNumberPaginator(PageNumberPaging, Paginator):
    """Pages numbered 1, 2, 3... (or from `start`).

    Reads, when configured, ``{"meta": {"has_more": true, "total_pages": 7}}``;
    otherwise stops on an empty page or one shorter than `page_size`. With
    `page_body_path` the number goes into the JSON body (``{"paging": {"page": 2}}``)
    instead of the query.

    Config::

        pagination: {type: page_number, page_param: page, size_param: per_page,
                     page_size: 100, total_pages_path: "$.meta.total_pages"}
        pagination: {type: page_number, page_body_path: "$.paging.page", page_size: 100}
    """

    def __post_init__(self) -> None:
        if self.page_body_path:
            body_path_keys(self.page_body_path, "pagination.page_body_path")
        for name in ("has_more_path", "total_pages_path", "total_records_path"):
            expression = getattr(self, name)
            if expression:
                compile_path(expression, f"pagination.{name}")
        if self.total_records_path and not self.page_size:
            raise ConfigError("pagination.total_records_path needs pagination.page_size")

    def _matcher(self, name: str) -> Matcher | None:
        expression = getattr(self, name)
        return compile_path(expression, f"pagination.{name}") if expression else None

    def first_request(self, request: PageRequest) -> PageRequest:
        sized = (
            request.with_params(**{self.size_param: self.page_size})
            if (self.size_param and self.page_size)
            else request
        )
        return self._numbered(sized, self.start)

    def _numbered(self, request: PageRequest, number: int) -> PageRequest:
        if self.page_body_path:
            return request.with_body_value(self.page_body_path, number)
        return request.with_params(**{self.page_param: number})

    def _number(self, request: PageRequest) -> int:
        if self.page_body_path:
            return int(request.body_value(self.page_body_path))
        return int(request.params[self.page_param])

    def _total_pages(self, page: Page) -> int | None:
        pages = self._matcher("total_pages_path")
        if pages:
            return page_count(first_match(pages, page.body), str(self.total_pages_path), page)
        records = self._matcher("total_records_path")
        if records and self.page_size:
            value = first_match(records, page.body)
            total = page_count(value, str(self.total_records_path), page, per_page=self.page_size)
            return -(-total // self.page_size) if total is not None else None
        return None

    def next_request(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        has_more = self._matcher("has_more_path")
        if has_more and not first_match(has_more, page.body):
            return None
        number = self._number(page.request)
        total = self._total_pages(page)
        if total is not None and number - self.start + 1 >= total:
            return None
        if self.page_size and page.record_count < self.page_size:
            return None
        return self._numbered(page.request, number + 1)

    def declared_total(self, first: Page) -> int | None:
        records = self._matcher("total_records_path")
        value = first_match(records, first.body) if records else None
        return int(value) if value is not None else None

    def remaining_requests(self, first: Page) -> Iterator[PageRequest] | None:
        total = self._total_pages(first)
        if total is None:
            return None
        number = self._number(first.request)
        last = self.start + total - 1
        return (self._numbered(first.request, n) for n in range(number + 1, last + 1))


@dataclasses.dataclass(frozen=True)
class OffsetPaginator(OffsetPaging, Paginator):
    """`offset`/`limit` windows.

    Reads, when configured, ``{"total": 1234, "items": [...]}``; otherwise stops on an
    empty page or one shorter than `limit`. With `offset_body_path` (and
    `limit_body_path`) they go into the JSON body instead of the query.

    Config::

        pagination: {type: offset, offset_param: offset, limit_param: limit,
                     limit: 100, total_path: "$.total"}
        pagination: {type: offset, offset_body_path: "$.startAt",
                     limit_body_path: "$.maxResults", limit: 50, total_path: "$.total"}
    """

    def __post_init__(self) -> None:
        if self.total_path:
            compile_path(self.total_path, "pagination.total_path")
        if self.limit <= 0:
            raise ConfigError("pagination.limit must be positive")
        for name in ("offset_body_path", "limit_body_path"):
            if getattr(self, name):
                body_path_keys(getattr(self, name), f"pagination.{name}")

    def _at(self, request: PageRequest, offset: int) -> PageRequest:
        if self.offset_body_path:
            return request.with_body_value(self.offset_body_path, offset)
        return request.with_params(**{self.offset_param: offset})

    def _offset(self, request: PageRequest) -> int:
        if self.offset_body_path:
            return int(request.body_value(self.offset_body_path))
        return int(request.params[self.offset_param])

    def _total(self, page: Page) -> int | None:
        if not self.total_path:
            return None
        value = first_match(compile_path(self.total_path, "pagination.total_path"), page.body)
        return page_count(value, self.total_path, page, per_page=self.limit, start=self.start)

    def first_request(self, request: PageRequest) -> PageRequest:
        if self.limit_body_path:
            request = request.with_body_value(self.limit_body_path, self.limit)
        else:
            request = request.with_params(**{self.limit_param: self.limit})
        return self._at(request, self.start)

    def next_request(self, page: Page) -> PageRequest | None:
        if page.record_count < self.limit:
            return None
        offset = self._offset(page.request) + self.limit
        total = self._total(page)
        if total is not None and offset >= total:
            return None
        return self._at(page.request, offset)

    def declared_total(self, first: Page) -> int | None:
        total = self._total(first)
        return None if total is None else max(0, total - self._offset(first.request))

    def remaining_requests(self, first: Page) -> Iterator[PageRequest] | None:
        total = self._total(first)
        if total is None:
            return None
        begin = self._offset(first.request) + self.limit
        return (self._at(first.request, offset) for offset in range(begin, total, self.limit))


@dataclasses.dataclass(frozen=True)
class CursorPaginator(CursorPaging, Paginator):
    """An opaque cursor from the body or a header, sent back as a query parameter
    or (``cursor_body_path``) in the JSON body, as search endpoints want.

    Reads ``{"data": [...], "meta": {"next": "c2Vjb25k"}}`` (``cursor_path``) or a
    ``X-Next-Cursor: c2Vjb25k`` header (``cursor_header``). Stops when the cursor is
    missing, null or empty (or `stop_value`, e.g. Salesforce's ``Sforce-Locator: null``),
    the page is empty, or `has_more_path` reads false.

    Config::

        pagination: {type: cursor, cursor_path: "$.meta.next", cursor_param: cursor}
        pagination: {type: cursor, cursor_path: "$.data[-1].id", cursor_param: starting_after,
                     has_more_path: "$.has_more"}
        pagination: {type: cursor, cursor_path: "$.paging.next.after",
                     cursor_body_path: "$.after"}
        pagination: {type: cursor, cursor_header: Sforce-Locator, cursor_param: locator,
                     stop_value: "null"}
    """

    def __post_init__(self) -> None:
        if self.has_more_path:
            compile_path(self.has_more_path, "pagination.has_more_path")
        if bool(self.cursor_path) == bool(self.cursor_header):
            raise ConfigError("pagination: cursor needs exactly one of cursor_path or cursor_header")
        if self.cursor_path:
            compile_path(self.cursor_path, "pagination.cursor_path")
        if self.cursor_body_path:
            body_path_keys(self.cursor_body_path, "pagination.cursor_body_path")

    def next_request(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        if self.has_more_path:
            has_more = compile_path(self.has_more_path, "pagination.has_more_path")
            if not first_match(has_more, page.body):
                return None
        if self.cursor_path:
            cursor = first_match(compile_path(self.cursor_path, "pagination.cursor_path"), page.body)
        else:
            cursor = page.headers.get(str(self.cursor_header))
        if cursor in (None, "") or (self.stop_value is not None and str(cursor) == self.stop_value):
            return None
        if self.cursor_body_path:
            return page.request.with_body_value(self.cursor_body_path, cursor)
        return page.request.with_params(**{self.cursor_param: cursor})


@dataclasses.dataclass(frozen=True)
class NextUrlPaginator(NextUrlPaging, Paginator):
    """The body names the next page's URL (relative URLs resolve against the request).

    Reads ``{"results": [...], "next": "/v1/items?page=2"}``.

    Config::

        pagination: {type: next_url, next_url_path: "$.next"}
    """

    def __post_init__(self) -> None:
        compile_path(self.next_url_path, "pagination.next_url_path")

    def next_request(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        target = first_match(compile_path(self.next_url_path, "pagination.next_url_path"), page.body)
        if not target:
            return None
        return page.request.follow(urldefrag(urljoin(page.url, str(target)))[0])


@dataclasses.dataclass(frozen=True)
class LinkHeaderPaginator(LinkHeaderPaging, Paginator):
    """RFC 8288 ``Link: <https://api.example.com/items?page=2&per_page=50>; rel="next"``.

    The next URL is followed as given, with every query parameter it carries.

    Config: ``pagination: {type: link_header}``
    """

    def next_request(self, page: Page) -> PageRequest | None:
        if page.record_count == 0:
            return None
        target = _parse_link_header(page.headers.get("Link", "")).get(self.rel)
        if not target:
            return None
        return page.request.follow(urldefrag(urljoin(page.url, target))[0])


def _parse_link_header(value: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for link in parse_header_links(value) if value else []:
        for rel in link.get("rel", "").split():
            links.setdefault(rel, link["url"])
    return links

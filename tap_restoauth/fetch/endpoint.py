"""One configured endpoint: builds its requests, walks its pages, extracts its records."""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from itertools import islice
from urllib.parse import quote

from tap_restoauth.config import StreamSettings, TapSettings
from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.fetch.loops import RepeatedPageGuard
from tap_restoauth.fetch.pagination import MAX_TOTAL_PAGES, Page, PageRequest
from tap_restoauth.http.client import ApiClient, ApiResponse
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.jsonpath import Matcher, compile_path
from tap_restoauth.sync import interrupt

logger = logging.getLogger("tap_restoauth.fetch.endpoint")

COMMON_RECORD_KEYS = ("data", "items", "results", "records", "value", "entries")

Fetched = tuple[Page, list[t.Any]] | None


class Endpoint:
    """Fetches the records of one stream for one context (parent record)."""

    def __init__(self, tap: TapSettings, stream: StreamSettings, client: ApiClient) -> None:
        self.tap = tap
        self.stream = stream
        self.client = client
        self._records: Matcher | None = None
        self._container: Matcher | None = None
        self._prefetched: deque[tuple[t.Hashable, Future[Fetched]]] = deque()
        if stream.records_path:
            self._use_records_path(stream.records_path)

    def _use_records_path(self, expression: str) -> None:
        where = f"streams[{self.stream.name}].records_path"
        self._records = compile_path(expression, where)
        if expression.endswith("[*]"):
            self._container = compile_path(expression[:-3], where)

    def url(self, context: Mapping[str, t.Any] | None) -> str:
        path = self.stream.path
        if self.stream.path_fields:
            values = {k: self._path_segment(k, v) for k, v in (context or {}).items()}
            path = path.format(**values)
        if path.startswith(("http://", "https://")):
            return path
        return self.tap.api_url + path

    def _path_segment(self, key: str, value: t.Any) -> str:
        """`value` percent-encoded (`/` included) so that it stays one path segment.

        `.`, `..` and the empty string would still change the path (`/parents/../kids`
        is `/kids`): a record holding one is refused.
        """
        text = str(value)
        if text in ("", ".", ".."):
            raise ApiError(
                f"{self.stream.name}: a parent record's {key} is {text!r}, which would change the "
                f"request path ({self.stream.path}); refused"
            )
        return quote(text, safe="")

    def first_request(self, context: Mapping[str, t.Any] | None, extra: Mapping[str, t.Any]) -> PageRequest:
        params = {**self.tap.params, **self.stream.params, **extra}
        return self.stream.paginator.first_request(PageRequest(self.url(context), params))

    def pages(
        self, context: Mapping[str, t.Any] | None, extra: Mapping[str, t.Any]
    ) -> Iterator[tuple[Page, list[t.Any]]]:
        """Every page of the endpoint with its records, in order.

        A repeated request is an error rather than an endless loop. When the first
        page tells how many pages there are and `concurrency` > 1, the rest are
        fetched concurrently and still yielded in order.
        """
        request: PageRequest | None = self.first_request(context, extra)
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        guard = RepeatedPageGuard(self.stream.name, self.stream.primary_keys)
        count = 0
        while request is not None:
            identity = request.identity()
            if identity in seen:
                raise ApiError(
                    f"{self.stream.name}: pagination asked for the same page twice "
                    f"({mask_url(request.full_url())}); stopped to avoid an endless "
                    "loop: check the stream's pagination settings"
                )
            seen.add(identity)
            prefetched = self._take_prefetched(identity) if count == 0 else None
            fetched = _result(prefetched) if prefetched is not None else self.fetch(request)
            if fetched is None:
                return
            page, records = fetched
            if guard.repeats(records):
                following = self.stream.paginator.next_request(page)
                if following is None or following.identity() not in seen:
                    guard.fail(page, records)
                request = following  # the same request again: reported as such above
                continue
            count += 1
            yield page, records
            if self._page_limit_reached(count):
                return
            if count == 1 and self.tap.concurrency > 1:
                planned = self.stream.paginator.remaining_requests(page)
                if planned is not None and page.record_count:
                    yield from self._fetch_concurrently(planned, count, guard)
                    return
            request = self.stream.paginator.next_request(page)

    def prefetch(
        self, context: Mapping[str, t.Any] | None, extra: Mapping[str, t.Any], pool: Executor
    ) -> None:
        """Start fetching the first page for `context` in `pool`; `pages()` takes it from there.

        Prefetches are taken in the order they were started; one that `pages()` passes
        over (its parent record was skipped) is discarded.
        """
        request = self.first_request(context, extra)
        self._prefetched.append((request.identity(), pool.submit(self.fetch, request)))

    def discard_prefetched(self) -> None:
        while self._prefetched:
            self._prefetched.popleft()[1].cancel()

    def _take_prefetched(self, identity: t.Hashable) -> Future[Fetched] | None:
        for index, (key, _) in enumerate(self._prefetched):
            if key == identity:
                for _ in range(index):
                    self._prefetched.popleft()[1].cancel()
                return self._prefetched.popleft()[1]
        return None

    def _page_limit_reached(self, count: int) -> bool:
        if self.stream.max_pages and count >= self.stream.max_pages:
            logger.info("%s: stopped after max_pages=%d pages", self.stream.name, count)
            return True
        return False

    def _fetch_concurrently(
        self, planned: Iterable[PageRequest], count: int, guard: RepeatedPageGuard
    ) -> Iterator[tuple[Page, list[t.Any]]]:
        """The planned pages, fetched `concurrency` at a time and yielded in order.

        Requests are taken from `planned` only as the window moves, at most `max_pages`
        (and MAX_TOTAL_PAGES) in all; a failure or a signal cancels what is queued.
        """
        limit = MAX_TOTAL_PAGES - count
        if self.stream.max_pages:
            limit = min(limit, max(0, self.stream.max_pages - count))
        requests = islice(planned, limit)
        window = self.tap.concurrency * 2
        pool = ThreadPoolExecutor(self.tap.concurrency, thread_name_prefix=self.stream.name)
        try:
            pending = deque(pool.submit(self.fetch, request) for request in islice(requests, window))
            while pending:
                fetched = _result(pending.popleft())
                for request in islice(requests, 1):
                    pending.append(pool.submit(self.fetch, request))
                if fetched is None:
                    continue
                guard.check(*fetched)
                yield fetched
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def fetch(self, request: PageRequest) -> Fetched:
        """One page and its records; None when its status is ignored."""
        response = self.client.get_json(
            self.stream.name,
            self.stream.method,
            request.url,
            params=request.params,
            body=self.stream.body,
            ignore_statuses=self.stream.ignore_statuses,
        )
        if response is None:
            return None
        records = self.extract(response)
        page = Page(request, response.url, response.headers, response.body, len(records))
        return page, records

    def extract(self, response: ApiResponse) -> list[t.Any]:
        """The records in a decoded page."""
        if self._records is None:
            self._use_records_path(self._detect_records_path(response.body))
        assert self._records is not None
        records = self._records(response.body)
        if not records and self._container is not None:
            container = self._container(response.body)
            if not container or not isinstance(container[0], list):
                raise ApiError(
                    f"{self.stream.name}: records_path {self.stream.records_path or ''!s} matched "
                    f"nothing in the response of {mask_url(response.url)}; {_shape(response.body)}"
                )
        if records and not isinstance(records[0], dict):
            raise ApiError(
                f"{self.stream.name}: records_path selects {type(records[0]).__name__} values in "
                f"{mask_url(response.url)}; expected JSON objects"
            )
        return records

    def _detect_records_path(self, body: t.Any) -> str:
        if isinstance(body, list):
            path = "$[*]"
        elif isinstance(body, dict):
            candidates = [k for k in COMMON_RECORD_KEYS if isinstance(body.get(k), list)]
            if len(candidates) != 1:
                raise ConfigError(
                    f"streams[{self.stream.name}].records_path is not set and cannot be guessed: "
                    f'{_shape(body)}; set records_path (e.g. "$.data[*]")'
                )
            path = f"$.{candidates[0]}[*]"
        else:
            raise ApiError(f"{self.stream.name}: expected a JSON object or list, got {type(body).__name__}")
        logger.info("%s: records_path not set; using %s", self.stream.name, path)
        self.stream = dataclasses.replace(self.stream, records_path=path)
        return path


def _result(future: Future[Fetched]) -> Fetched:
    """The future's page; a signal ends the wait at once (see sync/interrupt.py)."""
    with interrupt.interruptible():
        return future.result()


def _shape(body: t.Any) -> str:
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:12]) or "none"
        return f"the response is an object with keys: {keys}"
    return f"the response is a JSON {type(body).__name__}"

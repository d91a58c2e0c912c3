"""One configured endpoint: builds its requests, walks its pages, extracts its records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import typing as t
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from itertools import islice

import requests

from tap_restoauth.config import StreamSettings, TapSettings
from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.fetch import templates
from tap_restoauth.fetch.incremental import parse_timestamp
from tap_restoauth.fetch.loops import RepeatedPageGuard
from tap_restoauth.fetch.pagination import MAX_TOTAL_PAGES, Page, PageRequest
from tap_restoauth.fetch.windows import plan
from tap_restoauth.http.client import ApiClient, ApiResponse
from tap_restoauth.http.request import ApiRequest
from tap_restoauth.http.retry import describe_transport_error
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.decoders import BodyError, body_chunks
from tap_restoauth.records.jsonpath import Matcher, compile_path
from tap_restoauth.sync import interrupt

logger = logging.getLogger("tap_restoauth.fetch.endpoint")

COMMON_RECORD_KEYS = ("data", "items", "results", "records", "value", "entries")
STREAM_BATCH = 1000  # records of a streamed download emitted together (one "page" downstream)

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

    def url(self, context: Mapping[str, t.Any] | None, values: templates.Values | None = None) -> str:
        path = templates.render_path(
            self.stream.templates.path, values or self.values(context), self.stream.name
        )
        if path.startswith(("http://", "https://")):
            return path
        return self.client.api_base_url(self.tap.api_url) + path

    def values(
        self,
        context: Mapping[str, t.Any] | None,
        bookmark: t.Any = None,
        window: tuple[t.Any, t.Any] | None = None,
    ) -> templates.Values:
        """What the stream's placeholders stand for in a request.

        Schema samples pass no bookmark: a windowed stream then gets its first window
        from `start_date`, and a bookmark that cannot be left out is `start_date`.
        """
        incremental = self.stream.incremental
        if bookmark is None and self.stream.templates.needs_bookmark():
            bookmark = self.tap.start_date
        begin = bookmark or self.tap.start_date
        if window is None and self.stream.windowed and begin is not None:
            first = plan(
                begin,
                self.window_end(),
                step=incremental.duration("step") if incremental else None,
                granularity=incremental.duration("granularity") if incremental else None,
            )
            window = (first[0].start, first[0].sent_end) if first else (begin, begin)
        return templates.Values(
            context=context,
            bookmark=bookmark,
            start=window[0] if window else None,
            end=window[1] if window else None,
            format=incremental.format if incremental else "iso8601",
            token=self.client.auth.token_extras() if self.stream.templates.uses("token") else {},
        )

    def window_end(self) -> dt.datetime:
        """Where date windows stop: `incremental.end`, else `end_date`, else now."""
        incremental = self.stream.incremental
        if incremental and incremental.end:
            return t.cast("dt.datetime", parse_timestamp(incremental.end))
        return self.tap.end_date or dt.datetime.now(dt.timezone.utc)

    def first_request(
        self,
        context: Mapping[str, t.Any] | None,
        extra: Mapping[str, t.Any],
        values: templates.Values | None = None,
    ) -> PageRequest:
        values = values or self.values(context)
        request = self.stream.templates
        params = {**templates.render(request.params, values), **extra}
        headers = templates.render_headers(request.headers, values, self.stream.name)
        body = templates.render(request.body, values)
        return self.stream.paginator.first_request(
            PageRequest(
                self.url(context, values),
                params,
                None if body is templates.MISSING else body,
                headers,
            )
        )

    def pages(
        self,
        context: Mapping[str, t.Any] | None,
        extra: Mapping[str, t.Any],
        values: templates.Values | None = None,
        *,
        concurrent: bool = True,
    ) -> Iterator[tuple[Page, list[t.Any]]]:
        """Every page of the endpoint with its records, in order.

        A repeated request is an error rather than an endless loop. When the first
        page tells how many pages there are and `concurrency` > 1, the rest are
        fetched concurrently and still yielded in order (unless `concurrent` is
        false: the caller already fetches several contexts or windows at once).
        """
        if self.stream.decoder.streaming:
            yield from self._streamed_pages(context, extra, values)
            return
        request: PageRequest | None = self.first_request(context, extra, values)
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
            if count == 1 and self.tap.concurrency > 1 and concurrent:
                planned = self.stream.paginator.remaining_requests(page)
                if planned is not None and page.record_count:
                    yield from self._fetch_concurrently(planned, count, guard)
                    return
            request = self.stream.paginator.next_request(page)

    def window_pages(
        self,
        context: Mapping[str, t.Any] | None,
        values: templates.Values,
        concurrency: int,
        abandoned: threading.Event,
    ) -> Iterable[tuple[Page, list[t.Any]]]:
        """The pages of one date window; with `concurrency` > 1 (windows fetched in worker
        threads, `abandoned` set when the others are given up) fetched in full here."""
        pages = self.pages(context, {}, values, concurrent=concurrency < 2)
        return list(pages) if concurrency > 1 else pages

    def prefetch(
        self, context: Mapping[str, t.Any] | None, extra: Mapping[str, t.Any], pool: Executor
    ) -> None:
        """Start fetching the first page for `context` in `pool`; `pages()` takes it from there.

        Prefetches are taken in the order they were started; one that `pages()` passes
        over (its parent record was skipped) is discarded.
        """
        if self.stream.decoder.streaming:
            return  # a download is read as it arrives, not held in memory ahead of time
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

    def api_request(self, request: PageRequest, accept: str | None = None) -> ApiRequest:
        """What the client sends for the page `request`, with the stream's response rules."""
        return ApiRequest(
            self.stream.name,
            self.stream.method,
            request.url,
            params=request.params,
            body=request.body,
            headers=request.headers,
            rules=self.stream.response_rules,
            accept=accept,
        )

    def fetch(self, request: PageRequest) -> Fetched:
        """One page and its records; None when its status is ignored."""
        response = self.client.get_json(self.api_request(request))
        if response is None:
            return None
        records = self.extract(response)
        page = Page(request, response.url, response.headers, response.body, len(records))
        return page, records

    def _streamed_pages(
        self,
        context: Mapping[str, t.Any] | None,
        extra: Mapping[str, t.Any],
        values: templates.Values | None,
    ) -> Iterator[tuple[Page, list[t.Any]]]:
        """Each response of a streaming format (CSV, JSON Lines, XML), `STREAM_BATCH` records at a time.

        The pages after a response are asked for as its paginator says (Link header, a
        page number until a short page...), from the response's headers and record count.
        """
        request: PageRequest | None = self.first_request(context, extra, values)
        seen: set[t.Hashable] = set()
        count = 0
        decoder = self.stream.decoder
        while request is not None:
            if request.identity() in seen:
                raise ApiError(
                    f"{self.stream.name}: pagination asked for the same page twice "
                    f"({mask_url(request.full_url())}); check the stream's pagination settings"
                )
            seen.add(request.identity())
            response = self.client.open(self.api_request(request, accept=decoder.accept))
            if response is None:
                return
            total = 0
            try:
                batch: list[t.Any] = []
                for record in decoder.records(body_chunks(response)):
                    batch.append(record)
                    if len(batch) >= STREAM_BATCH:
                        total += len(batch)
                        yield Page(request, response.url, response.headers, None, len(batch)), batch
                        batch = []
                total += len(batch)
                if batch or total == 0:
                    yield Page(request, response.url, response.headers, None, len(batch)), batch
            except BodyError as exc:
                raise ApiError(
                    f"{self.stream.name}: {self.stream.method} {mask_url(response.url)}: the "
                    f"{decoder.type} body is unreadable after {total} records: {exc}"
                ) from None
            except requests.exceptions.RequestException as exc:
                raise ApiError(
                    f"{self.stream.name}: {self.stream.method} {mask_url(response.url)}: the download "
                    f"broke off after {total} records ({describe_transport_error(exc)})"
                ) from None
            finally:
                response.close()
            count += 1
            if self._page_limit_reached(count):
                return
            request = self.stream.paginator.next_request(
                Page(request, response.url, response.headers, None, total)
            )

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
                    f"nothing in the response of {mask_url(response.url)}; {describe_shape(response.body)}"
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
                    f'{describe_shape(body)}; set records_path (e.g. "$.data[*]")'
                )
            path = f"$.{candidates[0]}[*]"
        else:
            raise ApiError(f"{self.stream.name}: expected a JSON object or list, got {type(body).__name__}")
        logger.info("%s: records_path not set; using %s", self.stream.name, path)
        self.stream = dataclasses.replace(self.stream, records_path=path)
        return path


def _result(future: Future[Fetched]) -> Fetched:
    """The future's page; a signal ends the wait at once (see sync/interrupt.py)."""
    return interrupt.result(future)


def describe_shape(body: t.Any) -> str:
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:12]) or "none"
        return f"the response is an object with keys: {keys}"
    return f"the response is a JSON {type(body).__name__}"

"""Running asynchronous export jobs (configured in `jobs.py`): create, poll, download.

A job stream's endpoint: `pages()` creates the job for a context (and window), polls it
until it is done, then yields its download's records in batches, file by file. A windowed
stream calls `window_pages()` from worker threads, so that up to `concurrency` jobs wait
at once; each download is read later, in window order, as its records are emitted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import typing as t
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, urljoin, urlsplit

import msgspec
import requests

from tap_restoauth.errors import ApiError
from tap_restoauth.fetch import templates
from tap_restoauth.fetch.endpoint import STREAM_BATCH, Endpoint, describe_shape
from tap_restoauth.fetch.pagination import Page, PageRequest
from tap_restoauth.http import limits, redaction
from tap_restoauth.http.client import ApiResponse
from tap_restoauth.http.request import ApiRequest
from tap_restoauth.http.retry import describe_transport_error, parse_retry_after
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.decoders import BodyError, body_chunks
from tap_restoauth.records.jsonpath import compile_path, first_match
from tap_restoauth.sync import interrupt

if t.TYPE_CHECKING:
    from tap_restoauth.config import StreamSettings, TapSettings
    from tap_restoauth.fetch.jobs import JobSettings
    from tap_restoauth.http.client import ApiClient

WAIT_SLICE = 0.1  # how often a waiting poll looks for abandoned windows (a signal ends it at once)

Pages = Iterator[tuple[Page, list[t.Any]]]


@dataclasses.dataclass
class JobRun:
    """One job: its id and last status, the files downloaded so far (the `_audit` row)."""

    id: str
    status: str
    body: t.Any = None  # the finished poll response (download URLs)
    values: templates.Values = dataclasses.field(default_factory=templates.Values)
    files: int = 0


@dataclasses.dataclass(frozen=True)
class JobPage(Page):
    """A page of a job's download, saying which job it came from."""

    job: JobRun | None = None


class Abandoned(Exception):
    """The windows this job belongs to were given up (another window failed)."""


class JobEndpoint(Endpoint):
    """A stream whose records come from asynchronous jobs (see the module docstring)."""

    def __init__(self, tap: TapSettings, stream: StreamSettings, client: ApiClient) -> None:
        super().__init__(tap, stream, client)
        self.job = t.cast("JobSettings", stream.job)
        self._slots = threading.BoundedSemaphore(self.job.max_concurrent_jobs or tap.concurrency)
        self._id = compile_path(self.job.create.id_path, "job.create.id_path")
        self._status = compile_path(self.job.poll.status_path, "job.poll.status_path")
        self._message = (
            compile_path(self.job.poll.message_path, "job.poll.message_path")
            if (self.job.poll.message_path)
            else None
        )
        self._urls = (
            compile_path(self.job.download.urls_path, "job.download.urls_path")
            if self.job.download.urls_path
            else None
        )

    def pages(
        self,
        context: Mapping[str, t.Any] | None,
        extra: Mapping[str, t.Any],
        values: templates.Values | None = None,
        *,
        concurrent: bool = True,
    ) -> Pages:
        """Create the job, wait for it, then its download's pages."""
        job = self.run_job(context, values or self.values(context), threading.Event())
        yield from self.download(job)

    def window_pages(
        self,
        context: Mapping[str, t.Any] | None,
        values: templates.Values,
        concurrency: int,
        abandoned: threading.Event,
    ) -> Pages:
        """The job of one window, run now (in a worker thread when windows run concurrently);
        its download is read later, as the records are emitted, in window order."""
        return self.download(self.run_job(context, values, abandoned))

    def prefetch(self, context: Mapping[str, t.Any] | None, extra: Mapping[str, t.Any], pool: t.Any) -> None:
        """Jobs are never created ahead of the child sync that needs them."""

    def run_job(
        self, context: Mapping[str, t.Any] | None, values: templates.Values, abandoned: threading.Event
    ) -> JobRun:
        """Create a job and wait until it is done; ApiError when it fails or times out."""
        with self._slot(abandoned):
            request = self._create_request(context, values)
            created = self.client.get_json(self.api_request(request))
            where = f"{self.stream.name}: {self.stream.method} {mask_url(request.url)}"
            if created is None:
                raise ApiError(f"{where}: a response rule ignored the job's creation; no job to wait for")
            job_id = first_match(self._id, created.body)
            if job_id is None or job_id == "" or isinstance(job_id, (dict, list)):
                raise ApiError(
                    f"{where}: no job id at {self.job.create.id_path} in the answer; "
                    f"{describe_shape(created.body)}"
                )
            fields = created.body if isinstance(created.body, dict) else {}
            job_values = {f"job.{key}": value for key, value in fields.items() if _scalar(value)}
            job_values["job.id"] = job_id
            job = JobRun(
                str(job_id),
                str(first_match(self._status, created.body) or "created"),
                created.body,
                dataclasses.replace(values, context={**(values.context or {}), **job_values}),
            )
            if job.status not in self.job.poll.done:
                self._wait(job, abandoned)
            return job

    def _create_request(self, context: Mapping[str, t.Any] | None, values: templates.Values) -> PageRequest:
        """The stream's own request (its path, params, headers and body are `job.create`'s)."""
        request = self.stream.templates
        body = templates.render(request.body, values)
        return PageRequest(
            self.url(context, values),
            templates.render(request.params, values),
            None if body is templates.MISSING else body,
            {str(k): str(v) for k, v in templates.render(request.headers, values).items()},
        )

    @contextlib.contextmanager
    def _slot(self, abandoned: threading.Event) -> Iterator[None]:
        """One of `max_concurrent_jobs` jobs in flight (being created or polled)."""
        while not self._slots.acquire(timeout=WAIT_SLICE):
            interrupt.check()
            if abandoned.is_set():
                raise Abandoned
        try:
            yield
        finally:
            self._slots.release()

    def _wait(self, job: JobRun, abandoned: threading.Event) -> None:
        """Poll until the job is done; each wait doubles up to max_interval (or Retry-After's)."""
        poll = self.job.poll
        deadline = time.monotonic() + poll.timeout_minutes * 60
        interval = wait = poll.interval_seconds
        name = self.stream.name
        while True:
            self._pause(min(wait, max(0.0, deadline - time.monotonic())), abandoned)
            response = self._poll(job)
            status = first_match(self._status, response.body)
            if status is None or isinstance(status, (dict, list)):
                raise ApiError(
                    f"{name}: job {job.id}: no status at {poll.status_path} in the poll answer; "
                    f"{describe_shape(response.body)}"
                )
            job.status, job.body = str(status), response.body
            if job.status in poll.done:
                return
            if job.status in poll.failed:
                reason = first_match(self._message, response.body) if self._message else None
                detail = f": {redaction.excerpt(str(reason), 200)}" if reason not in (None, "") else ""
                raise ApiError(f"{name}: job {job.id} ended with status {job.status}{detail}")
            if time.monotonic() >= deadline:
                raise ApiError(
                    f"{name}: job {job.id} is still {job.status} after {poll.timeout_minutes:g} minutes "
                    "(job.poll.timeout_minutes); stopped waiting for it"
                )
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None:  # honoured, within max_retry_after_seconds (and the timeout)
                asked = min(asked, self.tap.http.retry.max_retry_after_seconds)
            wait = max(interval, asked) if asked is not None else interval
            interval = min(interval * 2, poll.max_interval_seconds)

    def _poll(self, job: JobRun) -> ApiResponse:
        request = self.job.poll_templates
        url = self._url(templates.render_path(request.path, job.values, self.stream.name))
        body = templates.render(request.body, job.values)
        response = self.client.get_json(
            ApiRequest(
                self.stream.name,
                self.job.poll.method.upper(),
                url,
                params=templates.render(request.params, job.values),
                body=None if body is templates.MISSING else body,
                headers={str(k): str(v) for k, v in templates.render(request.headers, job.values).items()},
                rules=self.stream.response_rules,
            )
        )
        if response is None:
            raise ApiError(f"{self.stream.name}: job {job.id}: a response rule ignored its status; stopped")
        return response

    @staticmethod
    def _pause(seconds: float, abandoned: threading.Event) -> None:
        """Wait `seconds`: a signal ends it at once (Interrupted, from the run's stop event in
        sync/interrupt.py), abandoned windows within `WAIT_SLICE` (Abandoned)."""
        end = time.monotonic() + seconds
        while True:
            if abandoned.is_set():
                raise Abandoned
            left = end - time.monotonic()
            if left <= 0:
                return
            interrupt.wait(min(left, WAIT_SLICE))

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.client.api_base_url(self.tap.api_url) + path

    def download(self, job: JobRun) -> Pages:
        """Every file of the finished job, each paged as `download.pagination` says."""
        name = self.stream.name
        values = job.values
        if self._urls is not None:
            found = self._urls(job.body)
            urls = [u for item in found for u in (item if isinstance(item, list) else [item])]
            if not urls or not all(isinstance(url, str) and url for url in urls):
                raise ApiError(
                    f"{name}: job {job.id} is {job.status} but its answer has no download URL at "
                    f"{self.job.download.urls_path}; {describe_shape(job.body)}"
                )
            base = self.client.api_base_url(self.tap.api_url) + "/"
            firsts = [PageRequest(urljoin(base, url), {}, None, {}) for url in urls]
            for url in urls:  # a presigned URL's query is its credential: masked in every line
                for _, value in parse_qsl(urlsplit(url).query):
                    if len(value) >= 8:
                        redaction.register(value)
        else:
            where = self.job.download_templates
            firsts = [
                PageRequest(
                    self._url(templates.render_path(where.path, values, name)),
                    templates.render(where.params, values),
                    None,
                    {str(k): str(v) for k, v in templates.render(where.headers, values).items()},
                )
            ]
        for first in firsts:
            request: PageRequest | None = self.stream.paginator.first_request(first)
            seen: set[t.Hashable] = set()
            count = 0
            while request is not None:
                if request.identity() in seen:
                    raise ApiError(
                        f"{name}: job {job.id}: the download asked for the same part twice "
                        f"({mask_url(request.full_url())}); check job.download.pagination"
                    )
                seen.add(request.identity())
                job.files += 1
                last = yield from self._file(job, request)
                count += 1
                if self._page_limit_reached(count):
                    break
                request = self.stream.paginator.next_request(last)

    def _file(self, job: JobRun, request: PageRequest) -> t.Generator[tuple[Page, list[t.Any]], None, Page]:
        """One downloaded file (or part) in batches; returns its last page for the paginator."""
        decoder = self.stream.decoder
        credentials = self.client.origins.trusts(request.url)
        response = self.client.open(
            ApiRequest(
                self.stream.name,
                "GET",
                request.url,
                params=request.params,
                headers=request.headers,
                rules=self.stream.response_rules,
                accept=decoder.accept,
                credentials=credentials,
            )
        )
        if response is None:
            return JobPage(request, request.url, {}, None, 0, job)
        total = 0
        document: t.Any = None
        where = f"{self.stream.name}: job {job.id}: GET {mask_url(response.url)}"
        try:
            if decoder.streaming:
                batch: list[t.Any] = []
                for record in decoder.records(body_chunks(response)):
                    batch.append(record)
                    if len(batch) >= STREAM_BATCH:
                        total += len(batch)
                        yield JobPage(request, response.url, response.headers, None, len(batch), job), batch
                        batch = []
                total += len(batch)
                yield JobPage(request, response.url, response.headers, None, len(batch), job), batch
            else:
                document = _json(b"".join(body_chunks(response)))
                records = self.extract(ApiResponse(response.url, response.headers, document))
                total = len(records)
                yield JobPage(request, response.url, response.headers, document, total, job), records
        except BodyError as exc:
            raise ApiError(
                f"{where}: the {decoder.type} file is unreadable after {total} records: {exc}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ApiError(
                f"{where}: the download broke off after {total} records ({describe_transport_error(exc)})"
            ) from None
        finally:
            response.close()
        return JobPage(request, response.url, response.headers, document, total, job)


def _json(content: bytes) -> t.Any:
    if not content.strip():
        raise BodyError("the file is empty")
    try:
        return limits.decode(content)
    except limits.BadDocument as exc:
        raise BodyError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BodyError(f"invalid JSON ({exc})") from None


def _scalar(value: t.Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)

"""Asynchronous export jobs, configured: create a job, poll its status until it is done, download its files.

Report and bulk APIs (Amazon Ads reports, Salesforce Bulk API 2.0, Marketo bulk extracts,
async insights) never return records directly. Config::

    - name: campaign_report
      schema: {...}                      # required: discovery creates no job
      replication_key: date
      incremental: {step: P1D, granularity: P1D}      # one job per window
      job:
        create: {method: POST, path: /reporting/reports, id_path: $.reportId,
                 body: {startDate: "{start:date}", endDate: "{end:date}"}}
        poll: {path: "/reporting/reports/{job.id}", status_path: $.status, done: [COMPLETED],
               failed: [FAILED, CANCELLED], interval_seconds: 5, max_interval_seconds: 60,
               timeout_minutes: 120, message_path: $.failureReason}
        download: {urls_path: $.url, format: json, records_path: "$[*]"}
        max_concurrent_jobs: 4           # default: concurrency

Create answers ``{"reportId": "r-1", "status": "PENDING"}``; each poll answers
``{"reportId": "r-1", "status": "PROCESSING"}`` until ``{"status": "COMPLETED", "url":
"https://bucket.s3.amazonaws.com/r-1.json.gz?X-Amz-Signature=..."}``.

- The create request takes the stream's templates (``{start}``, ``{end}``, ``{bookmark}``,
  ``{partition.X}``, ``{parent.X}``, ``{config.X}``); poll and download also take
  ``{job.id}`` (at `create.id_path`) and ``{job.FIELD}`` (a field of the create response).
- Polls wait `interval_seconds`, doubling up to `max_interval_seconds`, longer when a poll
  says ``Retry-After``; the rate-limit headers hold every request as everywhere else. A job
  in a `failed` status, or still running after `timeout_minutes`, stops the stream with one
  line naming the job id and its status.
- `download.urls_path` finds one URL or a list of them in the finished poll response;
  `download.path` names the file on the API instead (``/jobs/query/{job.id}/results``).
  Files are read in any `format` (gzip found by its magic bytes), streamed, each within
  `max_response_mb`; `download.pagination` pages through a file's parts (Salesforce:
  ``{type: cursor, cursor_header: Sforce-Locator, cursor_param: locator, stop_value: "null"}``).
  A URL on an origin that is not the API's (or in `trusted_origins`), such as a presigned
  storage URL, is fetched with no credential at all, on every redirect hop, and only
  over https (loopback excepted, for tests).

A windowed stream's jobs run concurrently (across static partitions too:
`sync/partitions_ahead.py`), up to `concurrency` windows at once and at most
`max_concurrent_jobs` jobs being created or polled; their records are still emitted in
window order and the bookmark moves past a window only once its download is emitted.
The running of jobs is in `job_endpoint.py`.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping

from tap_restoauth import options
from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch import templates
from tap_restoauth.records.jsonpath import compile_path
from tap_restoauth.settings import JobOptions


@dataclasses.dataclass(frozen=True)
class CreateStep:
    """`job.create`: the request that starts a job; `id_path` finds its id in the answer."""

    path: str
    method: t.Literal["POST", "GET", "PUT", "post", "get", "put"] = "POST"
    body: t.Any = None
    params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    id_path: str = "$.id"


@dataclasses.dataclass(frozen=True)
class PollStep:
    """`job.poll`: the status request, asked until the status is in `done` or `failed`."""

    path: str
    status_path: str
    done: tuple[str, ...]
    failed: tuple[str, ...] = ()
    method: t.Literal["GET", "POST", "get", "post"] = "GET"
    params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    body: t.Any = None
    interval_seconds: float = 5.0
    max_interval_seconds: float = 60.0
    timeout_minutes: float = 120.0
    message_path: str | None = None  # the API's reason for a failed job


@dataclasses.dataclass(frozen=True)
class DownloadStep:
    """`job.download`: where the finished job's files are (`urls_path` or `path`) and how to read them."""

    urls_path: str | None = None
    path: str | None = None
    params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    format: t.Any = None
    records_path: str | None = None
    pagination: dict[str, t.Any] | None = None


@dataclasses.dataclass(frozen=True)
class JobSettings:
    """A stream's `job`, parsed; the create request, format, records_path and pagination
    become the stream's own (config.py), poll and download templates are compiled here."""

    create: CreateStep
    poll: PollStep
    download: DownloadStep
    max_concurrent_jobs: int | None = None
    poll_templates: templates.RequestTemplates = dataclasses.field(default_factory=templates.RequestTemplates)
    download_templates: templates.RequestTemplates = dataclasses.field(
        default_factory=templates.RequestTemplates
    )

    @classmethod
    def parse(cls, raw: Mapping[str, t.Any], where: str) -> JobSettings:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected an object with create, poll and download")
        spec = options.build(JobOptions, raw, where, ignore=set())  # the keys declared in settings.py
        steps: dict[str, t.Any] = {}
        for name, step in (("create", CreateStep), ("poll", PollStep), ("download", DownloadStep)):
            value = raw.get(name)
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{name} is required (an object)")
            steps[name] = options.build(step, value, f"{where}.{name}", ignore=set())
        job = cls(**steps, max_concurrent_jobs=spec.max_concurrent_jobs)
        job.check(where)
        return job

    def check(self, where: str) -> None:
        poll, download = self.poll, self.download
        compile_path(self.create.id_path, f"{where}.create.id_path")
        compile_path(poll.status_path, f"{where}.poll.status_path")
        if poll.message_path:
            compile_path(poll.message_path, f"{where}.poll.message_path")
        if not poll.done:
            raise ConfigError(f"{where}.poll.done: list the status(es) of a finished job, e.g. [COMPLETED]")
        if poll.interval_seconds <= 0 or poll.max_interval_seconds < poll.interval_seconds:
            raise ConfigError(
                f"{where}.poll: interval_seconds must be > 0 and max_interval_seconds at least as long"
            )
        if poll.timeout_minutes <= 0:
            raise ConfigError(f"{where}.poll.timeout_minutes: expected a number greater than 0")
        if bool(download.urls_path) == bool(download.path):
            raise ConfigError(f"{where}.download: set exactly one of urls_path or path")
        if download.urls_path:
            compile_path(download.urls_path, f"{where}.download.urls_path")
        if self.max_concurrent_jobs is not None and self.max_concurrent_jobs < 1:
            raise ConfigError(f"{where}.max_concurrent_jobs: expected a number of at least 1")

    def compiled(self, where: str, known: templates.Known) -> JobSettings:
        """Poll and download templates parsed against what they may name: the stream's
        placeholders plus ``{job.id}`` and the ``{job.FIELD}`` names they use."""
        texts = [self.poll.path, self.download.path or "", *templates.strings_in(self.poll.params)]
        texts += [*templates.strings_in(self.poll.headers), *templates.strings_in(self.poll.body)]
        texts += [*templates.strings_in(self.download.params), *templates.strings_in(self.download.headers)]
        names = {name for text in texts for name in templates.placeholder_names(text)}
        jobs = tuple(sorted(name for name in names if name.startswith("job.")))
        with_job = dataclasses.replace(known, context_keys=(*known.context_keys, *jobs))
        poll = templates.RequestTemplates.parse(
            f"{where}.poll",
            with_job,
            path=self.poll.path,
            params=self.poll.params,
            headers=self.poll.headers,
            body=self.poll.body,
        )
        download = templates.RequestTemplates.parse(
            f"{where}.download",
            with_job,
            path=self.download.path or "",
            params=self.download.params,
            headers=self.download.headers,
            body=None,
        )
        return dataclasses.replace(self, poll_templates=poll, download_templates=download)

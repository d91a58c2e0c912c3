"""The completeness audit: an `_audit` stream with one record per stream and partition per run.

``audit: true`` adds the stream (select it like any other); ``audit_fail_on_mismatch:
true`` also fails the run when an API's declared total differs from what was emitted.
A record, as a target loads it::

    {"run_id": "9f0c...", "unit": "user_orders {\\"user_id\\":7}", "stream": "user_orders",
     "partition": "{\\"user_id\\":7}", "execution": "tap-restoauth-x7k2p", "task_attempt": 0,
     "shard_index": 1, "shard_count": 4, "records": 120,
     "pages": 2, "declared_total": 120, "retries": 0, "token_renewals": 0,
     "started_at": "2026-11-29T10:00:00.120000+00:00", "ended_at": "...", "outcome": "complete",
     "error": null}

`declared_total` comes from the pagination's total (page_number `total_records_path`,
offset `total_path`) on the partition's first page. `retries` and `token_renewals`
are counted while the unit synced, excluding units nested in it (prefetched child
pages count towards the parent). Outcomes: `complete`; `partial` (stopped by
`max_pages`); `failed` (the run stopped with an error in this unit). A shard records
only the units it owns. A date-windowed stream is recorded once per window fetched
(`unit` ends in ``@`` and the window's grid key; `window_start`/`window_end` are the
bounds requested, end exclusive), not once for the whole stream or partition. A unit
read from an export job names it (`job_id`, `job_status`, `job_files`: files or parts
downloaded). The records are emitted at the end of the run, also when it fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import typing as t
import uuid
from collections.abc import Callable, Iterator, Mapping

from singer_sdk.streams.core import Stream

from tap_restoauth.errors import ApiError, TapRestOAuthError
from tap_restoauth.http import redaction
from tap_restoauth.sync.shards import ShardSettings, unit_key

if t.TYPE_CHECKING:
    from singer_sdk.tap_base import Tap

STREAM_NAME = "_audit"


def _nullable(kind: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"type": [kind, "null"], **extra}


# `type: [X, "null"]` (not anyOf) so that BigQuery targets map each column to X.
SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "unit": {"type": "string"},
        "stream": {"type": "string"},
        "partition": _nullable("string"),
        "execution": _nullable("string"),
        "task_attempt": _nullable("integer"),
        "shard_index": {"type": "integer"},
        "shard_count": {"type": "integer"},
        "records": {"type": "integer"},
        "pages": {"type": "integer"},
        "declared_total": _nullable("integer"),
        "retries": {"type": "integer"},
        "token_renewals": {"type": "integer"},
        "started_at": {"type": "string", "format": "date-time"},
        "ended_at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "string"},
        "error": _nullable("string"),
        "window_start": _nullable("string", format="date-time"),
        "window_end": _nullable("string", format="date-time"),
        "job_id": _nullable("string"),
        "job_status": _nullable("string"),
        "job_files": _nullable("integer"),
    },
    "required": ["run_id", "unit", "stream", "outcome"],
}


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    """The `audit` and `audit_fail_on_mismatch` settings."""

    enabled: bool = False
    fail_on_mismatch: bool = False


@dataclasses.dataclass
class Unit:
    """What one stream or partition did in this run."""

    stream: str
    partition: str | None
    started_at: dt.datetime
    counters: tuple[int, int]  # (retries, token requests) when last resumed
    records: int = 0
    pages: int = 0
    declared_total: int | None = None
    retries: int = 0
    token_renewals: int = 0
    partial: bool = False
    window: tuple[str, dt.datetime, dt.datetime] | None = None  # (key, start, end)
    windows: int = 0  # date windows recorded inside this unit
    job: t.Any = None  # an export job's JobRun (id, status, files): fetch/job_endpoint.py

    def add(self, now: tuple[int, int]) -> None:
        self.retries += now[0] - self.counters[0]
        self.token_renewals += now[1] - self.counters[1]
        self.counters = now


class Audit:
    """Collects the units of this run (only when `audit: true`)."""

    def __init__(
        self, settings: AuditSettings, shard: ShardSettings, counters: Callable[[], tuple[int, int]]
    ):
        self.settings = settings
        self.shard = shard
        self.counters = counters
        self.run_id = uuid.uuid4().hex
        # Cloud Run Jobs name the execution its tasks share and count a task's attempts (retries).
        self.execution = os.environ.get("CLOUD_RUN_EXECUTION") or None
        attempt = os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "")
        self.task_attempt = int(attempt) if attempt.isdigit() else None
        self.records: list[dict[str, t.Any]] = []
        self._stack: list[Unit] = []

    @contextlib.contextmanager
    def unit(
        self,
        stream: str,
        context: Mapping[str, t.Any] | None,
        window: tuple[str, dt.datetime, dt.datetime] | None = None,
    ) -> Iterator[Unit | None]:
        """Record one unit; a `window` (key, start, end) unit replaces its enclosing one."""
        if not self.settings.enabled:
            yield None
            return
        now = self.counters()
        if self._stack:
            self._stack[-1].add(now)
            self._stack[-1].windows += window is not None
        partition = (
            json.dumps(context, sort_keys=True, separators=(",", ":"), default=str) if context else None
        )
        unit = Unit(stream, partition, dt.datetime.now(dt.timezone.utc), now, window=window)
        self._stack.append(unit)
        outcome, error = "complete", None
        try:
            yield unit
        except BaseException as exc:
            outcome = "failed"
            error = redaction.clean(exc) if isinstance(exc, TapRestOAuthError) else type(exc).__name__
            raise
        finally:
            now = self.counters()
            unit.add(now)
            self._stack.pop()
            if self._stack:
                self._stack[-1].counters = now
            if outcome == "complete" and unit.partial:
                outcome = "partial"
            if not unit.windows or outcome == "failed":  # else its windows say what it did
                self.records.append(self._record(unit, context, outcome, error))

    def _record(
        self, unit: Unit, context: Mapping[str, t.Any] | None, outcome: str, error: str | None
    ) -> dict[str, t.Any]:
        return {
            "run_id": self.run_id,
            "unit": unit_key(unit.stream, context, unit.window[0] if unit.window else None),
            "stream": unit.stream,
            "partition": unit.partition,
            "execution": self.execution,
            "task_attempt": self.task_attempt,
            "shard_index": self.shard.index,
            "shard_count": self.shard.count,
            "records": unit.records,
            "pages": unit.pages,
            "declared_total": unit.declared_total,
            "retries": unit.retries,
            "token_renewals": unit.token_renewals,
            "started_at": unit.started_at.isoformat(),
            "ended_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "outcome": outcome,
            "error": error,
            "window_start": unit.window[1].isoformat() if unit.window else None,
            "window_end": unit.window[2].isoformat() if unit.window else None,
            "job_id": unit.job.id if unit.job else None,
            "job_status": unit.job.status if unit.job else None,
            "job_files": unit.job.files if unit.job else None,
        }

    def check_totals(self) -> None:
        """With `audit_fail_on_mismatch`, fail when a complete unit's declared total was not emitted."""
        if not self.settings.fail_on_mismatch:
            return
        wrong = [
            r
            for r in self.records
            if r["outcome"] == "complete"
            and r["declared_total"] is not None
            and r["declared_total"] != r["records"]
        ]
        if wrong:
            shown = "; ".join(
                f"{r['unit']}: {r['records']} emitted, {r['declared_total']} declared" for r in wrong[:5]
            )
            more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
            raise ApiError(
                f"audit: {len(wrong)} stream(s)/partition(s) emitted a different number of records than "
                f"the API declared ({shown}{more}); see the _audit stream (audit_fail_on_mismatch)"
            )


class AuditStream(Stream):
    """The `_audit` stream: emitted after every other stream, also when the run fails."""

    primary_keys: t.ClassVar[list[str]] = ["run_id", "unit"]

    def __init__(self, tap: Tap, audit: Audit) -> None:
        super().__init__(tap, schema=SCHEMA, name=STREAM_NAME)
        self.audit = audit

    def get_records(self, context: Mapping[str, t.Any] | None) -> Iterator[dict[str, t.Any]]:
        yield from self.audit.records

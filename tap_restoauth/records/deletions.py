"""Deleted-record signals: records that tell a target a row is gone, with `_sdc_deleted_at` set.

Two ways an API says a record was deleted, each per stream:

- a flag on the records themselves (`deleted_when`): HubSpot `archived: true`,
  Salesforce `IsDeleted: true` (read with `queryAll`), `status: deleted`:

      deleted_when: {field: archived, equals: true, deleted_at: archivedAt}

  every record of the stream then carries `_sdc_deleted_at`: the record's
  `deleted_at` field (else the time of reading) when the field equals the value,
  else null (a record restored in the API is live again downstream);

- a companion endpoint listing deleted ids (`deletions`): Zendesk
  `/api/v2/deleted_tickets`, Stripe `/v1/events?type=customer.deleted`:

      deletions:
        path: /deleted_tickets.json
        records_path: $.deleted_tickets[*]
        key: id                     # the field holding the stream's primary key (dots: nested)
        deleted_at: deleted_at      # the deletion time, ISO or epoch (else the time of reading)
        incremental: {param: start_time, format: epoch}   # optional: its own bookmark

  read after the stream's own records, with the stream's auth, pagination (unless
  it sets its own), templates, params, response rules and limits, as a GET (unless
  `method`/`body` say otherwise); each listed id becomes one RECORD
  `{"id": 7, "_sdc_deleted_at": "2024-03-01T00:10:00Z"}`. With `incremental`
  the endpoint keeps its own bookmark (the latest `deleted_at` read) in the
  stream's state, `{"deletions": {"replication_key_value": ...}}`, written only
  after the records it covers.

The schema gains a nullable `_sdc_deleted_at` date-time. What each target does with
such a record differs (soft or hard delete): docs/deletions.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t
from collections.abc import Callable, Mapping

from tap_restoauth.errors import ApiError
from tap_restoauth.fetch.incremental import parse_timestamp

E = t.TypeVar("E")  # the companion endpoint's settings (config.py's StreamSettings)

DELETED_AT = "_sdc_deleted_at"
DELETED_AT_SCHEMA: dict[str, t.Any] = {"type": ["string", "null"], "format": "date-time"}
STATE_KEY = "deletions"


def as_timestamp(value: t.Any, read_at: str) -> str:
    """An ISO-8601 UTC timestamp from an ISO string or epoch seconds; `read_at` when there is none."""
    if isinstance(value, bool) or value is None:
        return read_at
    if isinstance(value, (int, float)):
        try:
            moment = dt.datetime.fromtimestamp(value, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return read_at
    else:
        parsed = parse_timestamp(value)
        if parsed is None:
            return read_at
        moment = parsed.astimezone(dt.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def field(record: t.Any, name: str) -> t.Any:
    """`record[name]`, where a dotted name reads nested objects (`data.object.id`); None if absent."""
    value = record
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class DeletedWhen:
    """`deleted_when: {field: archived, equals: true, deleted_at: archivedAt}` (see the module docstring)."""

    field: str
    equals: t.Any
    deleted_at: str | None = None

    def mark(self, records: list[dict[str, t.Any]]) -> None:
        """Set `_sdc_deleted_at` on every record: a timestamp when flagged, else null."""
        read_at: str | None = None
        for record in records:
            if record.get(self.field) == self.equals and record.get(self.field) is not None:
                read_at = read_at or now()
                moment = record.get(self.deleted_at) if self.deleted_at else None
                record[DELETED_AT] = as_timestamp(moment, read_at)
            else:
                record[DELETED_AT] = None


@dataclasses.dataclass(frozen=True)
class DeletionsOptions:
    """`deletions:` as written; `endpoint` becomes the companion's own StreamSettings (config.py)."""

    path: str
    method: t.Literal["GET", "POST", "get", "post"] = "GET"
    body: t.Any = None
    records_path: str | None = None
    key: str | None = None
    deleted_at: str | None = None
    params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    incremental: dict[str, t.Any] | None = None
    pagination: dict[str, t.Any] | None = None


@dataclasses.dataclass(frozen=True)
class Deletions(t.Generic[E]):
    """The companion endpoint of a stream and how its records map to deleted rows."""

    endpoint: E  # path, records_path, params, pagination, incremental of the endpoint
    primary_key: str
    key: str
    deleted_at: str | None
    incremental: bool

    def to_records(
        self, stream: str, records: list[t.Any], context: Mapping[str, t.Any] | None
    ) -> list[dict[str, t.Any]]:
        """One `{primary key, _sdc_deleted_at}` record per listed id (context keys added)."""
        read_at = now()
        deleted = []
        for record in records:
            key = field(record, self.key)
            if key is None:
                fields = (
                    ", ".join(list(record)[:12]) if isinstance(record, Mapping) else type(record).__name__
                )
                raise ApiError(
                    f"{stream}: a deleted record has no {self.key!r} (its fields: {fields or 'none'}); "
                    "check deletions.key and deletions.records_path"
                )
            moment = field(record, self.deleted_at) if self.deleted_at else None
            row = {self.primary_key: key, DELETED_AT: as_timestamp(moment, read_at)}
            for name, value in (context or {}).items():
                row.setdefault(name, value)
            deleted.append(row)
        return deleted


class DeletedRecords(list):
    """One page of deletion records: written like any page, but they move no bookmark and sync no
    child; `done()` runs once they are written (it advances the endpoint's own bookmark)."""

    def __init__(self, records: list[dict[str, t.Any]], done: Callable[[], None]) -> None:
        super().__init__(records)
        self.done = done


def latest(records: list[dict[str, t.Any]], current: t.Any) -> t.Any:
    """The latest `_sdc_deleted_at` of `records`, or `current` if none is later."""
    best, best_at = current, parse_timestamp(current) if current is not None else None
    for record in records:
        at = parse_timestamp(record.get(DELETED_AT))
        if at is not None and (best_at is None or at > best_at):
            best, best_at = record[DELETED_AT], at
    return best

"""Incremental replication: the bookmark sent to the API and the client-side filter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch.windows import Duration

# How a bookmark timestamp is written into the API's filter parameter, by `format`.
FORMATS: dict[str, t.Callable[[dt.datetime], t.Any]] = {
    "iso8601": dt.datetime.isoformat,
    "date": lambda moment: moment.date().isoformat(),
    "epoch": lambda moment: int(moment.timestamp()),
    "epoch_ms": lambda moment: int(moment.timestamp() * 1000),
}


def check_format(name: str, where: str) -> str:
    if name not in FORMATS and "%" not in name:
        raise ConfigError(
            f"{where}: expected one of {', '.join(FORMATS)} or a strftime pattern, got {name!r}"
        )
    return name


def render_value(value: t.Any, format: str) -> t.Any:
    """A timestamp as the API expects it (see `IncrementalSettings.format`); other values as they are."""
    if not isinstance(value, dt.datetime):
        return value
    formatter = FORMATS.get(format)
    return formatter(value) if formatter else value.strftime(format)


@dataclasses.dataclass(frozen=True)
class IncrementalSettings:
    """`incremental: {param: updated_since, format: iso8601}`.

    `format` is iso8601 (timezone kept), date (YYYY-MM-DD), epoch (seconds),
    epoch_ms, or a strftime pattern such as ``%Y-%m-%dT%H:%M:%S``.

    Date windows (see `windows.py`): `end_param`, `step`, `lookback`, `end` and
    `granularity`. `order: desc` stops paging at the first page holding a record
    older than the bookmark (newest-first feeds). `per_parent: false` keeps one
    bookmark for all of a child stream's parents instead of one per parent.
    """

    param: str | None = None
    format: str = "iso8601"
    end_param: str | None = None
    step: str | None = None
    lookback: str | None = None
    end: str | None = None
    granularity: str | None = None
    order: t.Literal["asc", "desc"] = "asc"
    per_parent: bool = True

    def __post_init__(self) -> None:
        check_format(self.format, "incremental.format")
        for name in ("step", "lookback", "granularity"):
            value = getattr(self, name)
            if value is not None:
                Duration.parse(value, f"incremental.{name}")
        if self.end is not None and parse_timestamp(self.end) is None:
            raise ConfigError(
                "incremental.end: expected an ISO-8601 date-time such as 2024-12-31T00:00:00Z, "
                f"got {self.end!r}"
            )

    def duration(self, name: str) -> Duration | None:
        value = getattr(self, name)
        return Duration.parse(value, f"incremental.{name}") if value else None

    @property
    def windowed(self) -> bool:
        """Requests carry a date range (`end_param` or `step`) rather than only a lower bound."""
        return bool(self.end_param or self.step)

    def render(self, value: t.Any) -> t.Any:
        """The bookmark as the API expects it in `param`."""
        return render_value(value, self.format)


def parse_timestamp(value: t.Any) -> dt.datetime | None:
    """An aware datetime from an ISO-8601 string (UTC assumed without a zone), else None."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class OlderThanBookmark:
    """Drops records older than the bookmark, for APIs that ignore the filter parameter.

    Without it, such an API would re-send old records and nothing would stop a
    bookmark computed from them from going backwards.
    """

    def __init__(self, key: str, start: t.Any, *, timestamps: bool) -> None:
        self.key = key
        self.timestamps = timestamps
        self.start = parse_timestamp(start) if timestamps else start
        self.dropped = 0

    def keeps(self, record: t.Mapping[str, t.Any]) -> bool:
        value = record.get(self.key)
        if value is None or self.start is None:
            return True
        if self.timestamps:
            value = parse_timestamp(value)
            if value is None:
                return True
        try:
            keep = bool(value >= self.start)
        except TypeError:
            return True
        if not keep:
            self.dropped += 1
        return keep

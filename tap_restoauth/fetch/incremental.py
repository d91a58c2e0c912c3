"""Incremental replication: the bookmark sent to the API and the client-side filter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from tap_restoauth.errors import ConfigError

# How a bookmark timestamp is written into the API's filter parameter, by `format`.
FORMATS: dict[str, t.Callable[[dt.datetime], t.Any]] = {
    "iso8601": dt.datetime.isoformat,
    "date": lambda moment: moment.date().isoformat(),
    "epoch": lambda moment: int(moment.timestamp()),
    "epoch_ms": lambda moment: int(moment.timestamp() * 1000),
}


@dataclasses.dataclass(frozen=True)
class IncrementalSettings:
    """`incremental: {param: updated_since, format: iso8601}`.

    `format` is iso8601 (timezone kept), date (YYYY-MM-DD), epoch (seconds),
    epoch_ms, or a strftime pattern such as ``%Y-%m-%dT%H:%M:%S``.
    """

    param: str | None = None
    format: str = "iso8601"

    def __post_init__(self) -> None:
        if self.format not in FORMATS and "%" not in self.format:
            raise ConfigError(
                f"incremental.format: expected one of {', '.join(FORMATS)} or a strftime "
                f"pattern, got {self.format!r}"
            )

    def render(self, value: t.Any) -> t.Any:
        """The bookmark as the API expects it in `param`."""
        if not isinstance(value, dt.datetime):
            return value
        formatter = FORMATS.get(self.format)
        return formatter(value) if formatter else value.strftime(self.format)


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

"""A stream's starting bookmark from STATE, read as a typed value or refused in one line.

The SDK reads ``replication_key_value`` from the state and parses it with
`datetime.fromisoformat` for a date-time replication key; an object, a list, or text
that is not a date (a hand-edited or foreign state) would be a traceback. Here::

    {"bookmarks": {"users": {"replication_key_value": {"$date": 1}}}}
    -> users: the bookmark in STATE is an object, not a date-time; fix the state ...

A bookmark is text, a finite number or null; a date-time key's bookmark is ISO 8601
text of at most 64 characters.
"""

from __future__ import annotations

import datetime as dt
import math
import typing as t

from tap_restoauth.errors import ConfigError
from tap_restoauth.schema_errors import kind_of

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_sdk.streams.core import Stream

MAX_BOOKMARK_CHARS = 64  # for a date-time bookmark; other keys may be longer cursors


def check_bookmark(value: t.Any, *, timestamp: bool, stream: str) -> None:
    """Raise ConfigError unless `value` can be a bookmark of `stream`'s replication key."""
    if value is None:
        return
    fix = "; fix the state or remove this stream's bookmark from it (a full sync from start_date)"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        wanted = "a date-time" if timestamp else "text or a number"
        raise ConfigError(f"{stream}: the bookmark in STATE is {kind_of(value)}, not {wanted}{fix}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{stream}: the bookmark in STATE is not a finite number{fix}")
    if not timestamp:
        return
    if not isinstance(value, str) or len(value) > MAX_BOOKMARK_CHARS:
        raise ConfigError(
            f"{stream}: the bookmark in STATE is {kind_of(value)}, not an ISO 8601 date-time{fix}"
        )
    try:
        dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{stream}: the bookmark in STATE is not an ISO 8601 date-time{fix}") from None


def starting_value(stream: Stream, context: Mapping[str, t.Any] | None, *, timestamp: bool) -> t.Any:
    """The SDK's starting bookmark (later of STATE and start_date), checked first."""
    check_bookmark(
        stream.get_context_state(context).get("replication_key_value"),
        timestamp=timestamp,
        stream=stream.name,
    )
    try:
        return (
            stream.get_starting_timestamp(context)
            if timestamp
            else stream.get_starting_replication_key_value(context)
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(
            f"{stream.name}: cannot read the bookmark in STATE ({type(exc).__name__})"
        ) from None

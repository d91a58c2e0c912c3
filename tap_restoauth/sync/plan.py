"""`--plan`: what a run would request, from the config, state and shard, without requesting it.

For each stream, this shard's part of it: each partition (static partitions), each
date window, and the first request each would send (URL with secrets masked), then
an estimate of the requests. A child stream's partitions are its parent's records,
unknown before the run: its request is shown with the parent's fields as
placeholders and its estimate comes from the partitions its state remembers. No API
request is sent (a token request only when `auth.api_url_from_token` makes the URL
depend on it); schemas that would be inferred from sample records are not inferred.

    tap-restoauth --config config.json --state state.json --plan

    plan for shard 1 of 4 (no request sent)
    daily: incremental on day, in date windows, account_id=a1: from 2024-05-01T00:00:00Z
      window 2024-05-01 -> 2024-05-02: GET https://api.example.com/v1/a1/report?from=2024-05-01&key=***
      ...
      estimate: 31 first requests (more if pages follow)
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import unquote

from tap_restoauth.fetch.incremental import parse_timestamp
from tap_restoauth.http import redaction
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.schema import is_timestamp
from tap_restoauth.sync.child_state import FOLDED_KEY
from tap_restoauth.sync.shards import unit_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tap_restoauth.fetch.pagination import PageRequest
    from tap_restoauth.streams import RestStream
    from tap_restoauth.sync.shards import Shards


def describe(streams: list[RestStream], shards: Shards) -> Iterator[str]:
    """The plan's lines, stream by stream (parents before their children)."""
    yield f"plan for shard {shards.index} of {shards.count} (no request sent)"
    total = 0
    for stream in streams:
        if not (stream.selected or stream.has_selected_descendents):
            continue
        lines, requests = _stream(stream, shards)
        yield from lines
        total += requests
    yield f"at least {total:,} requests in all (one per window, partition and known parent record)"


def _stream(stream: RestStream, shards: Shards) -> tuple[list[str], int]:
    settings = stream.settings
    how = f"incremental on {stream.replication_key}" if stream.replication_key else "full table"
    if settings.windowed and stream.replication_key:
        how += ", in date windows"
    if not stream.selected:
        how += "; not selected (walked for its children)"
    if settings.parent:
        return _child(stream, how, shards)
    contexts: list[dict[str, t.Any] | None] = [None]
    if stream.partitions:
        contexts = [*stream.partitions]
    lines = [f"{stream.name}: {how}"]
    requests = 0
    for context in contexts:
        context_lines, context_requests = _root_context(stream, context, shards)
        lines += context_lines
        requests += context_requests
    lines.append(f"  estimate: {_estimate(stream, requests)}")
    return lines, requests


def _root_context(
    stream: RestStream, context: dict[str, t.Any] | None, shards: Shards
) -> tuple[list[str], int]:
    """The lines and first requests of one partition (or the whole stream) of a root stream."""
    where = f"  {_label(context)}: " if context else "  "
    whole = unit_key(stream.name, None)
    owned = shards.owns_context(stream.name, context) if context else shards.owns(whole)
    lines = []
    if not owned and stream.name not in shards.windowed:
        if not stream.has_selected_descendents:
            return [f"{where}another shard's"], 0
        lines.append(f"{where}another shard's records; read here only to find its children")
    start = _start(stream, context)
    if start is not None:
        lines.append(f"{where}from {_show(start)}")
    endpoint = stream.endpoint
    if not (stream.settings.windowed and stream.replication_key):
        request = endpoint.first_request(context, {}, endpoint.values(context, bookmark=start))
        return [*lines, f"    first request: {_request(stream, request)}"], 1
    windows = [w for w in stream.windows(context, start) if shards.owns_window(stream.name, context, w.key)]
    for window in windows:
        values = endpoint.values(context, bookmark=start, window=(window.start, window.sent_end))
        request = endpoint.first_request(context, {}, values)
        span = f"{_show(window.start)} -> {_show(window.end)}"
        lines.append(f"    window {span}: {_request(stream, request)}")
    if not windows:
        lines.append("    no window to fetch here (at the end, or other shards' windows)")
    return lines, len(windows)


def _child(stream: RestStream, how: str, shards: Shards) -> tuple[list[str], int]:
    settings = stream.settings
    placeholders = {key: f"{{{key}}}" for key in settings.context_keys}
    values = stream.endpoint.values(placeholders, bookmark=None)
    request = unquote(_request(stream, stream.endpoint.first_request(placeholders, {}, values)))
    lines = [
        f"{stream.name}: {how}, once per {settings.parent} record",
        f"    first request: {request}",
    ]
    bookmarks = stream.stream_state
    known = len(bookmarks.get("partitions", [])) + int(bookmarks.get(FOLDED_KEY, 0) or 0)
    share = "" if shards.count == 1 else f" (this shard: about 1 in {shards.count})"
    if known:
        expected = -(-known // shards.count)
        lines.append(
            f"  estimate: about {expected:,} first requests: its state remembers {known:,} "
            f"{settings.parent} records{share}"
        )
        return lines, expected
    lines.append(f"  estimate: one first request per {settings.parent} record{share}")
    return lines, 0


def _start(stream: RestStream, context: Mapping[str, t.Any] | None) -> t.Any:
    """Where the run would start: the later of the bookmark in state and start_date."""
    if not stream.replication_key:
        return None
    bookmark = stream.get_context_state(context).get("replication_key_value")
    if bookmark is None:
        bookmark = stream.stream_state.get("replication_key_value")  # a folded bookmark
    start_date = stream.endpoint.tap.start_date
    timestamps = stream.settings.windowed or is_timestamp(stream.schema, stream.replication_key)
    if not timestamps:
        return bookmark
    moment = parse_timestamp(bookmark) if bookmark is not None else None
    if moment is None or (start_date is not None and start_date > moment):
        return start_date
    return moment


def _estimate(stream: RestStream, requests: int) -> str:
    pages = stream.settings.max_pages
    if pages:
        return f"{requests:,} to {requests * pages:,} requests (max_pages: {pages})"
    return f"{requests:,} first request{'' if requests == 1 else 's'} (more if pages follow)"


def _request(stream: RestStream, request: PageRequest) -> str:
    text = f"{stream.settings.method} {mask_url(request.full_url())}"
    if request.body is not None:
        text += f" body {redaction.redact(str(request.body))[:200]}"
    return text


def _label(context: Mapping[str, t.Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in context.items())


def _show(value: t.Any) -> str:
    moment = parse_timestamp(value) if isinstance(value, (str, dt.datetime)) else None
    if moment is None:
        return str(value)
    return moment.isoformat().replace("+00:00", "Z")

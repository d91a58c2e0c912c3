"""Full-table versions: ACTIVATE_VERSION after a complete read, so a target can drop what is gone.

With `emit_activate_version_messages: true` every full-table stream (no
`replication_key`) reads the whole table each run and tags its records with the
run's version; once the read is complete the stream sends

    {"type": "ACTIVATE_VERSION", "stream": "plans", "version": 1764999000123}

which tells the target that rows of any older version are gone (target-postgres
deletes them with `hard_delete: true`, else sets `_sdc_deleted_at`; see
docs/deletions.md). The version is then kept in STATE:

    {"bookmarks": {"plans": {"version": 1764999000123}}}

The SDK sends one ACTIVATE_VERSION *before* the first record of every run and
none after: a target applying it at once marks every row the run has not re-read
yet, and an interrupted run leaves them marked. Here, as singer-io's database
taps do:

- an opening message only on a stream's first run (no version in STATE yet), so
  the target knows the table is versioned before its first rows land;
- the closing message only after the stream's last record, and only if the
  stream's whole read succeeded: a failed, interrupted or quota-stopped run
  sends none, so a partial read never deletes a row.

One version per stream per run. Static partitions are one read: the version
closes once every partition is done. A child stream closes with its root stream,
after every parent record's children are read, and only when every ancestor is
full-table too (below an incremental parent a run reads the children of changed
parents only: a version would delete the others). A stream with `max_pages`
gets no version either (a run may stop before the end). Sharded runs refuse the
setting: one shard's closing message would delete the rows other shards wrote.

Config example:

    emit_activate_version_messages: true
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_restoauth.errors import ConfigError

SETTING = "emit_activate_version_messages"
STATE_KEY = "version"


def enabled(value: bool, shard_count: int) -> bool:
    """The setting, refused with sharding (each shard's closing message would delete the others' rows)."""
    if value and shard_count > 1:
        raise ConfigError(
            f"{SETTING} cannot be used with shard.count > 1: a shard reads part of a full-table "
            "stream, and its ACTIVATE_VERSION would delete the rows the other shards wrote"
        )
    return value


class VersionedStream(t.Protocol):
    """What a version needs of a stream: sync/fast_path.py's `VersionedStream` (an SDK Stream)."""

    table_version: TableVersion | None
    _stream_version: int | None

    @property
    def name(self) -> str: ...
    @property
    def replication_key(self) -> str | None: ...
    @property
    def selected(self) -> bool: ...
    @property
    def stream_state(self) -> dict[str, t.Any]: ...
    @property
    def state_manager(self) -> t.Any: ...
    @property
    def logger(self) -> t.Any: ...
    @property
    def child_streams(self) -> t.Sequence[t.Any]: ...
    def _write_activate_version_message(self, full_table_version: int) -> None: ...
    def _write_schema_message(self) -> None: ...
    def _write_state_message(self) -> None: ...


class TableVersion:
    """One full-table stream's version in this run: opened before its first record, closed after its last."""

    def __init__(self, run_version: int) -> None:
        self.run_version = run_version
        self.version: int | None = None
        self.failed = False
        self.closed = False

    def begin(self, stream: VersionedStream) -> None:
        """Tag the stream's records; on its first versioned run, send the opening message."""
        if self.version is not None:
            return
        previous = stream.stream_state.get(STATE_KEY)
        self.version = self.run_version
        if isinstance(previous, int) and previous >= self.version:
            self.version = previous + 1  # versions only grow, whatever the clock says
        stream._stream_version = self.version
        if previous is None and stream.selected:
            stream._write_activate_version_message(self.version)

    def close(self, stream: VersionedStream) -> None:
        """The whole read succeeded: send ACTIVATE_VERSION, then keep the version in STATE."""
        if self.failed or self.closed or not stream.selected:
            return
        if self.version is None:  # a child whose parents had no record: its table is now empty
            stream._write_schema_message()
            self.begin(stream)
        self.closed = True
        version = t.cast("int", self.version)
        stream._write_activate_version_message(version)
        stream.stream_state[STATE_KEY] = version
        stream.state_manager.is_flushed = False
        stream._write_state_message()


def assign(
    streams: t.Iterable[VersionedStream],
    parents: Mapping[str, str],
    run_version: int,
    page_limited: t.Collection[str] = (),
) -> None:
    """Give a version to each full-table stream whose ancestors are all full-table too.

    `parents` maps a child stream's name to its parent's name; `page_limited` names the
    streams with `max_pages`.
    """
    by_name = {stream.name: stream for stream in streams}

    def whole(name: str) -> bool:
        """Every run reads the whole stream: full-table, no max_pages, and so is every ancestor."""
        parent = parents.get(name)
        complete = not by_name[name].replication_key and name not in page_limited
        return complete and (parent is None or whole(parent))

    for name, stream in by_name.items():
        if whole(name):
            stream.table_version = TableVersion(run_version)
        elif not stream.replication_key:
            stream.logger.info(
                "%s: no ACTIVATE_VERSION: a run may read only part of it (an incremental ancestor, "
                "or max_pages)",
                name,
            )


def close_tree(stream: VersionedStream) -> None:
    """A root stream's read is complete: close its version and its descendants' (children first)."""
    for child in stream.child_streams:
        close_tree(t.cast("VersionedStream", child))
    if stream.table_version is not None:
        stream.table_version.close(stream)

"""The Singer stream for one configured endpoint."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import sys
import threading
import typing as t
from collections.abc import Iterable, Iterator, Mapping

from singer_sdk.exceptions import (
    AbortedSyncExceptionBase,
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    InvalidStreamSortException,
)

from tap_restoauth.errors import ApiError, TapRestOAuthError
from tap_restoauth.fetch.endpoint import Endpoint
from tap_restoauth.fetch.incremental import OlderThanBookmark, parse_timestamp
from tap_restoauth.fetch.partitions import iter_partitions
from tap_restoauth.fetch.windows import Window, in_order, plan
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records import deletions
from tap_restoauth.records.schema import is_timestamp
from tap_restoauth.sync import interrupt
from tap_restoauth.sync.bookmarks import starting_value
from tap_restoauth.sync.child_state import PartitionStateManager
from tap_restoauth.sync.fast_path import FastSyncStream
from tap_restoauth.sync.output import StateLines
from tap_restoauth.sync.partitions_ahead import PartitionsAhead
from tap_restoauth.sync.prefetch import ChildPrefetch
from tap_restoauth.sync.progress import Progress

if t.TYPE_CHECKING:
    from singer_sdk.tap_base import Tap

    from tap_restoauth.config import StreamSettings
    from tap_restoauth.fetch.pagination import Page
    from tap_restoauth.sync.audit import Audit, Unit
    from tap_restoauth.sync.shards import Shards

Pages = Iterable[tuple["Page", list[dict[str, t.Any]]]]


class RestStream(FastSyncStream):
    """Records of one endpoint; children get one subclass each (the SDK wires parents by class).

    State: an incremental child stream keeps one bookmark per parent record (the
    SDK's state partitions, keyed by the child's context keys), so an interrupted run
    never skips the records of a parent it did not reach. A child without a
    replication key has nothing to bookmark: its state is not partitioned, which
    keeps STATE messages small however many parents there are. With
    `incremental.per_parent: false` an incremental child keeps one bookmark for
    all its parents (per static partition): the lowest of the parents' highest
    values, written once every parent is done.

    A date-windowed stream's bookmark is the end of the last window fully fetched
    (see `fetch/windows.py`); static partitions are the SDK's `partitions`.

    Partitioned state stays linear (sync/child_state.py): partitions are indexed and
    folded beyond `state_max_partitions`, and a stream whose STATE carries partitions
    writes it at most every `state_interval_seconds`, and when its sync ends.
    """

    def __init__(
        self,
        tap: Tap,
        schema: dict[str, t.Any],
        settings: StreamSettings,
        endpoint: Endpoint,
        progress: Progress,
    ) -> None:
        super().__init__(tap, schema=schema, name=settings.name)
        self.settings = settings
        self.endpoint = endpoint
        self.progress = progress
        self.primary_keys = list(settings.primary_keys)
        self.replication_key = settings.replication_key
        if settings.context_keys:
            incremental = settings.incremental
            shared = bool(settings.parent and incremental and not incremental.per_parent)
            keys = settings.partition_keys if shared else settings.context_keys
            self.state_partitioning_keys = list(keys) if settings.replication_key else []
        self._children_keys: dict[str, str] = {}
        self._warned_missing_bookmark_value = False
        # per_parent: false -> {partition: {parent context: (comparable, value)}}
        self._parents_highest: dict[str, dict[str, tuple[t.Any, t.Any]]] = {}
        self.shards: Shards | None = None  # set by the tap
        self.audit: Audit | None = None
        self._unit: Unit | None = None
        self._schemas_sent: list[dict[str, t.Any]] | None = None
        self._ahead: PartitionsAhead[Pages] | None = None  # job streams: sync/partitions_ahead.py
        self.deletions = (
            Endpoint(endpoint.tap, settings.deletions.endpoint, endpoint.client)
            if settings.deletions
            else None
        )
        self.complete_pass = True  # every ancestor lists all its records each run (set by the tap)
        self._closing = False

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """The static partitions (`partitions` setting), else the SDK's (those found in state)."""
        settings = getattr(self, "settings", None)
        if settings is not None and settings.partitions:
            return [dict(partition.context) for partition in iter_partitions(settings.partitions)]
        return super().partitions

    @property
    def state_manager(self) -> PartitionStateManager:
        """The SDK's state manager with indexed and bounded partitions (sync/child_state.py)."""
        if self._state_manager is None:
            rk = self.replication_key
            self._state_manager = PartitionStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
                replication_key=rk,
                max_partitions=self.endpoint.tap.state_max_partitions,
                timestamps=bool(rk) and (self.settings.windowed or is_timestamp(self.schema, str(rk))),
                complete_pass=self.complete_pass,
            )
        return t.cast("PartitionStateManager", self._state_manager)

    @functools.cached_property
    def _state_carries_partitions(self) -> bool:
        """This stream's STATE holds partition bookmarks (its own or its descendants')."""
        streams = [self, *self.descendent_streams]
        return any(stream.state_partitioning_keys for stream in streams) or bool(
            self.replication_key and self.settings.partitions
        )

    def _write_state_message(self) -> None:
        """With partitions: at most every `state_interval_seconds` (see `StateLines.due`) and at the end."""
        interval = self.endpoint.tap.state_interval_seconds
        writer = self._tap.state_writer
        if (
            interval > 0
            and not self._closing
            and isinstance(writer, StateLines)
            and self._state_carries_partitions
            and not writer.due(interval)
        ):
            return  # not flushed: a later call writes it
        super()._write_state_message()

    @contextlib.contextmanager
    def _sync_unit(self, context: Mapping[str, t.Any] | None) -> Iterator[bool]:
        """Sync the whole stream or a partition only if this shard owns it; audit what it did."""
        if self.shards is None or self.audit is None:
            yield True
            return
        with self.shards.partition(self.name, context) as owned:
            if not owned or not self.emits_records:
                yield owned
                return
            outer, before = self._unit, self.unit_records
            with self.audit.unit(self.name, context) as unit:
                self._unit = unit
                try:
                    yield True
                finally:
                    self._unit = outer
                    if unit is not None:
                        unit.records = self.unit_records - before

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Log, except the SDK's generic "unhandled error" line for an expected failure.

        `cli()` reports those as one line of their own; the SDK's line would be a second. A
        stream that `--test` stops after one record has not failed at all.
        """
        expected = (TapRestOAuthError, AbortedSyncExceptionBase)
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], expected):
            return  # an expected failure, or `--test` stopping the stream after its first record
        super().log(message, *args, level=level, **kwargs)

    def _write_schema_message(self) -> None:
        """Send the stream's SCHEMA once per run, again only if it changed.

        The SDK sends it at the start of every context: for a child stream, once per parent
        record, and every loader re-validates each one.
        """
        messages = list(self._generate_schema_messages())
        schemas = [message.to_dict() for message in messages]
        if schemas == self._schemas_sent:
            return
        self._schemas_sent = schemas
        for message in messages:
            self._tap.write_message(message)

    def register_child(self, child: RestStream) -> None:
        """Remember which fields of this stream's records the child's context needs."""
        self._children_keys.update(child.settings.parent_keys)

    def get_record_batches(self, context: Mapping[str, t.Any] | None) -> Iterator[list[dict[str, t.Any]]]:
        """The records of each page, one list per page (`get_records` yields them one by one)."""
        keep: OlderThanBookmark | None = None
        start: t.Any = None
        detail = f"incremental on {self.replication_key}" if self.replication_key else "full table"
        if self.settings.parent:
            detail += f", once per {self.settings.parent} record"
        if self.replication_key:
            timestamps = is_timestamp(self.schema, self.replication_key)
            start = starting_value(self, context, timestamp=timestamps)
            if start is not None and not self.settings.parent:
                shown = start.isoformat().replace("+00:00", "Z") if hasattr(start, "isoformat") else start
                detail += f" >= {shown}"
            if self.settings.windowed:
                self.progress.stream_started(self.name, f"{detail}, in date windows")
                yield from self._window_batches(context, start)
                yield from self._deleted_batches(context)
                return
            if start is not None:
                keep = OlderThanBookmark(self.replication_key, start, timestamps=timestamps)
        self.progress.stream_started(self.name, detail)
        values = self.endpoint.values(context, bookmark=start)
        yield from self._batches(self.endpoint.pages(context, {}, values), keep, context)
        if keep and keep.dropped and not self._descending:
            self.logger.info(
                "%s: dropped %d records older than the bookmark (the API ignored the filter)",
                self.name,
                keep.dropped,
            )
        yield from self._deleted_batches(context)

    def _deleted_batches(self, context: Mapping[str, t.Any] | None) -> Iterator[list[dict[str, t.Any]]]:
        """The deleted-records endpoint's pages as deletion records (records/deletions.py)."""
        settings, endpoint = self.settings.deletions, self.deletions
        if settings is None or endpoint is None or not self.emits_records:
            return  # none configured, or another shard's stream walked only for its children
        state = self.get_context_state(context)
        marker = state.get(deletions.STATE_KEY) or {}
        since = marker.get("replication_key_value") if settings.incremental else None

        def advance(records: list[dict[str, t.Any]]) -> None:
            if settings.incremental and records:
                newest = deletions.latest(
                    records, state.get(deletions.STATE_KEY, {}).get("replication_key_value")
                )
                state[deletions.STATE_KEY] = {"replication_key_value": newest}

        values = endpoint.values(context, bookmark=parse_timestamp(since) if since else None)
        for _, page_records in endpoint.pages(context, {}, values):
            records = settings.to_records(self.name, page_records, context)
            yield deletions.DeletedRecords(records, functools.partial(advance, records))
            interrupt.check()

    @property
    def _descending(self) -> bool:
        incremental = self.settings.incremental
        return bool(incremental and incremental.order == "desc")

    def _batches(
        self, pages: Pages, keep: OlderThanBookmark | None, context: Mapping[str, t.Any] | None
    ) -> Iterator[list[dict[str, t.Any]]]:
        progress = self.progress
        stop_when_older = self._descending and keep is not None
        for page, records in pages:
            self._check_primary_keys(page, records)
            dropped = keep.dropped if keep else 0
            kept = records if keep is None else [record for record in records if keep.keeps(record)]
            if self.settings.deleted_when is not None:
                self.settings.deleted_when.mark(kept)
            if context:
                # Parent keys and partition values travel with each record (the SDK adds none).
                for record in kept:
                    for key in self.settings.context_keys:
                        record.setdefault(key, context[key])
            yield kept
            if self.emits_records:
                progress.page_done(self.name, len(kept))
            if self._unit is not None:
                self._audit_page(page)
            interrupt.check()  # the page is written: a signal stops the stream here
            if self.replication_key and self.is_sorted and context is None:
                # The SDK writes STATE every 10,000 records. A sorted stream's bookmark is
                # resumable, so a STATE after each page lets a killed run resume from the
                # last record emitted. (Unsorted streams and per-parent partitions only
                # have a resumable bookmark once complete: they restart from it.)
                self._write_state_message()
            if stop_when_older and keep is not None and keep.dropped > dropped:
                self.logger.info(
                    "%s: stopped paging at a record older than the bookmark (incremental.order: desc)",
                    self.name,
                )
                return

    def windows(self, context: Mapping[str, t.Any] | None, start: t.Any) -> list[Window]:
        """The date windows this context reads from `start` (its bookmark or start_date), in order.

        With the static partitions (`partitions`), the one place listing how a windowed
        stream's sync divides: each window has a stable `key`.
        """
        begin = parse_timestamp(start)
        if begin is None:
            raise ApiError(
                f"{self.name}: date windows need a date-time bookmark, got {start!r}; "
                "check replication_key and start_date"
            )
        incremental = self.settings.incremental
        assert incremental is not None
        lookback = incremental.duration("lookback")
        start_date = self.endpoint.tap.start_date
        first = begin
        if lookback and self.get_context_state(context).get("replication_key_value") is not None:
            # Re-read before a bookmark (late updates), never before start_date.
            first = max(lookback.before(begin), start_date) if start_date else lookback.before(begin)
        return plan(
            first,
            self.endpoint.window_end(),
            step=incremental.duration("step"),
            granularity=incremental.duration("granularity"),
            grid=self.shards is not None and self.shards.count > 1,
        )

    def _window_batches(
        self, context: Mapping[str, t.Any] | None, start: t.Any
    ) -> Iterator[list[dict[str, t.Any]]]:
        """The records of each date window in order, windows fetched up to `concurrency` at once.

        A sharded run fetches only the windows this shard owns (sync/shards.py).
        """
        planned = self.windows(context, start)
        shards = self.shards
        windows = [
            window
            for window in planned
            if shards is None or shards.owns_window(self.name, context, window.key)
        ]
        begin = t.cast("dt.datetime", parse_timestamp(start))
        if not windows:
            self.logger.info(
                "%s: no date window to fetch (%s)",
                self.name,
                "the bookmark is at the end" if not planned else "the others are other shards'",
            )
            return
        keep = OlderThanBookmark(str(self.replication_key), windows[0].start, timestamps=True)
        concurrency = self.endpoint.tap.concurrency
        abandoned = threading.Event()  # set when the windows are given up: waits in workers end

        def fetch(window: Window) -> Pages:
            values = self.endpoint.values(context, bookmark=begin, window=(window.start, window.sent_end))
            return self.endpoint.window_pages(context, values, concurrency, abandoned)

        ahead = self._partitions_ahead(context)
        pairs = (
            ahead.take(_key(context or {}), windows)
            if ahead is not None
            else in_order(windows, fetch, concurrency, abandon=abandoned.set)
        )
        try:
            for window, pages in pairs:
                with self._window_unit(context, window):
                    yield from self._batches(pages, keep, context)
                self._window_done(context, max(window.done_at, begin))
        except BaseException:
            if ahead is not None:
                ahead.close()
            raise

    def _partitions_ahead(self, context: Mapping[str, t.Any] | None) -> PartitionsAhead[Pages] | None:
        """For a job stream over several static partitions: every partition's jobs in one
        pipeline (sync/partitions_ahead.py), planned when the first partition starts."""
        partitions = self.partitions or []
        concurrency = self.endpoint.tap.concurrency
        if (
            self.settings.job is None
            or len(partitions) < 2
            or concurrency < 2
            or (self.shards is not None and self.shards.count > 1)
        ):
            return None
        if self._ahead is None:
            keys = [_key(partition) for partition in partitions]
            if _key(context or {}) not in keys:
                return None
            begins: dict[str, dt.datetime] = {}
            planned = []
            for partition in partitions[keys.index(_key(context or {})) :]:
                if _key(partition) != _key(context or {}):
                    self._write_starting_replication_value(partition)  # as its own sync will
                start = self.get_starting_timestamp(partition)
                begins[_key(partition)] = t.cast("dt.datetime", parse_timestamp(start))
                planned += [(_key(partition), partition, window) for window in self.windows(partition, start)]

            def fetch(partition: Mapping[str, t.Any], window: Window, abandoned: threading.Event) -> Pages:
                begin = begins[_key(partition)]
                values = self.endpoint.values(
                    partition, bookmark=begin, window=(window.start, window.sent_end)
                )
                return self.endpoint.window_pages(partition, values, concurrency, abandoned)

            self._ahead = PartitionsAhead(planned, fetch, concurrency)
        return self._ahead

    @contextlib.contextmanager
    def _window_unit(self, context: Mapping[str, t.Any] | None, window: Window) -> Iterator[None]:
        """While an owned window syncs: partitions found in it are owned; it is audited alone."""
        shards, outer = self.shards, self._unit
        if shards is None or outer is None or self.audit is None:
            with shards.owned() if shards is not None else contextlib.nullcontext():
                yield
            return
        before = self.unit_records
        bounds = (window.key, window.start, window.end)
        with shards.owned(), self.audit.unit(self.name, context, bounds) as unit:
            self._unit = unit
            try:
                yield
            finally:
                self._unit = outer
                if unit is not None:
                    unit.records = self.unit_records - before

    def _window_done(self, context: Mapping[str, t.Any] | None, done_at: t.Any) -> None:
        """Every record of the window is written: the bookmark moves to its end, in STATE now.

        With `per_parent: false` the shared bookmark moves only once every parent is done.
        """
        if self._shared_bookmark:
            self._remember_parent_highest(done_at.isoformat(), context)
            return
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = done_at.isoformat()
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _audit_page(self, page: Page) -> None:
        unit = t.cast("Unit", self._unit)
        unit.pages += 1
        unit.job = getattr(page, "job", None) or unit.job
        if unit.pages == 1:
            try:
                unit.declared_total = self.settings.paginator.declared_total(page)
            except (TypeError, ValueError):
                unit.declared_total = None
        if self.settings.max_pages and unit.pages >= self.settings.max_pages:
            unit.partial = True  # stopped by max_pages: the API may have more

    def _check_primary_keys(self, page: Page, records: list[dict[str, t.Any]]) -> None:
        """Reject a page with a record lacking a primary key before emitting any of it (keys
        from the context, a partition or parent value, are added to every record)."""
        for key in self.settings.primary_keys:
            if key in self.settings.context_keys:
                continue
            for record in records:
                if record.get(key) is None:
                    fields = ", ".join(list(record)[:12]) or "none"
                    raise ApiError(
                        f"{self.name}: a record in the response of {mask_url(page.url)} has no primary "
                        f"key {key!r} (its fields: {fields}); check primary_keys and records_path"
                    )

    @property
    def is_timestamp_replication_key(self) -> bool:
        """A `date` replication key is a timestamp too (the SDK's test knows only `date-time`)."""
        return bool(self.replication_key) and is_timestamp(self.schema, str(self.replication_key))

    @property
    def is_sorted(self) -> bool:
        """Records come in replication-key order (the `is_sorted` setting): resumable bookmarks."""
        settings = getattr(self, "settings", None)
        return bool(settings and settings.is_sorted)

    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Mapping[str, t.Any] | None = None
    ) -> None:
        if self.settings.windowed:
            return  # the bookmark moves per finished window (`_window_done`)
        if self.replication_key and latest_record.get(self.replication_key) is None:
            # Such a record is still emitted; it just cannot say how far the stream got.
            if not self._warned_missing_bookmark_value:
                self._warned_missing_bookmark_value = True
                self.logger.warning(
                    "%s: a record has no %r value; records without one are emitted but do not "
                    "move the bookmark (check replication_key if none has it)",
                    self.name,
                    self.replication_key,
                )
            return
        if self._shared_bookmark:
            self._remember_parent_highest(latest_record[str(self.replication_key)], context)
            return
        try:
            super()._increment_stream_state(latest_record, context=context)
        except InvalidStreamSortException as exc:
            raise ApiError(
                f"{self.name}: is_sorted is set but the API returned records out of "
                f"{self.replication_key} order ({exc}); remove is_sorted from this stream"
            ) from None

    @property
    def _shared_bookmark(self) -> bool:
        incremental = self.settings.incremental
        return bool(self.settings.parent and incremental and not incremental.per_parent)

    def _remember_parent_highest(self, value: t.Any, context: Mapping[str, t.Any] | None) -> None:
        """per_parent: false -- the highest value seen for this parent; state moves at the end."""
        partition = self._get_state_partition_context(context) or {}
        group = self._parents_highest.setdefault(_key(partition), {})
        timestamps = self.settings.windowed or is_timestamp(self.schema, str(self.replication_key))
        comparable = parse_timestamp(value) if timestamps else value
        parent = _key(context or {})
        current = group.get(parent)
        if comparable is not None and (current is None or comparable > current[0]):
            group[parent] = (comparable, value)

    def finalize_state_progress_markers(self, state: dict[str, t.Any] | None = None) -> None:
        """per_parent: false -- one bookmark: the lowest of the parents' highest values.

        Any lower value would re-read more; any higher one could skip a parent's
        records. Written only once every parent is done, and never backwards.

        Called with no `state` when the stream's sync is complete: partitions folded in
        this run settle (sync/child_state.py) and STATE is written whatever the interval.
        """
        if state is None and self.ABORT_AT_RECORD_COUNT is None:
            self.state_manager.pass_complete()
        for partition_key, highest in self._parents_highest.items():
            comparable, value = min(highest.values(), key=lambda pair: pair[0])
            partition = json.loads(partition_key)
            target = self.get_context_state(partition or None)
            old = target.get("replication_key_value")
            if old is not None:
                old_comparable = parse_timestamp(old) if isinstance(comparable, dt.datetime) else old
                if old_comparable is not None and old_comparable >= comparable:
                    continue
            target["replication_key"] = self.replication_key
            target["replication_key_value"] = value
            self.state_manager.is_flushed = False
        self._parents_highest.clear()
        self._closing = state is None
        try:
            super().finalize_state_progress_markers(state)
        finally:
            self._closing = False

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Mapping[str, t.Any] | None
    ) -> Iterable[dict[str, t.Any] | None]:
        child_context = self.child_context(record, context)
        if child_context is None:
            field = next(f for f in self._children_keys.values() if record.get(f) is None)
            self.logger.warning("%s: a record has no %r; its child streams are skipped", self.name, field)
            return
        yield child_context

    def child_context(
        self, record: dict[str, t.Any], context: Mapping[str, t.Any] | None
    ) -> dict[str, t.Any] | None:
        """The context of `record`'s children; None when the record lacks a parent key."""
        child_context = dict(context or {})
        for key, field in self._children_keys.items():
            value = record.get(field)
            if value is None:
                return None
            child_context[key] = value
        return child_context

    def _sync_children(self, child_context: Mapping[str, t.Any] | None) -> None:
        """The SDK's loop, skipping children whose partition is another shard's.

        `_sync_unit` would skip them too, but only after the SDK's per-sync work (SCHEMA and
        STATE messages, a log line); with N shards, N-1 of every N child contexts are skipped.
        """
        shards = self.shards
        if shards is None or shards.count == 1 or child_context is None:
            super()._sync_children(child_context)
            return
        for child in self.child_streams:
            if not (child.selected or child.has_selected_descendents):
                continue
            if not shards.owns_context(child.name, child_context):
                continue
            try:
                child.sync(context=child_context)
            except (AbortedSyncFailedException, AbortedSyncPausedException):
                continue

    @functools.cached_property
    def _prefetch(self) -> ChildPrefetch | None:
        return ChildPrefetch.for_stream(self, self.endpoint.tap.concurrency)

    def _before_child_sync(
        self, batch: list[dict[str, t.Any]], index: int, child_context: Mapping[str, t.Any] | None
    ) -> None:
        if self._prefetch is not None:
            self._prefetch.ahead(batch, index, child_context)

    def _context_done(self) -> None:
        if self._prefetch is not None:
            self._prefetch.discard()


def _key(context: Mapping[str, t.Any]) -> str:
    return json.dumps(dict(context), sort_keys=True, default=str)

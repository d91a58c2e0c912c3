"""The SDK's record loop, a page at a time instead of a record at a time.

`Stream._sync_records` spends most of a sync on bookkeeping repeated for every
record: classifying the schema again (type conformance), a message object and a
flushed write, a state-dict lookup, a metrics call. `FastSyncStream` keeps what
the loop does -- post_process, child syncs, selection and deselection, stream
maps, type conformance, record counters, STATE cadence and bookmarks -- but works
on the records of one page at once (`get_record_batches`):

- conformance is compiled once per schema and checked for a whole page mostly in
  C (`conform.Conformer`); the SDK's own function runs only for records it would
  change;
- RECORD lines are encoded straight into the shared output buffer
  (`output.RecordLines`) and written out once per page;
- an unsorted stream's bookmark is the maximum replication-key value seen, so it
  is advanced once per page, with the page's maximum, after the page's records
  are written: a STATE message never covers a record that has not been written;
- the record counter is incremented once per page.

Anything this path does not cover (another message writer, a sorted stream, a
disabled sort check, `write_messages=False`) runs through the SDK's loop.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import typing as t
from operator import itemgetter

from singer_sdk.exceptions import InvalidStreamSortException
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from singer_sdk.streams.core import Stream

from tap_restoauth.records.conform import Conformer
from tap_restoauth.records.deletions import DeletedRecords
from tap_restoauth.sync import versions
from tap_restoauth.sync.output import BufferedWriter, RecordLines

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers import types
    from singer_sdk.mapper import StreamMap

_COMPARABLE = (str, int, float)

# Net allocations of tracked objects (containers) between two collections of the youngest
# generation while pages are synced (CPython's default: 700). See `_collect_past_pages`.
YOUNG_COLLECTION_THRESHOLD = 50_000


@contextlib.contextmanager
def _collect_past_pages() -> Iterator[None]:
    """While pages are synced, collect the youngest generation only past a page's worth of
    objects.

    A page's decoded records (a dict per record, a list per array value) live until the
    page is written, then die by reference counting. The collector counts allocations
    net of deallocations, so with its default threshold (700) it runs about twice per
    1,000-record page, traverses those live records, and promotes them to older
    generations that are traversed again: ~365 collections in a 200,000-record sync that
    found no garbage (2.2% of its instructions). Garbage cycles are still collected, once
    50,000 objects outlive their page instead of 700.
    """
    young, *older = gc.get_threshold()
    if young:  # 0: automatic collection is off, and stays off
        gc.set_threshold(max(young, YOUNG_COLLECTION_THRESHOLD), *older)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)


class _RecordPath:
    """Deselection, conformance, stream maps and encoding of one stream's records."""

    def __init__(self, stream: Stream, writer: BufferedWriter) -> None:
        mask = stream.mask
        top = {crumb[1] for crumb, selected in mask.items() if len(crumb) == 2 and not selected}
        self.schema = stream.schema
        self.mask = mask
        # Deselected nested properties (rare) are popped by the SDK's own function.
        self.pop_nested = any(
            len(crumb) > 2 and not selected and crumb[1] not in top for crumb, selected in mask.items()
        )
        self.conform = Conformer(
            stream.name,
            stream.effective_schema,
            level=stream.TYPE_CONFORMANCE_LEVEL,
            deselected=sorted(top),
            logger=stream.logger,
        )
        maps: list[StreamMap] = list(stream.stream_maps)
        self.identity = (
            len(maps) == 1 and type(maps[0]) is SameRecordTransform and not maps[0].flattening_enabled
        )
        self.maps = [(stream_map, RecordLines(writer, stream_map.stream_alias)) for stream_map in maps]
        self.writer = writer

    def write(self, records: list[dict[str, t.Any]], version: int | None) -> None:
        """Write the RECORD messages and flush: a page is on stdout before the next is requested."""
        try:
            self._encode(records, version)
        finally:
            self.writer.flush()

    def _encode(self, records: list[dict[str, t.Any]], version: int | None) -> None:
        if self.pop_nested:
            for record in records:
                pop_deselected_record_properties(record, self.schema, self.mask)
        conformed = self.conform.batch(records)
        if self.identity:
            self.maps[0][1].add_all(conformed, version)
            return
        for stream_map, lines in self.maps:
            mapped = [m for m in map(stream_map.transform, conformed) if m is not None]
            lines.add_all(mapped, version)


class FastSyncStream(Stream):
    """A Stream that syncs the records of a page together (see the module docstring).

    Subclasses implement `get_record_batches` (one list per page) instead of `get_records`.
    """

    _record_path: _RecordPath | None = None
    emits_records = True  # False: records are walked (bookmark, children) but not written (shards.py)
    unit_records = 0  # records written for the unit (stream or partition) being synced
    table_version: versions.TableVersion | None = None  # full-table versions (sync/versions.py)

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never the SDK's (an opening message on every run, none after): see sync/versions.py."""
        return False

    @contextlib.contextmanager
    def _sync_unit(self, context: types.Context | None) -> Iterator[bool]:
        """Wraps the sync of the whole stream (None) or one partition; yields whether to sync it.

        Every context the stream syncs passes here, whatever produced it (parent records,
        static partitions, state): the one place for sharding and the audit.
        """
        yield True

    def _write_schema_message(self) -> None:
        if self.emits_records:
            super()._write_schema_message()

    def _write_activate_version_message(self, full_table_version: int) -> None:
        if self.emits_records:
            super()._write_activate_version_message(full_table_version)

    def _write_record_message(self, record: types.Record) -> None:
        if self.emits_records:
            self.unit_records += 1
            super()._write_record_message(record)

    def get_record_batches(self, context: types.Context | None) -> Iterable[list[dict[str, t.Any]]]:
        """The stream's records, one list per page."""
        raise NotImplementedError

    def get_records(self, context: types.Context | None) -> Iterable[dict[str, t.Any]]:
        for batch in self.get_record_batches(context):
            if isinstance(batch, DeletedRecords):
                if self.selected:
                    for record in batch:
                        self._write_record_message(record)
                self._deletions_written(batch)
                continue
            yield from batch

    def _deletions_written(self, batch: DeletedRecords) -> None:
        """Deletion records are out: their own bookmark moves, in STATE now."""
        batch.done()
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _before_child_sync(
        self, batch: list[dict[str, t.Any]], index: int, child_context: types.Context | None
    ) -> None:
        """Hook called before the children of `batch[index]` are synced (e.g. to prefetch)."""

    def _context_done(self) -> None:
        """Hook called when the records of one context are done (or failed)."""

    def _fast_path(self) -> _RecordPath | None:
        writer = self._tap.message_writer
        if not isinstance(writer, BufferedWriter) or not self.check_sorted:
            return None
        if type(self).get_records is not FastSyncStream.get_records:
            return None  # records come from an overridden get_records: the SDK's loop reads them
        if self._record_path is None:
            self._record_path = _RecordPath(self, writer)
        return self._record_path

    def _advance_bookmark(self, records: list[dict[str, t.Any]], context: types.Context | None) -> None:
        """What `_increment_stream_state` per record would do, in one call when it can."""
        key = t.cast("str", self.replication_key)
        if self.is_sorted and self.state_partitioning_keys is None:
            highest = None  # a sorted stream checks every record's order: the SDK does it
        else:
            try:
                highest = max(map(itemgetter(key), records))
            except (KeyError, TypeError):  # a missing key, a None, mixed types: the SDK decides
                highest = None
        if highest.__class__ in _COMPARABLE:
            # Unsorted: the SDK keeps the maximum, so the page's maximum is the same result.
            self._increment_stream_state({key: highest}, context=context)
            return
        for record in records:
            self._increment_stream_state(record, context=context)

    def _prepare_batch(
        self,
        batch: list[dict[str, t.Any]],
        context: types.Context | None,
        child_context: types.Context | None,
        partition_context: types.Context | None,
        *,
        process: bool,
    ) -> list[dict[str, t.Any]]:
        """post_process, then the per-record part of the SDK's loop: context keys and child syncs."""
        if type(self).post_process is not Stream.post_process:
            processed = (self.post_process(record, context) for record in batch)
            batch = [record for record in processed if record is not None]
        if process:
            for index, record in enumerate(batch):
                self._before_child_sync(batch, index, child_context)
                try:
                    self._process_record(
                        record, child_context=child_context, partition_context=partition_context
                    )
                except InvalidStreamSortException as ex:  # pragma: no cover
                    self.state_manager.log_sort_error(
                        ex=ex,
                        record_count=index + 1,
                        partition_record_count=index + 1,
                        current_context=context,
                    )
                    raise
        return batch

    def _sync_records(
        self,
        context: types.Context | None = None,
        *,
        write_messages: bool = True,
    ) -> t.Generator[dict, t.Any, t.Any]:
        """Sync with the stream's full-table version, if any: closed only after a complete read."""
        table = self.table_version if write_messages else None
        if table is None:
            yield from self._sync_contexts(context, write_messages=write_messages)
            return
        table.begin(self)
        try:
            yield from self._sync_contexts(context, write_messages=write_messages)
        except BaseException:
            table.failed = True
            raise
        if context is None and self.parent_stream_type is None:
            versions.close_tree(self)

    def _sync_contexts(
        self,
        context: types.Context | None = None,
        *,
        write_messages: bool = True,
    ) -> t.Generator[dict, t.Any, t.Any]:
        path = self._fast_path() if write_messages else None
        context_list = [context] if context is not None else self.partitions
        if path is None:
            if context is None and not context_list:
                with self._sync_unit(None) as owned:
                    if owned:
                        yield from super()._sync_records(None, write_messages=write_messages)
                return
            for element in context_list or []:
                with self._sync_unit(element) as owned:
                    if owned:
                        yield from super()._sync_records(element, write_messages=write_messages)
            if context is None:
                self._finalize_state(self.stream_state)
                self._write_state_message()
            return

        record_counter = self.get_record_counter()
        timer = self.get_sync_timer()
        record_index = 0
        try:
            with record_counter, timer, _collect_past_pages():
                for context_element in context_list or [{}]:
                    with self._sync_unit(context_element or None) as owned:
                        if not owned:
                            continue
                        record_counter.with_context(context_element)
                        timer.with_context(context_element)
                        current_context = context_element or None
                        partition_context = self._get_state_partition_context(current_context)
                        self._write_starting_replication_value(current_context)
                        try:
                            record_index = self._sync_pages(
                                path, record_counter, record_index, current_context, partition_context
                            )
                        finally:
                            self._context_done()
                        if current_context == partition_context:
                            self._finalize_state(self.get_context_state(current_context))
            if not context:
                self._finalize_state(self.stream_state)
            self._write_state_message()
        finally:
            path.writer.flush()

    def _sync_pages(
        self,
        path: _RecordPath,
        record_counter: t.Any,
        record_index: int,
        context: types.Context | None,
        partition_context: types.Context | None,
    ) -> int:
        """The records of one context, a page at a time; returns the next record index.

        Unlike the SDK's loop, records are not yielded one by one: the only reader of a
        writing sync's records, `Stream.sync`, discards them (200,000 generator resumptions
        through three frames each, ~3% of a 200,000-record sync's loop, for nothing).
        """
        child_context = None if context is None else copy.copy(context)
        process = bool(self.child_streams or partition_context)
        selected = self.selected
        emits = self.emits_records
        abort_at = self.ABORT_AT_RECORD_COUNT
        frequency = self.STATE_MSG_FREQUENCY
        incremental = bool(self.replication_key and self.replication_method == REPLICATION_INCREMENTAL)
        state_manager = self.state_manager
        for page in self.get_record_batches(context):
            if isinstance(page, DeletedRecords):  # no bookmark of the stream's, no children
                if selected and emits and page:
                    path.write(page, self._stream_version)
                    self.unit_records += len(page)
                    record_counter.increment(len(page))
                self._deletions_written(page)
                continue
            limited = abort_at is not None and record_index + len(page) > abort_at
            batch = self._prepare_batch(
                page[: max(0, t.cast("int", abort_at) - record_index)] if limited else page,
                context,
                child_context,
                partition_context,
                process=process,
            )
            if selected and batch:
                if emits:
                    path.write(batch, self._stream_version)
                    self.unit_records += len(batch)
                    record_counter.increment(len(batch))
                state_manager.is_flushed = False
                if incremental:
                    self._advance_bookmark(batch, context)
                if (record_index + len(batch)) // frequency > record_index // frequency:
                    self._write_state_message()
            record_index += len(batch)
            if limited:
                self._check_max_record_limit(current_record_index=record_index)
        return record_index

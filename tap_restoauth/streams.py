"""The Singer stream for one configured endpoint."""

from __future__ import annotations

import functools
import logging
import sys
import typing as t
from collections.abc import Iterable, Iterator, Mapping

from singer_sdk.exceptions import InvalidStreamSortException

from tap_restoauth.errors import ApiError, TapRestOAuthError
from tap_restoauth.fetch.endpoint import Endpoint
from tap_restoauth.fetch.incremental import OlderThanBookmark
from tap_restoauth.http.urls import mask_url
from tap_restoauth.records.schema import is_timestamp
from tap_restoauth.sync import interrupt
from tap_restoauth.sync.fast_path import FastSyncStream
from tap_restoauth.sync.prefetch import ChildPrefetch
from tap_restoauth.sync.progress import Progress

if t.TYPE_CHECKING:
    from singer_sdk import Tap

    from tap_restoauth.config import StreamSettings
    from tap_restoauth.fetch.pagination import Page


class RestStream(FastSyncStream):
    """Records of one endpoint; children get one subclass each (the SDK wires parents by class).

    State: an incremental child stream keeps one bookmark per parent record (the
    SDK's state partitions, keyed by the child's context keys), so an interrupted run
    never skips the records of a parent it did not reach. A child without a
    replication key has nothing to bookmark: its state is not partitioned, which
    keeps STATE messages small however many parents there are.
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
            self.state_partitioning_keys = list(settings.context_keys) if settings.replication_key else []
        self._children_keys: dict[str, str] = {}
        self._warned_missing_bookmark_value = False

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Log, except the SDK's generic "unhandled error" line for an expected failure.

        `cli()` reports those as one line of their own; the SDK's line would be a second.
        """
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], TapRestOAuthError):
            return
        super().log(message, *args, level=level, **kwargs)

    def register_child(self, child: RestStream) -> None:
        """Remember which fields of this stream's records the child's context needs."""
        self._children_keys.update(child.settings.parent_keys)

    def get_record_batches(self, context: Mapping[str, t.Any] | None) -> Iterator[list[dict[str, t.Any]]]:
        """The records of each page, one list per page (`get_records` yields them one by one)."""
        extra: dict[str, t.Any] = {}
        keep: OlderThanBookmark | None = None
        if self.replication_key:
            timestamps = is_timestamp(self.schema, self.replication_key)
            start = (
                self.get_starting_timestamp(context)
                if timestamps
                else self.get_starting_replication_key_value(context)
            )
            if start is not None:
                keep = OlderThanBookmark(self.replication_key, start, timestamps=timestamps)
                incremental = self.settings.incremental
                if incremental and incremental.param:
                    extra[incremental.param] = incremental.render(start)
        progress = self.progress
        for page, records in self.endpoint.pages(context, extra):
            self._check_primary_keys(page, records)
            kept = records if keep is None else [record for record in records if keep.keeps(record)]
            if context:
                # The parent keys travel with each child record (the SDK adds only partition keys).
                for record in kept:
                    for key in self.settings.context_keys:
                        record.setdefault(key, context[key])
            yield kept
            interrupt.check()  # the page is written: a signal stops the stream here
            progress.page_done(self.name, len(kept))
            if self.replication_key and self.is_sorted and context is None:
                # The SDK writes STATE every 10,000 records. A sorted stream's bookmark is
                # resumable, so a STATE after each page lets a killed run resume from the
                # last record emitted. (Unsorted streams and per-parent partitions only
                # have a resumable bookmark once complete: they restart from it.)
                self._write_state_message()
        if keep and keep.dropped:
            self.logger.info(
                "%s: dropped %d records older than the bookmark (the API ignored the filter)",
                self.name,
                keep.dropped,
            )

    def _check_primary_keys(self, page: Page, records: list[dict[str, t.Any]]) -> None:
        """Reject a page with a record lacking a primary key before emitting any of it."""
        for record in records:
            for key in self.settings.primary_keys:
                if record.get(key) is None:
                    fields = ", ".join(list(record)[:12]) or "none"
                    raise ApiError(
                        f"{self.name}: a record in the response of {mask_url(page.url)} has no primary "
                        f"key {key!r} (its fields: {fields}); check primary_keys and records_path"
                    )

    @property
    def is_sorted(self) -> bool:
        """Records come in replication-key order (the `is_sorted` setting): resumable bookmarks."""
        settings = getattr(self, "settings", None)
        return bool(settings and settings.is_sorted)

    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Mapping[str, t.Any] | None = None
    ) -> None:
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
        try:
            super()._increment_stream_state(latest_record, context=context)
        except InvalidStreamSortException as exc:
            raise ApiError(
                f"{self.name}: is_sorted is set but the API returned records out of "
                f"{self.replication_key} order ({exc}); remove is_sorted from this stream"
            ) from None

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

"""Fetching child streams' pages for several parent records at once.

The SDK syncs a parent's children inline, one parent record at a time
(`_process_record` -> `_sync_children` -> `child.sync(context)`), so a child stream
over N parents waits for N round trips one after another. `ChildPrefetch` keeps
that order -- records, STATE and bookmarks are still produced by the SDK-driven
sync, parent by parent -- but before the children of a parent record are synced,
it starts fetching the first page of each child for the next few parent records
of the page (a window of 2 x `concurrency`) in a thread pool. When the child's sync
reaches that parent, `Endpoint.pages()` takes the page that is already there (or
waits for it) and walks any further pages itself.

Memory stays bounded by the window: at most that many first pages per child
stream are held. A prefetch is only a guess at the child's first request: when
the sync asks for a different one (e.g. a bookmark moved), the prefetched page is
discarded and the request is sent as usual. Children that send a bookmark or a
date window to the API read it when their sync starts, so they are not
prefetched.
"""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tap_restoauth.fetch.endpoint import Endpoint
    from tap_restoauth.sync.shards import Shards


class PrefetchStream(t.Protocol):
    """What a prefetch reads of a stream (streams.RestStream, parent or child)."""

    @property
    def name(self) -> str: ...

    @property
    def shards(self) -> Shards | None: ...

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def child_streams(self) -> Sequence[t.Any]: ...

    def child_context(
        self, record: dict[str, t.Any], context: Mapping[str, t.Any] | None
    ) -> dict[str, t.Any] | None: ...


class ChildPrefetch:
    """Prefetches the first child pages of the parent records ahead of the one being processed."""

    def __init__(
        self, parent: PrefetchStream, children: list[PrefetchStream], concurrency: int, spread: int = 1
    ) -> None:
        self.parent = parent
        self.children = children
        # With N shards, about 1 in N parent records has children to sync here: look N times as far.
        self.window = 2 * concurrency * spread
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"{parent.name}-children")
        self._batch: list[dict[str, t.Any]] | None = None
        self._next = 0

    @staticmethod
    def for_stream(parent: PrefetchStream, concurrency: int) -> ChildPrefetch | None:
        """A prefetcher for `parent`'s children, or None when there is nothing to prefetch."""
        if concurrency < 2:
            return None
        children = [
            child
            for child in parent.child_streams
            if (child.selected or child.has_selected_descendents) and _prefetchable(child)
        ]
        if not children:
            return None
        spread = parent.shards.count if parent.shards is not None else 1
        return ChildPrefetch(parent, t.cast("list[PrefetchStream]", children), concurrency, spread)

    def ahead(self, batch: list[dict[str, t.Any]], index: int, context: Mapping[str, t.Any] | None) -> None:
        """Make sure the children of `batch[index:index + window]` are being fetched."""
        if batch is not self._batch:
            self._batch, self._next = batch, 0
        end = min(len(batch), index + self.window)
        while self._next < end:
            child_context = self.parent.child_context(batch[self._next], context)
            self._next += 1
            if child_context is None:
                continue
            for child in self.children:
                if child.shards is None or child.shards.owns_context(child.name, child_context):
                    child.endpoint.prefetch(child_context, {}, self.pool)

    def discard(self) -> None:
        """Forget prefetches no child sync took (their futures are cancelled if not started)."""
        self._batch = None
        for child in self.children:
            child.endpoint.discard_prefetched()


def _prefetchable(child: t.Any) -> bool:
    settings = getattr(child, "settings", None)
    if settings is None or not hasattr(child, "endpoint"):
        return False
    return not (child.replication_key and settings.bookmark_in_request)

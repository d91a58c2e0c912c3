"""The date windows of every static partition in one ordered pipeline (export job streams).

The SDK syncs a stream's partitions one after another, so a job stream would wait for each
partition's jobs before it creates the next partition's: a daily run over 50 advertising
profiles, one new day each, would run 50 report jobs one at a time. When the first
partition starts, `PartitionsAhead` plans the windows of all partitions (each from its own
bookmark, as its sync will) and runs their jobs through one `in_order` pipeline,
`concurrency` at a time, in sync order: partition 1's windows, then partition 2's, ...
Each partition's sync takes its windows from the pipeline, so records, STATE and
bookmarks are produced exactly as without it, partition by partition, window by window.

Only an unsharded run uses it (a sharded run decides per window which shard owns it).
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence

from tap_restoauth.errors import ApiError
from tap_restoauth.fetch.windows import Window, in_order

R = t.TypeVar("R")
Planned = tuple[str, Mapping[str, t.Any], Window]  # (partition key, context, window)


class PartitionsAhead(t.Generic[R]):
    """One pipeline over (partition, window) pairs; each partition takes its own, in order."""

    def __init__(
        self,
        planned: Sequence[Planned],
        fetch: Callable[[Mapping[str, t.Any], Window, threading.Event], R],
        concurrency: int,
    ) -> None:
        self.abandoned = threading.Event()  # set when the run gives up: jobs being polled stop
        self._pipeline: Generator[tuple[Planned, R], None, None] = in_order(
            planned,
            lambda item: fetch(item[1], item[2], self.abandoned),
            concurrency,
            abandon=self.abandoned.set,
        )

    def take(self, key: str, windows: list[Window]) -> Iterator[tuple[Window, R]]:
        """The results of this partition's `windows`, in order (they must be the next planned)."""
        for window in windows:
            (planned_key, _, planned), result = next(self._pipeline)
            if (planned_key, planned.key) != (key, window.key):
                self.close()
                raise ApiError(
                    f"partition {key}: its windows changed since they were planned "
                    f"({window.key}, planned {planned.key}); run again"
                )
            yield window, result

    def close(self) -> None:
        """Give up what is under way (an error, or the run stopped)."""
        self._pipeline.close()

"""Readable progress: per-stream lines at intervals and a summary when the run ends.

The SDK's METRIC lines are machine-oriented; these say what an operator watching a
nightly job wants to know: how far each stream got and how fast.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

logger = logging.getLogger("tap_restoauth.sync.progress")


@dataclasses.dataclass
class _Counts:
    records: int = 0
    pages: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    updated: float = dataclasses.field(default_factory=time.monotonic)
    last_logged: float = float("-inf")  # the first page is always reported


class Progress:
    """Counts records and pages per stream; thread-safe."""

    def __init__(self, interval_seconds: float = 30.0) -> None:
        self.interval = interval_seconds
        self.started = time.monotonic()
        self._streams: dict[str, _Counts] = {}
        self._lock = threading.Lock()

    def page_done(self, stream: str, records: int) -> None:
        """Record one page of `records` emitted records; log if the interval has passed."""
        now = time.monotonic()
        with self._lock:
            counts = self._streams.setdefault(stream, _Counts())
            counts.records += records
            counts.pages += 1
            counts.updated = now
            due = now - counts.last_logged >= self.interval
            if due:
                counts.last_logged = now
                line = self._line(stream, counts)
        if due:
            logger.info("progress: %s", line)

    @staticmethod
    def _line(stream: str, counts: _Counts) -> str:
        elapsed = max(counts.updated - counts.started, 1e-3)
        return (
            f"{stream}: {counts.records:,} records, {counts.pages:,} pages, "
            f"{counts.records / elapsed:,.0f} records/s"
        )

    def summary(self) -> list[str]:
        """One line per stream plus a total."""
        now = time.monotonic()
        with self._lock:
            lines = [self._line(name, counts) for name, counts in sorted(self._streams.items())]
            total = sum(c.records for c in self._streams.values())
            pages = sum(c.pages for c in self._streams.values())
        lines.append(f"total: {total:,} records, {pages:,} pages in {now - self.started:,.1f}s")
        return lines

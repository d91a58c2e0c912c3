"""Readable progress: a start line per stream, lines at intervals, and a summary when the run ends.

The SDK's METRIC lines are machine-oriented (and go to DEBUG, see log_levels.py); these say
what an operator watching a nightly job wants to know: how far each stream got and how fast.

    users: started (incremental, updated_at >= 2024-01-01T00:00:00Z)
    progress: users: 52,000 records, 520 pages, 1,733 records/s
    summary: users: 120,000 records, 1,200 pages in 61.2s, 1,961 records/s

A rate is given only once a stream has run for `MIN_RATE_SECONDS`: after one page it says nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

logger = logging.getLogger("tap_restoauth.sync.progress")

MIN_RATE_SECONDS = 1.0


@dataclasses.dataclass
class _Counts:
    """One stream's (or the run's) records and pages so far, since `started`."""

    records: int = 0
    pages: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    updated: float = dataclasses.field(default_factory=time.monotonic)
    last_logged: float = dataclasses.field(default_factory=time.monotonic)


class Progress:
    """Counts records and pages per stream; thread-safe."""

    def __init__(self, interval_seconds: float = 30.0) -> None:
        self.interval = interval_seconds
        self.started = time.monotonic()
        self._streams: dict[str, _Counts] = {}
        self._lock = threading.Lock()

    def stream_started(self, stream: str, detail: str) -> None:
        """Log `stream: started (detail)` the first time a stream asks for records, then never again."""
        with self._lock:
            if stream in self._streams:
                return
            self._streams[stream] = _Counts()
        logger.info("%s: started (%s)", stream, detail)

    def stream_names(self) -> list[str]:
        """The streams that asked for records so far, in the order they started."""
        with self._lock:
            return list(self._streams)

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
    def _line(stream: str, counts: _Counts, *, elapsed: bool = False) -> str:
        seconds = counts.updated - counts.started
        line = f"{stream}: {counts.records:,} records, {counts.pages:,} pages"
        if elapsed:
            line += f" in {_duration(seconds)}"
        if seconds >= MIN_RATE_SECONDS:
            line += f", {counts.records / seconds:,.0f} records/s"
        return line

    def summary(self) -> list[str]:
        """One line per stream plus a total."""
        now = time.monotonic()
        with self._lock:
            lines = [self._line(name, c, elapsed=True) for name, c in sorted(self._streams.items())]
            total = sum(c.records for c in self._streams.values())
            pages = sum(c.pages for c in self._streams.values())
        lines.append(f"total: {total:,} records, {pages:,} pages in {_duration(now - self.started)}")
        return lines


def _duration(seconds: float) -> str:
    return f"{seconds:,.1f}s" if seconds >= 0.1 else "under 0.1s"

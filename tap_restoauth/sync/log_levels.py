"""A quiet INFO log: the SDK's per-context and per-metric lines moved to DEBUG.

At INFO a run logs a handful of lines per stream (started, progress every
`progress_interval_seconds`, a summary with counts) plus warnings that need action.
The SDK would add, per parent record of a child stream, a "Beginning sync" line and
two METRIC lines, and an "assumed to be unsorted" warning nobody can act on; those
go to DEBUG here. `metrics_log_level: INFO` brings the METRIC lines back:

    {"metrics_log_level": "INFO"}      # METRIC: {"type": "counter", ...} lines at INFO again
"""

from __future__ import annotations

import logging

METRICS_LOGGER = "singer_sdk.metrics"

# (logger name or prefix ending in ".", start of the message) -> shown at DEBUG only.
_DEMOTED: tuple[tuple[str, str], ...] = (
    ("tap-restoauth.", "Beginning sync of "),  # once per stream and parent context
    ("tap-restoauth.", "Starting incremental sync of "),  # once per state partition
    ("singer_sdk", "Stream is assumed to be unsorted"),  # the default; `is_sorted` documents it
    ("tap-restoauth", "Added '"),  # "Added 'x' as child stream to 'y'", at every start
    ("tap-restoauth", "Skipping parse of env var settings"),
    ("tap-restoauth", "Parsing env var for settings config"),
)


class Demote(logging.Filter):
    """Handler filter: lower the SDK's noisy records, then drop them unless their logger shows that level."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics_level = logging.DEBUG

    def filter(self, record: logging.LogRecord) -> bool:
        level = self._level(record)
        if level is None:
            return True
        if level < record.levelno:
            record.levelno = level
            record.levelname = logging.getLevelName(level)
        # Decided on the record's (possibly lowered) level: every handler decides the same way.
        return logging.getLogger(record.name).isEnabledFor(record.levelno)

    def _level(self, record: logging.LogRecord) -> int | None:
        if record.name == METRICS_LOGGER:
            return self.metrics_level
        if record.levelno > logging.WARNING:
            return None
        message = str(record.msg)
        for name, start in _DEMOTED:
            matches_name = record.name.startswith(name) if name.endswith(".") else record.name == name
            if matches_name and message.startswith(start):
                return logging.DEBUG
        return None


DEMOTE = Demote()


def install() -> None:
    """Filter every handler of the root logger (the SDK's console handler)."""
    for handler in logging.getLogger().handlers:
        if DEMOTE not in handler.filters:
            handler.addFilter(DEMOTE)


def set_metrics_level(name: str) -> None:
    """`metrics_log_level`: DEBUG (default) or INFO; validated by the settings parser."""
    DEMOTE.metrics_level = logging.getLevelName(name.upper())

"""Keep secret values out of every log line and error message.

Every secret the tap reads or receives (client secrets, passwords, access and
refresh tokens) is registered here; a logging filter and the error reporter
replace any registered value with `***` before text leaves the process. This is
defence in depth: code also avoids formatting secrets in the first place.
"""

from __future__ import annotations

import logging
import re
import threading
import typing as t

_MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words
_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: t.Any) -> None:
    """Treat `value` (if a usable string) as secret from now on."""
    register_all((value,))


def register_all(values: t.Iterable[t.Any]) -> None:
    """Register several values with one recompilation (each costs ~2 ms per 1000 characters)."""
    global _pattern  # noqa: PLW0603 - one process-wide registry
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_LENGTH}
    with _lock:
        if new <= _values:
            return
        _values.update(new)
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    pattern = _pattern
    return pattern.sub(_MASK, text) if pattern else text


class RedactingFilter(logging.Filter):
    """Rewrites a record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            cleaned = cleaned + "\n" + redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Mask secrets in every log record created from now on, whichever logger makes it."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_redacting", False):
        return
    redacting = RedactingFilter()

    def redacting_factory(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redacting.filter(record)
        return record

    redacting_factory._redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


def excerpt(text: str, limit: int = 160) -> str:
    """A short single-line excerpt of a response body, with secrets masked."""
    flat = redact(" ".join(text.split()))
    return (flat[:limit] + "...") if len(flat) > limit else (flat or "(empty body)")

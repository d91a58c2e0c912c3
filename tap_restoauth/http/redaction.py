"""Keep secret values out of every log line and error message, in every encoding.

Every secret the tap reads or receives (client secrets, passwords, API keys,
access and refresh tokens) is registered here; a logging filter and the error
reporter replace any registered value with `***` before text leaves the process.
A value is registered in each form it can take on the way out: raw, URL-encoded
(`quote` and `quote_plus`, as in a query string or a form body, hex digits in
either case), JSON-escaped, and Python-repr-escaped (a header value in an
exception); `register_basic` adds the base64 of a ``user:password`` pair. This is
defence in depth: code also avoids formatting secrets in the first place.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import types
import typing as t
from urllib.parse import quote, quote_plus

_MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words
_lock = threading.Lock()
_values: set[str] = set()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None
_PERCENT = re.compile(r"%([0-9A-F])([0-9A-F])")


def encodings(value: str) -> set[str]:
    """The forms `value` takes in URLs, form bodies, JSON and Python reprs."""
    json_escaped = json.dumps(value)[1:-1]
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json_escaped,
        json_escaped.replace("/", "\\/"),  # JSON encoders that escape the solidus
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }


def _as_regex(form: str) -> str:
    """`form` as a regular expression in which percent-escapes match in either case."""
    escaped = re.escape(form)
    return _PERCENT.sub(lambda m: f"%[{m[1]}{m[1].lower()}][{m[2]}{m[2].lower()}]", escaped)


def register(value: t.Any) -> None:
    """Treat `value` (if a usable string) as secret from now on, in each of its encodings."""
    register_all((value,))


def register_all(values: t.Iterable[t.Any]) -> None:
    """Register several values with one recompilation (each costs ~2 ms per 1000 characters)."""
    global _pattern  # noqa: PLW0603 - one process-wide registry
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_LENGTH}
    with _lock:
        if new <= _values:
            return
        _values.update(new)
        _forms.update(form for value in new for form in encodings(value) if len(form) >= _MIN_LENGTH)
        ordered = sorted(_forms, key=len, reverse=True)
        _pattern = re.compile("|".join(_as_regex(form) for form in ordered))


def register_basic(username: str, password: str) -> None:
    """Register the base64 ``user:password`` pair of an HTTP Basic header (and the password)."""
    register(password)
    register(base64.b64encode(f"{username}:{password}".encode()).decode())


def is_secret(value: str) -> bool:
    """Whether `value` contains a registered secret in any of its forms."""
    pattern = _pattern
    return bool(pattern and pattern.search(value))


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
    """Mask secrets in every log record created from now on, whichever logger makes it,
    and in the traceback of any exception that reaches the interpreter."""
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
    sys.excepthook = _redacting_excepthook
    threading.excepthook = _redacting_thread_excepthook


def _redacting_excepthook(
    kind: type[BaseException], exc: BaseException | None, trace: types.TracebackType | None
) -> None:
    text = logging.Formatter().formatException((kind, exc, trace))  # type: ignore[arg-type]
    sys.stderr.write(redact(text) + "\n")


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit:
        _redacting_excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def excerpt(text: str, limit: int = 160) -> str:
    """A short single-line excerpt of a response body, with secrets masked.

    Only the part that can reach the excerpt is searched, however large the body: each
    mask shortens the text by at most the longest registered form, so `limit`
    characters of masked text come from at most this window of the body, and a secret
    starting in it ends in it.
    """
    flat = " ".join(text.split())
    longest = max(map(len, _forms), default=0)
    window = flat[: limit + (limit // len(_MASK) + 2) * longest]
    shown = redact(window)
    if len(shown) > limit or len(flat) > len(window):
        return shown[:limit] + "..."
    return shown or "(empty body)"

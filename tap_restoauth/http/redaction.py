"""The one exit for user-visible text: secrets masked, control characters gone, length capped.

Every secret the tap reads or receives (client secrets, passwords, API keys, access
and refresh tokens) is registered here, in each form it can take on the way out: raw,
URL-encoded (`quote` and `quote_plus`, hex digits in either case), JSON-escaped, and
Python-repr-escaped (a header value in an exception); `register_basic` adds the base64
of a ``user:password`` pair. `clean` is what every error line, log record, `_audit`
`error` field and exception text passes before it leaves the process::

    clean('HTTP 400: {"you_sent": "CS+secret"}\\ntap-restoauth: error: forged')
    -> 'HTTP 400: {"you_sent": "***"} tap-restoauth: error: forged'   # one line, masked

Matching costs the same however many secrets are registered: each form is indexed by
its first four characters and stored as (length, hash); one regular expression, a trie
of those four-character keys (so each position of the text costs the same whatever
their number), finds the candidate positions, and a candidate costs one hash per
distinct length. The expression is rebuilt only when a secret with a new key arrives.
Tokens received while running (`register_token`) stay masked for the `MAX_TOKENS`
most recent: a token renewed before every request keeps its superseded values masked
in bounded space. Values longer than `MAX_SECRET_CHARS` are never registered: every
credential is checked against that size first (auth/credential.py) and refused.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import re
import sys
import threading
import types
import typing as t
from urllib.parse import quote, quote_plus

_MASK = "***"
_KEY = 4  # characters a form is indexed by; shorter values would mask ordinary words
MESSAGE_LIMIT = 500  # characters of an error line or `_audit` error
LOG_LIMIT = 2000  # characters of a log record (a traceback at DEBUG included)
MAX_SECRET_CHARS = 64 * 1024  # no token or key is larger; a larger one is refused
MAX_TOKENS = 64  # received tokens kept masked (the newest); configured secrets are never dropped
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1 (NEL), line separators
_PERCENT = re.compile(r"%[0-9A-F]{2}")

_lock = threading.Lock()
_counts: dict[str, dict[int, collections.Counter[int]]] = {}  # key -> length -> hash counts
_index: dict[str, tuple[tuple[int, frozenset[int]], ...]] = {}  # key -> (length, hashes), longest first
_values: set[str] = set()
_tokens: collections.OrderedDict[str, None] = collections.OrderedDict()
_longest = 0
# Configured secrets and received tokens have a finder each (a trie of their keys), so a token
# renewal recompiles only the tokens' one, whose size MAX_TOKENS bounds.
_keys: dict[str, collections.Counter[str]] = {
    "values": collections.Counter(),
    "tokens": collections.Counter(),
}
_finders: dict[str, re.Pattern[str] | None] = {"values": None, "tokens": None}  # None: rebuild


def encodings(value: str) -> set[str]:
    """The forms `value` takes in URLs, form bodies, JSON and Python reprs."""
    json_escaped = json.dumps(value)[1:-1]
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json_escaped,
        json_escaped.replace("/", "\\/"),  # JSON encoders that escape the solidus
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }
    forms |= {_PERCENT.sub(lambda m: m[0].lower(), form) for form in forms if "%" in form}
    forms |= {_CONTROL.sub(" ", form) for form in forms}  # as `clean` shows a multi-line value
    return {form for form in forms if len(form) >= _KEY}


def _entries(value: str) -> list[tuple[str, int, int]]:
    return [(form[:_KEY], len(form), hash(form)) for form in encodings(value)]


def _change(entries: t.Iterable[tuple[str, int, int]], delta: int, kind: str) -> None:
    """Add (delta 1) or remove (-1) index entries; readers see each key's tuple swapped whole."""
    global _longest  # noqa: PLW0603 - one process-wide registry
    touched = set()
    keys = _keys[kind]
    for key, length, digest in entries:
        counts = _counts.setdefault(key, {}).setdefault(length, collections.Counter())
        counts[digest] += delta
        if counts[digest] <= 0:
            del counts[digest]
        keys[key] += delta
        if keys[key] <= 0:
            del keys[key]
            _finders[kind] = None
        elif keys[key] == delta:
            _finders[kind] = None
        touched.add(key)
        if delta > 0:
            _longest = max(_longest, length)
    for key in touched:
        lengths = {length: frozenset(c) for length, c in _counts[key].items() if c}
        if lengths:
            _index[key] = tuple(sorted(lengths.items(), reverse=True))
        else:
            _index.pop(key, None)
            del _counts[key]


def _trie(keys: t.Iterable[str]) -> str:
    """A regular expression matching exactly `keys` (all `_KEY` long), branching once per prefix."""
    root: dict[str, t.Any] = {}
    for key in keys:
        node = root
        for char in key:
            node = node.setdefault(char, {})

    def emit(node: dict[str, t.Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")" if branches else ""

    return emit(root)


def _candidates() -> list[re.Pattern[str]]:
    """The finders of configured secrets and of tokens (those with keys), rebuilt if stale."""
    found = []
    for kind in ("values", "tokens"):
        finder = _finders[kind]
        if finder is None and _keys[kind]:
            with _lock:
                finder = _finders[kind] = re.compile(_trie(list(_keys[kind])))
        if finder is not None and _keys[kind]:
            found.append(finder)
    return found


def register(value: t.Any) -> None:
    """Treat `value` (if a usable string) as secret for the rest of the run, in each of its encodings."""
    register_all((value,))


def register_all(values: t.Iterable[t.Any]) -> None:
    """Register several configured secrets (never dropped)."""
    new = {v for v in values if isinstance(v, str) and len(v) >= _KEY and len(v) <= MAX_SECRET_CHARS}
    with _lock:
        new -= _values
        if new:
            _tokens_forget(new)
            _values.update(new)
            _change((entry for value in new for entry in _entries(value)), 1, "values")


def register_token(value: t.Any) -> None:
    """Register a token received while running; the `MAX_TOKENS` newest stay masked."""
    if not isinstance(value, str) or len(value) < _KEY or len(value) > MAX_SECRET_CHARS:
        return
    with _lock:
        if value in _values:
            return
        if value in _tokens:
            _tokens.move_to_end(value)
            return
        _tokens[value] = None
        _change(_entries(value), 1, "tokens")
        while len(_tokens) > MAX_TOKENS:
            oldest, _ = _tokens.popitem(last=False)
            _change(_entries(oldest), -1, "tokens")


def _tokens_forget(values: set[str]) -> None:
    for value in values & _tokens.keys():
        del _tokens[value]
        _change(_entries(value), -1, "tokens")


def register_basic(username: str, password: str) -> None:
    """Register the base64 ``user:password`` pair of an HTTP Basic header (and the password)."""
    register(password)
    register(base64.b64encode(f"{username}:{password}".encode()).decode())


def _secret_at(text: str, at: int) -> int:
    """The length of the longest registered form starting at `at` (0 if none)."""
    found = _index.get(text[at : at + _KEY])
    if found:
        for length, digests in found:
            if at + length <= len(text) and hash(text[at : at + length]) in digests:
                return length
    return 0


def _mask(text: str, limit: int | None = None, *, complete: bool = True) -> tuple[str, int]:
    """(`text` masked, at most ~`limit` characters of it, how many characters of `text` that covers).

    With `complete=False` `text` is the start of a longer text: its last `_longest`
    characters are left out, since a secret starting there may end beyond it.
    """
    horizon = len(text) if complete else max(0, len(text) - _longest)
    room = horizon if limit is None else limit
    if not _index:
        end = min(horizon, room)
        return text[:end], end
    finders = _candidates()
    upcoming = [-1] * len(finders)  # each finder's next hit at or after `at` (len(text): none)
    out: list[str] = []
    shown = start = at = 0
    end = min(horizon, len(text) - _KEY + 1)
    while at < end and shown + at - start < room:
        for number, finder in enumerate(finders):
            if upcoming[number] < at:
                hit = finder.search(text, at, end + _KEY - 1)
                upcoming[number] = hit.start() if hit else len(text)
        at = min(upcoming, default=len(text))
        if at >= end or at - start + shown >= room:
            break
        length = _secret_at(text, at)
        if length:
            out.append(text[start:at])
            out.append(_MASK)
            shown += at - start + len(_MASK)
            at = start = at + length
        else:
            at += 1
    stop = min(horizon, start + max(0, room - shown))
    out.append(text[start:stop])
    return "".join(out), max(stop, start)


def is_secret(value: str) -> bool:
    """Whether `value` contains a registered secret in any of its forms."""
    return bool(_index) and any(
        _secret_at(value, hit.start()) for finder in _candidates() for hit in finder.finditer(value)
    )


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***` (whole: for text `clean` gets later)."""
    return _mask(text)[0]


def _window(text: str, limit: int) -> tuple[str, bool]:
    """The start of `text` that can reach `limit` shown characters, and whether it is all of it."""
    size = limit + 4 * _longest + _KEY
    return (text, True) if len(text) <= size else (text[:size], False)


def clean(text: t.Any, limit: int = MESSAGE_LIMIT) -> str:
    """`text` as it may leave the process: secrets masked, one line, at most ~`limit` characters.

    Control characters (CR, LF, NUL, ESC, NEL, U+2028...) become spaces before masking,
    so a value cannot start a forged ``tap-restoauth: error:`` line; a cut is marked
    with how much was left out. Only the start of a long text is scanned.
    """
    text = text if isinstance(text, str) else str(text)
    window, complete = _window(text, limit)
    masked, used = _mask(_CONTROL.sub(" ", window), limit, complete=complete)
    left = len(text) - used
    return f"{masked}... [{left} more characters cut]" if left > 0 else masked


def excerpt(text: str, limit: int = 160) -> str:
    """A short single-line excerpt of a response body (whitespace runs as one space), masked."""
    window, complete = _window(text, 4 * limit)
    flat = " ".join(_CONTROL.sub(" ", window).split())
    shown, used = _mask(flat, limit, complete=complete)
    if used < len(flat) or not complete:
        return shown + "..."
    return shown or "(empty body)"


class RedactingFilter(logging.Filter):
    """Rewrites a record's final message (and its traceback) through `clean`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += " | " + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        cleaned = clean(message, LOG_LIMIT)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Clean every log record created from now on, whichever logger makes it, and the
    report of any exception that reaches the interpreter."""
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
    sys.stderr.write(clean(text, LOG_LIMIT) + "\n")


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit:
        _redacting_excepthook(args.exc_type, args.exc_value, args.exc_traceback)

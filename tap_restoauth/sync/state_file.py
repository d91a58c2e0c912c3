"""The `--state` file, checked before the SDK reads it.

The SDK loads it with a bare `json.load` and indexes into it, so a truncated file
(a run killed while a wrapper wrote it) or one of the wrong shape is a traceback.
Here it is one line naming the file and what is wrong. The Singer shape::

    {"bookmarks": {"users": {"replication_key": "updated_at",
                             "replication_key_value": "2024-05-01T00:00:00Z"}},
     "currently_syncing": null}
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Sequence
from pathlib import Path

from tap_restoauth.errors import ConfigError


def state_path(argv: Sequence[str]) -> str | None:
    """The value of `--state` in a command line, if any."""
    for index, argument in enumerate(argv):
        if argument == "--state" and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith("--state="):
            return argument.split("=", 1)[1]
    return None


def check_state_file(path: str) -> None:
    """Raise ConfigError when `path` cannot be read or is not a Singer state object."""
    where = f"--state {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the state file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: the state file is not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"{where}: the state file is empty (expected a JSON object such as {{}})")
    try:
        state = json.loads(text)
    except RecursionError:
        raise ConfigError(f"{where}: the state file nests JSON too deep to be a Singer state") from None
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise ConfigError(
            f"{where}: the state file is not valid JSON ({detail}); was it cut short? "
            "Restore the previous state or run without --state for a full sync"
        ) from None
    problem = _shape_problem(state)
    if problem:
        raise ConfigError(f"{where}: not a Singer state: {problem}")


def _shape_problem(state: t.Any) -> str | None:
    if not isinstance(state, dict):
        return f"expected a JSON object, got {_kind(state)}"
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return f'"bookmarks" should be an object (stream name -> bookmark), got {_kind(bookmarks)}'
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            return f'"bookmarks"."{stream}" should be an object, got {_kind(bookmark)}'
        partitions = bookmark.get("partitions", [])
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            return f'"bookmarks"."{stream}"."partitions" should be a list of objects'
        for where in (bookmark, *partitions):
            value = where.get("replication_key_value")
            if isinstance(value, (dict, list, bool)):
                got = _kind(value)
                return (
                    f'"bookmarks"."{stream}": a replication_key_value should be text or a number, got {got}'
                )
    current = state.get("currently_syncing")
    if current is not None and not isinstance(current, str):
        return f'"currently_syncing" should be a stream name or null, got {_kind(current)}'
    return None


def _kind(value: t.Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )

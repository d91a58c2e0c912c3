"""JSONPath evaluation with a fast path for the simple paths most APIs need.

`$.data[*]`, `$.meta.next` and `$[*]` are plain key walks; evaluating them with a
JSONPath engine costs microseconds per page that a key lookup does not. Anything
else is handed to jsonpath-ng.
"""

from __future__ import annotations

import functools
import re
import typing as t
from collections.abc import Callable

from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

from tap_restoauth.errors import ConfigError

Matcher = Callable[[t.Any], list[t.Any]]

_SIMPLE = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_\-]*)*)(\[\*\])?$")


@functools.lru_cache(maxsize=512)
def compile_path(expression: str, where: str) -> Matcher:
    """Compile `expression` into a function returning the list of matches.

    `where` names the setting, so a bad expression is reported against it.
    """
    simple = _SIMPLE.match(expression)
    if simple:
        keys = [key for key in simple.group(1).split(".") if key]
        return _key_walk(keys, explode=bool(simple.group(2)))
    try:
        compiled = parse_jsonpath(expression)
    except (JsonPathParserError, Exception) as exc:
        raise ConfigError(f"{where}: invalid JSONPath {expression!r} ({exc})") from None
    return lambda document: [match.value for match in compiled.find(document)]


def _key_walk(keys: list[str], *, explode: bool) -> Matcher:
    def find(document: t.Any) -> list[t.Any]:
        node = document
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return []
            node = node[key]
        if explode:
            return node if isinstance(node, list) else []
        return [node]

    return find


def first_match(matcher: Matcher, document: t.Any) -> t.Any:
    """The first value `matcher` finds in `document`, or None."""
    found = matcher(document)
    return found[0] if found else None

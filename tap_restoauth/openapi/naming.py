"""Stream names from paths: unique, snake_case, read like the resource.

``/v1/customers`` → ``customers``; ``/repos/{owner}/{repo}/issues`` → ``repo_issues``
(the parameter just before the resource names its owner); ``/api/v2/pokemon/`` →
``pokemon``; ``/v1/charges/search`` → ``charges_search`` (a generic last word keeps the one
before it). Version segments (``v1``, ``2010-04``, ``api``) are dropped. A name
already taken grows by the segment before it, then by a number.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"^(v\d+(\.\d+)*|\d{4}-\d{2}(-\d{2})?|api|rest)$", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
GENERIC = frozenset({"search", "list", "all", "query", "find", "export", "history", "items", "entries"})
_ID_SUFFIX = re.compile(r"_(id|number|name|key|slug|uuid)$")


def snake(text: str) -> str:
    """``workflowRuns`` → ``workflow_runs``; ``@odata.nextLink`` → ``odata_next_link``."""
    return _NOT_WORD.sub("_", _CAMEL.sub("_", text).lower()).strip("_")


def segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def candidates(path: str) -> list[str]:
    """Names for `path`, shortest first."""
    words = [snake(s.strip("{}")) for s in segments(path) if not _VERSION.match(s) and snake(s.strip("{}"))]
    statics = [snake(s) for s in segments(path) if not is_parameter(s) and not _VERSION.match(s) and snake(s)]
    if not words:
        return ["root"]
    names = []
    last = len(words) - 1
    first = words[last]
    if is_parameter(segments(path)[-1]) and statics:
        first = statics[-1] + "_" + words[last]
    parts = [s for s in segments(path) if not _VERSION.match(s)]
    generic_after_static = len(parts) > 1 and not is_parameter(parts[-2]) and words[-1] in GENERIC
    if len(words) > 1 and generic_after_static and not is_parameter(segments(path)[-1]):
        first = f"{words[-2]}_{words[-1]}"  # /v1/charges/search -> charges_search
    elif len(words) > 1 and not is_parameter(segments(path)[-1]):
        first = _with_owner(path, words)
    names.append(first)
    for start in range(last - 1, -1, -1):
        names.append("_".join(words[start:]))
    return list(dict.fromkeys(names))


def _with_owner(path: str, words: list[str]) -> str:
    """``repo_issues`` when a parameter precedes the resource, else the resource alone."""
    parts = [s for s in segments(path) if not _VERSION.match(s)]
    if len(parts) >= 2 and is_parameter(parts[-2]):
        owner = _ID_SUFFIX.sub("", snake(parts[-2].strip("{}"))) or snake(parts[-2].strip("{}"))
        return f"{owner}_{words[-1]}"
    return words[-1]


class Names:
    """Hands out unique stream names."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def name(self, path: str) -> str:
        options = candidates(path)
        for option in options:
            if option not in self.taken:
                self.taken.add(option)
                return option
        number = 2
        while f"{options[0]}_{number}" in self.taken:
            number += 1
        self.taken.add(f"{options[0]}_{number}")
        return f"{options[0]}_{number}"

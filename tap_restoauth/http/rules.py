"""Response rules: what to do with an answer the API gives, decided by status and body.

Many APIs do not say what they mean with the status alone: an error inside a
200, a "rate limit" message in a 400, a 404 for a parent with no children. A rule
names the answers it matches and the action to take; the rules of a stream, then
the top-level ones, are tried in order before the built-in handling (retry 429 and
5xx, fail on other 4xx), and the first match decides::

    response_rules:
      - {status: 200, body_path: "$.error.code", equals: "rate_limited", action: retry}
      - {status: 400, contains: "rate limit", action: retry}
      - {status: [403, 404], action: ignore}
      - {status: "4xx", body_path: "$.error.code", equals: "quota_exceeded", action: stop}
      - {body_path: "$.error", action: fail}

A rule with a `body_path` and neither `equals` nor `contains` matches when the path
finds a value that is not null, false or empty. `contains` without `body_path`
searches the whole body text. Actions: `retry` (as for a 503: backoff or
Retry-After, up to max_retries), `ignore` (skip the page, keep going), `fail` (stop
the run with the API's own message), `refresh_token` (obtain a new access token
and resend, once), `stop` (the quota is exhausted: wait for its reset if the API
says it comes within max_retry_after_seconds, else end the run early, resumably;
see `on_quota_exhausted`).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Mapping

import msgspec

from tap_restoauth import options
from tap_restoauth.errors import ConfigError
from tap_restoauth.http import limits
from tap_restoauth.records.jsonpath import Matcher, compile_path

if t.TYPE_CHECKING:
    import requests

Action = t.Literal["retry", "ignore", "fail", "refresh_token", "stop"]

# Where APIs put a human-readable error message, tried in order for a `fail` line.
MESSAGE_PATHS = (
    "$.error.message",
    "$.error_description",
    "$.message",
    "$.error.description",
    "$.errors[0].message",
    "$.errors[0].detail",
    "$.detail",
    "$.error",
    "$.fault.faultstring",
)

_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


class ResponseBody:
    """A response's body as text and JSON, each decoded at most once, on demand.

    Not `readable` for a streamed download that is not an error: rules that read the
    body then do not apply (reading it would load the whole file). A streamed body a
    rule reads is read like any page: at most `max_response_mb` after decompression,
    within `request_deadline_seconds` (http/limits.py), else one ApiError line.
    """

    def __init__(self, response: requests.Response, *, readable: bool = True) -> None:
        self.response = response
        self.readable = readable
        self._json: t.Any = None
        self._decoded = False

    @property
    def text(self) -> str:
        if not self.readable:
            return ""
        limits.read_streamed(self.response)
        return self.response.text

    def cached_json(self) -> t.Any:
        """The JSON body if a rule already decoded it, else None."""
        return self._json

    @property
    def json(self) -> t.Any:
        """The decoded JSON body, or None when it is not JSON (or too large to read)."""
        if not self._decoded:
            self._decoded = True
            if self.readable:
                try:
                    self._json = limits.decode(limits.read_streamed(self.response))  # as pages are
                except (msgspec.DecodeError, limits.BadDocument):
                    self._json = None
        return self._json


@dataclasses.dataclass(frozen=True)
class _RawRule:
    """A rule as written; see the module docstring."""

    action: Action
    status: t.Any = None
    body_path: str | None = None
    equals: t.Any = None
    contains: str | None = None
    message_path: str | None = None


@dataclasses.dataclass(frozen=True)
class ResponseRule:
    """One compiled rule; `label` names it in log lines and errors (e.g. `response_rules[2]`)."""

    action: Action
    label: str
    statuses: frozenset[int] = frozenset()
    classes: frozenset[int] = frozenset()  # 4 for "4xx"
    body_path: Matcher | None = None
    equals: t.Any = None
    contains: str | None = None
    message_path: Matcher | None = None

    @property
    def reads_body(self) -> bool:
        return self.body_path is not None or self.contains is not None

    def status_matches(self, status: int) -> bool:
        if not self.statuses and not self.classes:
            return True
        return status in self.statuses or status // 100 in self.classes

    def matches(self, status: int, body: ResponseBody) -> bool:
        if not self.status_matches(status):
            return False
        if self.body_path is None:
            return self.contains is None or self.contains.lower() in body.text.lower()
        found = self.body_path(body.json) if body.json is not None else []
        if self.equals is not None:
            return any(_same(value, self.equals) for value in found)
        if self.contains is not None:
            return any(self.contains.lower() in _text(value).lower() for value in found)
        return any(value not in (None, False, "", [], {}) for value in found)

    def message(self, body: ResponseBody) -> str:
        """The API's own words for this answer: the rule's `message_path`, a usual field, or the body."""
        document = body.json
        if document is not None:
            paths = [self.message_path] if self.message_path else []
            paths += [compile_path(p, "message") for p in MESSAGE_PATHS]
            for path in paths:
                found = [v for v in path(document) if v not in (None, "", [], {})]
                if found and not isinstance(found[0], (dict, list)):
                    return _text(found[0])
            if self.body_path is not None:
                found = self.body_path(document)
                if found:
                    return _text(found[0])
        return body.text


def _same(value: t.Any, expected: t.Any) -> bool:
    if isinstance(expected, str) and not isinstance(value, str):
        return _text(value) == expected
    return bool(value == expected)


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclasses.dataclass(frozen=True)
class ResponseRules:
    """The rules that apply to one stream's responses, in the order they are tried."""

    rules: tuple[ResponseRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, status: int, body: ResponseBody) -> ResponseRule | None:
        """The first rule matching the answer, or None (the built-in handling applies)."""
        for rule in self.rules:
            if rule.reads_body and not body.readable:
                continue
            if rule.matches(status, body):
                return rule
        return None

    def __add__(self, other: ResponseRules) -> ResponseRules:
        return ResponseRules(self.rules + other.rules)


NO_RULES = ResponseRules()


def parse_rules(value: t.Any, where: str) -> ResponseRules:
    """Compile a `response_rules` list; raises ConfigError naming the bad rule."""
    if value is None:
        return NO_RULES
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of rules such as [{{status: 404, action: ignore}}]")
    return ResponseRules(tuple(_rule(raw, f"{where}[{i}]") for i, raw in enumerate(value)))


def ignore_statuses_rule(statuses: t.Collection[int]) -> ResponseRules:
    """`ignore_statuses: [404]` is shorthand for `response_rules: [{status: [404], action: ignore}]`."""
    if not statuses:
        return NO_RULES
    return ResponseRules((ResponseRule("ignore", "ignore_statuses", statuses=frozenset(statuses)),))


def _rule(raw: t.Any, where: str) -> ResponseRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected an object with an action")
    spec = options.build(_RawRule, raw, where, ignore=set())
    statuses, classes = _statuses(spec.status, f"{where}.status")
    if spec.equals is not None and spec.contains is not None:
        raise ConfigError(f"{where}: use equals or contains, not both")
    if spec.equals is not None and spec.body_path is None:
        raise ConfigError(f"{where}.equals needs body_path (the value to compare, e.g. $.error.code)")
    if not statuses and not classes and spec.body_path is None and spec.contains is None:
        raise ConfigError(f"{where}: give status, body_path or contains (a rule matching everything)")
    return ResponseRule(
        action=spec.action,
        label=where,
        statuses=statuses,
        classes=classes,
        body_path=compile_path(spec.body_path, f"{where}.body_path") if spec.body_path else None,
        equals=spec.equals,
        contains=spec.contains,
        message_path=compile_path(spec.message_path, f"{where}.message_path") if spec.message_path else None,
    )


def _statuses(value: t.Any, where: str) -> tuple[frozenset[int], frozenset[int]]:
    """`404`, `[403, 404]`, `"4xx"` or `["4xx", 500]` as exact statuses and status classes."""
    if value is None:
        return frozenset(), frozenset()
    items = value if isinstance(value, (list, tuple)) else [value]
    statuses: set[int] = set()
    classes: set[int] = set()
    for item in items:
        text = str(item).strip()
        matched = _STATUS_CLASS.match(text)
        if matched:
            classes.add(int(matched.group(1)))
        elif text.isdigit() and 100 <= int(text) <= 599 and not isinstance(item, bool):
            statuses.add(int(text))
        else:
            raise ConfigError(
                f'{where}: expected HTTP statuses such as 404, [403, 404] or "4xx", got {item!r}'
            )
    return frozenset(statuses), frozenset(classes)

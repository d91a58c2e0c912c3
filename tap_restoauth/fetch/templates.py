"""Placeholders in a stream's request: its path, params, headers and JSON body.

Config::

    path: /v2/accounts/{partition.account_id}/users/{parent.id}/events
    params: {from: "{start}", to: "{end}", since: "{bookmark:date}"}
    headers: {X-Tenant: "{config.tenant}"}
    body: {filter: {updated_after: "{bookmark:epoch_ms}"}, limit: 100}

- ``{start}``, ``{end}``: the date window being fetched (see `windows.py`);
- ``{bookmark}``: where the stream starts (its bookmark, else `start_date`);
- ``{parent.FIELD}``: a field of the parent record (child streams);
- ``{KEY}``: a `parent_keys` key of this stream or an ancestor;
- ``{partition.NAME}``: a value of the static partition being fetched;
- ``{token.FIELD}``: a field of the token response listed in `auth.token_response_extras`
  (``{token.instance_id}``), from the current token (a renewal may change it);
- ``{config.NAME}``: a top-level config value (text, number or true/false; an object
  or list is refused), filled in once at start-up (masked in logs and errors when NAME
  looks like a credential: key, token, secret, password..., or holds a secret); a
  stream whose path is a URL on another origin than `api_url` may not place one.

Timestamps are written with `incremental.format`, or the format after a colon
(``{start:date}``, ``{end:%Y%m%d}``); ``{parent.name:url}`` percent-encodes any value.
Header values are checked after substitution (no CR, LF or NUL, Latin-1 only, at most
8192 characters): a value that fails is refused with one line, not sent. A value
that is a single placeholder keeps its JSON type in params and bodies
(``"{bookmark:epoch}"`` sends a number). A param or header whose placeholder has no
value (no bookmark yet) is left out.
Values placed in a path are percent-encoded. ``{{NAME}}`` is a literal ``{NAME}``;
other braces (GraphQL queries) are left alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import quote

from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.fetch.incremental import check_format, render_value
from tap_restoauth.http import redaction

_PLACEHOLDER = re.compile(
    r"\{\{(?P<literal>[A-Za-z_][\w-]*(?:\.[\w-]+)*(?::[^{}]*)?)\}\}"
    r"|\{(?P<name>[A-Za-z_][\w-]*(?:\.[\w-]+)*)(?::(?P<spec>[^{}]*))?\}"
)
WINDOW = ("start", "end")
URL_ENCODED = "url"  # ``{parent.name:url}``: the value percent-encoded (for a header, say)
MAX_HEADER_VALUE = 8192  # characters of one header value; servers refuse longer header lines
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f]")
SECRET_WORDS = ("secret", "token", "password", "key", "auth", "signature")


@dataclasses.dataclass(frozen=True)
class Placeholder:
    """``{source.name:spec}``; `source` is start, end, bookmark or context (a context key)."""

    source: str
    name: str = ""
    spec: str = ""


@dataclasses.dataclass(frozen=True)
class Known:
    """What a stream's placeholders may name, for checking them at start-up."""

    context_keys: tuple[str, ...] = ()
    parent_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)  # field -> context key
    partition_keys: tuple[str, ...] = ()
    config: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    token_fields: tuple[str, ...] = ()  # auth.token_response_extras
    bookmark: bool = False
    window: bool = False

    def names(self) -> list[str]:
        names = [*(WINDOW if self.window else ()), *(["bookmark"] if self.bookmark else ())]
        names += [f"parent.{field}" for field in self.parent_fields]
        names += [f"partition.{name}" for name in self.partition_keys]
        names += list(self.context_keys)
        names += ["config.NAME"] if self.config else []
        names += [f"token.{name}" for name in self.token_fields]
        return names


Part = str | Placeholder


@dataclasses.dataclass(frozen=True)
class Template:
    """A string with placeholders, parsed once."""

    parts: tuple[Part, ...]

    @property
    def placeholders(self) -> list[Placeholder]:
        return [part for part in self.parts if isinstance(part, Placeholder)]


@dataclasses.dataclass(frozen=True)
class Values:
    """What placeholders stand for in one request."""

    context: Mapping[str, t.Any] | None = None
    bookmark: t.Any = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    format: str = "iso8601"
    token: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)  # the current token's extras

    def lookup(self, placeholder: Placeholder) -> t.Any:
        if placeholder.source == "context":
            value = (self.context or {}).get(placeholder.name)
        elif placeholder.source == "token":
            value = self.token.get(placeholder.name)
            value = None if isinstance(value, (Mapping, list)) else value
        else:
            value = getattr(self, placeholder.source)
        if placeholder.spec == URL_ENCODED:
            return None if value is None else quote(str(render_value(value, self.format)), safe="")
        return render_value(value, placeholder.spec or self.format)


def is_secret_setting(key: str, value: t.Any) -> bool:
    """Whether top-level setting `key` holds a credential: by its name, or a registered secret."""
    return any(word in key.lower() for word in SECRET_WORDS) or redaction.is_secret(str(value))


def secret_placeholders(text: str, config: Mapping[str, t.Any]) -> list[str]:
    """The ``{config.NAME}`` placeholders of `text` that place a credential."""
    return [
        name
        for name in placeholder_names(text)
        if name.startswith("config.")
        and name[len("config.") :] in config
        and is_secret_setting(name[len("config.") :], config[name[len("config.") :]])
    ]


def placeholder_names(text: str) -> list[str]:
    """The names of the placeholders in `text` (without format), e.g. ``parent.id``."""
    return [match["name"] for match in _PLACEHOLDER.finditer(text) if match["name"]]


def parse(text: str, where: str, known: Known, *, path: bool = False) -> Template | t.Any:
    """`text` as a Template; a plain string when it has no runtime placeholder.

    ``{config.NAME}`` is replaced here (percent-encoded in a `path`); a string that is
    only that placeholder becomes the config value itself (a number stays a number).
    """
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        if match["literal"]:
            parts.append("{" + match["literal"] + "}")
            continue
        name, spec = match["name"], match["spec"] or ""
        if spec and spec != URL_ENCODED:
            check_format(spec, f"{where}: the format of {{{name}}}")
        if name.startswith("config."):
            key = name[len("config.") :]
            if key not in known.config:
                raise ConfigError(
                    f"{where}: {{{name}}} names no top-level setting "
                    f"(settings: {', '.join(sorted(known.config))})"
                )
            value = known.config[key]
            if isinstance(value, (Mapping, list, tuple)) or value is None:
                kind = "null" if value is None else "an object" if isinstance(value, Mapping) else "a list"
                raise ConfigError(
                    f"{where}: {{{name}}} is {kind}; only a text, number or true/false setting can be "
                    "placed in a request (its value is not shown)"
                )
            if is_secret_setting(key, value):
                redaction.register(str(value))  # masked wherever the request is logged
            if text == match.group(0) and not path and spec != URL_ENCODED:
                return value
            parts.append(quote(str(value), safe="") if path or spec == URL_ENCODED else str(value))
            continue
        parts.append(_placeholder(name, spec, where, known))
    parts.append(text[position:])
    merged = [part for part in parts if part != ""]
    if not any(isinstance(part, Placeholder) for part in merged):
        return "".join(t.cast("list[str]", merged))
    return Template(tuple(merged))


def _placeholder(name: str, spec: str, where: str, known: Known) -> Placeholder:
    if name in WINDOW and known.window:
        return Placeholder(name, spec=spec)
    if name == "bookmark" and known.bookmark:
        return Placeholder("bookmark", spec=spec)
    if name.startswith("parent.") and name[len("parent.") :] in known.parent_fields:
        return Placeholder("context", known.parent_fields[name[len("parent.") :]], spec)
    if name.startswith("partition.") and name[len("partition.") :] in known.partition_keys:
        return Placeholder("context", name[len("partition.") :], spec)
    if name in known.context_keys:
        return Placeholder("context", name, spec)
    if name.startswith("token.") and name[len("token.") :] in known.token_fields:
        return Placeholder("token", name[len("token.") :], spec)
    hint = ""
    if name in (*WINDOW, "bookmark"):
        hint = " ({start}/{end} need incremental.step or end_param; {bookmark} needs replication_key)"
    elif name.startswith("parent."):
        hint = " ({parent.FIELD} needs a parent stream)"
    elif name.startswith("token."):
        hint = " ({token.FIELD} names a field listed in auth.token_response_extras)"
    raise ConfigError(
        f"{where}: unknown placeholder {{{name}}}{hint}; known: "
        + (", ".join("{" + known_name + "}" for known_name in known.names()) or "none")
    )


def parse_tree(value: t.Any, where: str, known: Known) -> t.Any:
    """Every string of a JSON value (params, headers, body) parsed with `parse`."""
    if isinstance(value, str):
        return parse(value, where, known)
    if isinstance(value, Mapping):
        return {key: parse_tree(item, f"{where}.{key}", known) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [parse_tree(item, f"{where}[{i}]", known) for i, item in enumerate(value)]
    return value


def placeholders_in(value: t.Any) -> list[Placeholder]:
    if isinstance(value, Template):
        return value.placeholders
    if isinstance(value, Mapping):
        return [p for item in value.values() for p in placeholders_in(item)]
    if isinstance(value, list):
        return [p for item in value for p in placeholders_in(item)]
    return []


class _Missing:
    """A placeholder had no value: the param, header or body field is left out."""


MISSING = _Missing()


def render(value: t.Any, values: Values) -> t.Any:
    """A parsed value with its placeholders filled in; MISSING when one has no value."""
    if isinstance(value, Template):
        parts = value.parts
        if len(parts) == 1:
            filled = values.lookup(t.cast("Placeholder", parts[0]))
            return MISSING if filled is None else filled
        text = []
        for part in parts:
            filled = part if isinstance(part, str) else values.lookup(part)
            if filled is None:
                return MISSING
            text.append(str(filled))
        return "".join(text)
    if isinstance(value, Mapping):
        rendered = {key: render(item, values) for key, item in value.items()}
        return {key: item for key, item in rendered.items() if item is not MISSING}
    if isinstance(value, list):
        return [item for item in (render(item, values) for item in value) if item is not MISSING]
    return value


def render_headers(headers: Mapping[str, t.Any], values: Values, stream: str) -> dict[str, str]:
    """The headers with their placeholders filled in, each value checked before it is sent.

    A value from a parent record, a bookmark or a partition is untrusted: CR/LF would add
    headers, NUL corrupts the request, and HTTP/1.1 header values are Latin-1. Such a
    value is refused (`ApiError`, without showing it): write ``{parent.name:url}`` to send
    it percent-encoded instead.
    """
    rendered = {str(name): str(value) for name, value in render(headers, values).items()}
    for name, value in rendered.items():
        problem = header_value_problem(value)
        if problem is not None:
            raise ApiError(
                f"{stream}: the value of header {name} has {problem}; refused (its value is not shown). "
                "A placeholder written {NAME:url} is sent percent-encoded"
            )
    return rendered


def header_value_problem(value: str) -> str | None:
    """What keeps `value` out of an HTTP header (never quoting it), or None."""
    if len(value) > MAX_HEADER_VALUE:
        return f"{len(value)} characters, more than the {MAX_HEADER_VALUE} a header value may have"
    if _NOT_IN_HEADERS.search(value):
        return "control characters (CR, LF, NUL...)"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "characters outside Latin-1"
    return None


def render_path(path: t.Any, values: Values, stream: str) -> str:
    """The path with each value percent-encoded, so a value cannot add segments or a query."""
    if not isinstance(path, Template):
        return str(path)
    text = []
    for part in path.parts:
        if isinstance(part, str):
            text.append(part)
            continue
        filled = values.lookup(part)
        name = part.name if part.source == "context" else part.source
        if filled is None:
            raise ApiError(f"{stream}: no value for {{{name}}} in the path (is start_date set?)")
        segment = str(filled)
        if segment in ("", ".", ".."):  # `/parents/../kids` is `/kids`: refused, not encoded
            who = f"a parent record's {name}" if part.source == "context" else f"{{{name}}}"
            raise ApiError(f"{stream}: {who} is {segment!r}, which would change the request path; refused")
        text.append(quote(segment, safe=""))
    return "".join(text)


@dataclasses.dataclass(frozen=True)
class RequestTemplates:
    """A stream's path, params, headers and body, parsed once at start-up."""

    path: t.Any = ""
    params: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    headers: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    body: t.Any = None

    @classmethod
    def parse(
        cls,
        where: str,
        known: Known,
        *,
        path: str,
        params: Mapping[str, t.Any],
        headers: Mapping[str, t.Any],
        body: t.Any,
    ) -> RequestTemplates:
        return cls(
            path=parse(path, f"{where}.path", known, path=True),
            params=parse_tree(dict(params), f"{where}.params", known),
            headers=parse_tree(dict(headers), f"{where}.headers", known),
            body=parse_tree(body, f"{where}.body", known),
        )

    def placeholders(self) -> list[Placeholder]:
        found = placeholders_in(self.path) + placeholders_in(self.params) + placeholders_in(self.headers)
        return found + placeholders_in(self.body)

    def uses(self, *sources: str) -> bool:
        return any(placeholder.source in sources for placeholder in self.placeholders())

    def needs_bookmark(self) -> bool:
        """`{bookmark}` sits where leaving it out breaks the request: path, body, or inside
        a longer param or header (a query such as ``updated >= {bookmark}``)."""
        if any(p.source == "bookmark" for p in placeholders_in(self.path) + placeholders_in(self.body)):
            return True
        values = [*self.params.values(), *self.headers.values()]
        return any(
            isinstance(value, Template)
            and len(value.parts) > 1
            and any(p.source == "bookmark" for p in value.placeholders)
            for value in values
        )


def strings_in(value: t.Any) -> list[str]:
    """Every string in a config value (nested mappings and lists): where placeholders may stand."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in strings_in(item)]
    return []

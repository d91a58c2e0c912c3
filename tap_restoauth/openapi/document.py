"""An OpenAPI document loaded within limits, with `$ref` resolution.

A document is a file path, an http(s) URL or (from `openapi.document: sm://...`) the text
itself; YAML or JSON. Loading is bounded: at most `max_bytes` are read (a file's size is
checked before reading it, a URL is fetched through the tap's response limits: size after
decompression and a whole-request deadline, with no credentials), JSON nests at most
`MAX_JSON_DEPTH` levels, and the loaded structure is walked once counting every node as
often as it is reachable: a YAML alias bomb (``a: &a [x, x]``, ``b: &b [*a, *a]``, ...)
is refused after `MAX_NODES` visits instead of expanding in whatever reads it next, and
an alias cycle (``&a [*a]``) is refused outright.

`$ref` reads ``#/json/pointer`` in the same document and ``other.yaml#/pointer`` beside
it (the same directory, or the same origin for a URL). A `$ref` to another host, or one
that points nowhere, is one line naming the `$ref`.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from collections.abc import Mapping
from urllib.parse import unquote, urljoin, urlsplit

import msgspec
import requests
import yaml

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.http import limits
from tap_restoauth.http.limits import MAX_JSON_DEPTH, MEGABYTE, ResponseLimits

MAX_NODES = 3_000_000  # node visits, repeats included: Stripe's 4 MB document has ~300k
MAX_DOCUMENTS = 20  # files one document may pull in through `$ref`
MAX_REF_CHAIN = 50  # `$ref` to `$ref` to ...
DEFAULT_MAX_MB = 64.0
DEFAULT_DEADLINE_SECONDS = 60.0


class DocumentError(TapRestOAuthError):
    """The document cannot be used; the message names the document and the reason."""


@dataclasses.dataclass(frozen=True)
class LoadLimits:
    """How big and how slow a document (and each file it refers to) may be."""

    max_bytes: int = int(DEFAULT_MAX_MB * MEGABYTE)
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    timeout: float = 30.0


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in {"http", "https"}


def is_inline(location: str) -> bool:
    """The document's text itself (an `sm://` setting resolved to its content)."""
    return "\n" in location or location.lstrip().startswith("{")


def read_bytes(location: str, load_limits: LoadLimits) -> bytes:
    """The raw bytes of a file or URL, at most `max_bytes` of them."""
    if is_inline(location):
        data = location.encode("utf-8", "replace")
        if len(data) > load_limits.max_bytes:
            raise DocumentError(f"the document text is larger than {_mb(load_limits.max_bytes)}")
        return data
    if is_url(location):
        return _fetch(location, load_limits)
    path = os.path.expanduser(location)
    try:
        size = os.stat(path).st_size
        if size > load_limits.max_bytes:
            raise DocumentError(
                f"{location}: {size / MEGABYTE:.0f} MB is larger than the limit of "
                f"{_mb(load_limits.max_bytes)}"
            )
        with open(path, "rb") as handle:
            data = handle.read(load_limits.max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"{location}: cannot read the document ({exc.strerror or exc})") from None
    if len(data) > load_limits.max_bytes:  # grew while read, or a device
        raise DocumentError(f"{location}: larger than the limit of {_mb(load_limits.max_bytes)}")
    return data


def _mb(value: int) -> str:
    return f"{value / MEGABYTE:g} MB"


def _fetch(url: str, load_limits: LoadLimits) -> bytes:
    """GET `url` without credentials, through the tap's response limits."""
    session = requests.Session()
    limits.install(session, ResponseLimits(load_limits.max_bytes, load_limits.deadline_seconds))
    try:
        with session:
            response = session.get(
                url,
                timeout=load_limits.timeout,
                headers={"Accept": "application/json, application/yaml, text/yaml, */*"},
                allow_redirects=False,
            )
    except limits.ResponseTooLarge:
        raise DocumentError(f"{url}: larger than the limit of {_mb(load_limits.max_bytes)}") from None
    except TapRestOAuthError as exc:
        raise DocumentError(f"{url}: {exc}") from None
    except requests.RequestException as exc:
        raise DocumentError(f"{url}: cannot fetch the document ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise DocumentError(f"{url}: HTTP {response.status_code} instead of the document")
    return response.content


def parse(data: bytes, where: str) -> t.Any:
    """JSON or YAML bytes as Python values, checked by `check_size`."""
    text_start = data.lstrip()[:1]
    try:
        if text_start in (b"{", b"["):
            value = limits.decode(data)
        else:
            value = yaml.load(data, Loader=yaml.CSafeLoader)  # the safe loader
    except limits.BadDocument as exc:
        raise DocumentError(f"{where}: expected a JSON or YAML document, got {exc}") from None
    except msgspec.DecodeError as exc:
        raise DocumentError(f"{where}: not valid JSON ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DocumentError(f"{where}: not valid YAML or JSON ({problem}{at})") from None
    except RecursionError:
        raise DocumentError(f"{where}: nested deeper than the loader can follow") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an unhashable YAML key
        raise DocumentError(f"{where}: not a usable YAML document ({type(exc).__name__})") from None
    check_size(value, where)
    return value


def check_size(value: t.Any, where: str) -> None:
    """Refuse structures that are huge once aliases are expanded, cyclic, or too deep.

    The expanded size of each distinct list or dict is computed once (memoized by
    identity), so the check costs one pass over what was parsed, not over the expansion.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: t.Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise DocumentError(f"{where}: a YAML alias refers to itself (a cyclic document)")
        if depth > MAX_JSON_DEPTH:
            raise DocumentError(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
        on_path.add(key)
        total = 1
        for child in node.values() if isinstance(node, dict) else node:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise DocumentError(
                    f"{where}: more than {MAX_NODES:,} nodes once YAML aliases are expanded (an alias bomb?)"
                )
        on_path.discard(key)
        sizes[key] = total
        return total

    size(value, 0)


@dataclasses.dataclass(frozen=True)
class Located:
    """A node of a document and the location `$ref`s inside it are relative to."""

    node: t.Any
    base: str


class Document:
    """The root document and the files its `$ref`s pull in."""

    def __init__(self, root: Mapping[str, t.Any], location: str, load_limits: LoadLimits) -> None:
        self.root = root
        self.location = location
        self.limits = load_limits
        self._files: dict[str, t.Any] = {location: root}

    @classmethod
    def load(cls, location: str, load_limits: LoadLimits | None = None) -> Document:
        load_limits = load_limits or LoadLimits()
        shown = "the document" if is_inline(location) else location
        value = parse(read_bytes(location, load_limits), shown)
        if not isinstance(value, dict):
            raise DocumentError(f"{shown}: not an OpenAPI document (expected an object with 'openapi')")
        key = "<inline>" if is_inline(location) else location
        return cls(value, key, load_limits)

    def resolve(self, located: Located) -> Located:
        """Follow `$ref` until a node without one; DocumentError when one points nowhere."""
        current = located
        for _ in range(MAX_REF_CHAIN):
            node = current.node
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return current
            current = self.target(node["$ref"], current.base)
        raise DocumentError(f"$ref chain longer than {MAX_REF_CHAIN} at {located.node.get('$ref')!r}")

    def target(self, ref: str, base: str) -> Located:
        """The node a `$ref` names, relative to `base`."""
        file_part, _, pointer = ref.partition("#")
        location = base
        if file_part:
            location = self._file_location(file_part, base, ref)
        document = self._file(location, ref)
        return Located(_pointer(document, pointer, ref), location)

    def _file_location(self, file_part: str, base: str, ref: str) -> str:
        if base == "<inline>":
            raise DocumentError(f"$ref {ref!r}: a document given as text can only refer to itself")
        if is_url(base):
            target = urljoin(base, file_part)
            if _origin(target) != _origin(base):
                raise DocumentError(
                    f"$ref {ref!r} points to another host ({_origin(target)}); only the document's "
                    "own origin is read"
                )
            return target
        if is_url(file_part) or urlsplit(file_part).scheme:
            raise DocumentError(
                f"$ref {ref!r} points to a remote host; a local document refers to local files"
            )
        return os.path.normpath(os.path.join(os.path.dirname(base), unquote(file_part)))

    def _file(self, location: str, ref: str) -> t.Any:
        if location not in self._files:
            if len(self._files) >= MAX_DOCUMENTS:
                raise DocumentError(f"$ref {ref!r}: more than {MAX_DOCUMENTS} files referred to")
            try:
                self._files[location] = parse(read_bytes(location, self.limits), location)
            except DocumentError as exc:
                raise DocumentError(f"$ref {ref!r}: {exc}") from None
        return self._files[location]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _pointer(document: t.Any, pointer: str, ref: str) -> t.Any:
    """RFC 6901: ``/components/schemas/a~1b`` (percent-escapes decoded first)."""
    node = document
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise DocumentError(f"$ref {ref!r}: expected a JSON pointer after '#' (#/components/...)")
    for raw in pointer[1:].split("/"):
        key = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise DocumentError(f"$ref {ref!r} points nowhere (no {key!r})")
    return node

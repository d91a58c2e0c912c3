"""The tap's settings, parsed once into typed objects and checked before any request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import ssl
import string
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from tap_restoauth import options
from tap_restoauth.auth.methods import Auth, build_auth
from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch.incremental import IncrementalSettings, parse_timestamp
from tap_restoauth.fetch.pagination import Paginator, build_paginator
from tap_restoauth.http import redaction
from tap_restoauth.http.client import HttpSettings
from tap_restoauth.http.limits import MEGABYTE, ResponseLimits
from tap_restoauth.http.retry import RetryPolicy
from tap_restoauth.http.urls import SENSITIVE_PARAMS
from tap_restoauth.records.jsonpath import compile_path
from tap_restoauth.records.schema import load_declared


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """One configured endpoint."""

    name: str
    path: str
    paginator: Paginator
    method: str = "GET"
    body: t.Any = None
    params: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    records_path: str | None = None
    primary_keys: tuple[str, ...] = ()
    replication_key: str | None = None
    incremental: IncrementalSettings | None = None
    schema: dict[str, t.Any] | None = None
    parent: str | None = None
    parent_keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    context_keys: tuple[str, ...] = ()  # own parent_keys plus every ancestor's
    max_pages: int | None = None
    ignore_statuses: frozenset[int] = frozenset()
    is_sorted: bool = False

    @property
    def path_fields(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.path) if field]


@dataclasses.dataclass(frozen=True)
class TapSettings:
    """The whole validated configuration."""

    api_url: str
    auth: Auth
    http: HttpSettings
    params: Mapping[str, t.Any]
    streams: tuple[StreamSettings, ...]  # parents before their children
    start_date: dt.datetime | None
    schema_sample_size: int
    concurrency: int
    progress_interval_seconds: float = 30.0


@dataclasses.dataclass(frozen=True)
class _RawStream:
    """Stream options as written; validated field by field by `options.build`."""

    name: str
    path: str
    method: t.Literal["GET", "POST", "get", "post"] = "GET"
    body: t.Any = None
    params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    records_path: str | None = None
    primary_keys: tuple[str, ...] = ()
    replication_key: str | None = None
    incremental: dict[str, t.Any] | None = None
    pagination: dict[str, t.Any] | None = None
    schema: t.Any = None
    parent: str | None = None
    parent_keys: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    max_pages: int | None = None
    ignore_statuses: tuple[int, ...] = ()
    is_sorted: bool = False


def parse_settings(config: Mapping[str, t.Any]) -> TapSettings:
    """Validate `config` and return typed settings; raises ConfigError on the first problem."""
    api_url = config.get("api_url")
    if not api_url:
        raise ConfigError("api_url is required (the base URL of the API, e.g. https://api.example.com)")
    parts = urlsplit(str(api_url))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"api_url: expected an http(s) URL, got {api_url!r}")

    http = _http_settings(config)
    auth = build_auth(config.get("auth"))
    start_date = None
    if config.get("start_date"):
        start_date = parse_timestamp(config["start_date"])
        if start_date is None:
            raise ConfigError(
                f"start_date: expected an ISO-8601 date-time such as 2024-01-01T00:00:00Z, "
                f"got {config['start_date']!r}"
            )
    raw_streams = config.get("streams")
    if not raw_streams:
        raise ConfigError("streams: configure at least one stream (name, path)")
    if not isinstance(raw_streams, list):
        raise ConfigError("streams: expected a list of stream objects")
    default_pagination = config.get("pagination")
    streams = [_stream(raw, i, default_pagination) for i, raw in enumerate(raw_streams)]
    ordered = _order_by_parent(streams)
    return TapSettings(
        api_url=str(api_url).rstrip("/"),
        auth=auth,
        http=http,
        params=_register_sensitive(dict(_mapping(config.get("params"), "params"))),
        streams=ordered,
        start_date=start_date,
        schema_sample_size=options.coerce(config.get("schema_sample_size", 100), int, "schema_sample_size"),
        concurrency=max(1, options.coerce(config.get("concurrency", 1), int, "concurrency")),
        progress_interval_seconds=options.coerce(
            config.get("progress_interval_seconds", 30), float, "progress_interval_seconds"
        ),
    )


def _http_settings(config: Mapping[str, t.Any]) -> HttpSettings:
    ca_bundle = config.get("ca_bundle")
    if ca_bundle:
        _check_ca_bundle(os.path.expanduser(str(ca_bundle)))
    retry = RetryPolicy(
        max_retries=_number(config, "max_retries", 5, int, minimum=0),
        backoff_factor=_number(config, "backoff_factor", 1, float, minimum=0),
        backoff_max_seconds=_number(config, "backoff_max_seconds", 60, float, minimum=0),
        max_retry_after_seconds=_number(config, "max_retry_after_seconds", 300, float, minimum=0),
    )
    rate = config.get("requests_per_second")
    concurrency = options.coerce(config.get("concurrency", 1), int, "concurrency")
    return HttpSettings(
        timeout=_number(config, "timeout", 60, float, minimum=0, exclusive=True),
        verify_tls=options.coerce(config.get("verify_tls", True), bool, "verify_tls"),
        ca_bundle=os.path.expanduser(ca_bundle) if ca_bundle else None,
        headers=_register_sensitive(
            {str(k): str(v) for k, v in _mapping(config.get("headers"), "headers").items()}
        ),
        requests_per_second=(
            _number(config, "requests_per_second", None, float, minimum=0, exclusive=True)
            if rate is not None
            else None
        ),
        retry=retry,
        pool_size=max(10, concurrency * 2),
        limits=ResponseLimits(
            max_bytes=int(_positive(config, "max_response_mb", 256) * MEGABYTE),
            deadline_seconds=_positive(config, "request_deadline_seconds", 300),
        ),
    )


def _check_ca_bundle(path: str) -> None:
    """Fail before any request when the CA bundle cannot be used by the TLS layer."""
    if not os.access(path, os.R_OK) or not os.path.isfile(path):
        raise ConfigError(f"ca_bundle: cannot read {path!r}")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ConfigError(f"ca_bundle: {path!r} holds no usable PEM certificate ({exc.reason})") from None


N = t.TypeVar("N", int, float)


def _number(
    config: Mapping[str, t.Any],
    name: str,
    default: t.Any,
    kind: type[N],
    *,
    minimum: float,
    exclusive: bool = False,
) -> N:
    value: N = options.coerce(config.get(name, default), kind, name)
    if value < minimum or (exclusive and value == minimum):
        bound = f"greater than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise ConfigError(f"{name}: expected a number {bound}, got {config.get(name)!r}")
    return value


def _positive(config: Mapping[str, t.Any], name: str, default: float) -> float:
    return _number(config, name, default, float, minimum=0, exclusive=True)


SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "x-auth-token"})


def _register_sensitive(values: dict[str, t.Any]) -> dict[str, t.Any]:
    """Treat values of params and headers named like credentials (api_key, token, ...) as secrets.

    They are masked in every log line (urllib3 logs full URLs at DEBUG) and error.
    """
    for name, value in values.items():
        lowered = name.lower()
        if lowered in SENSITIVE_PARAMS or lowered in SENSITIVE_HEADERS:
            redaction.register(str(value))
    return values


def _mapping(value: t.Any, where: str) -> Mapping[str, t.Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected an object")
    return value


def _stream(raw: t.Any, index: int, default_pagination: t.Any) -> StreamSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"streams[{index}]: expected an object with name and path")
    label = f"streams[{raw.get('name') or index}]"
    if not raw.get("name"):
        raise ConfigError(f"streams[{index}].name is required")
    if not raw.get("path"):
        raise ConfigError(f"{label}.path is required (e.g. /v1/users)")
    spec = options.build(_RawStream, raw, label, ignore=set())
    if spec.records_path:
        compile_path(spec.records_path, f"{label}.records_path")
    incremental = None
    if spec.replication_key:
        incremental = options.build(
            IncrementalSettings, spec.incremental or {}, f"{label}.incremental", ignore=set()
        )
    elif spec.incremental:
        raise ConfigError(f"{label}.incremental needs {label}.replication_key")
    schema = load_declared(spec.schema, f"{label}.schema")
    if schema is not None:
        properties = schema["properties"]
        if spec.replication_key and spec.replication_key not in properties:
            raise ConfigError(
                f"{label}.replication_key {spec.replication_key!r} is not a property of its declared schema"
            )
        missing = [key for key in spec.primary_keys if key not in properties]
        if missing:
            raise ConfigError(f"{label}.primary_keys {missing} are not properties of its declared schema")
    pagination = spec.pagination if spec.pagination is not None else default_pagination
    paginator = build_paginator(pagination, f"{label}.pagination")
    if spec.parent_keys and not spec.parent:
        raise ConfigError(f"{label}.parent_keys needs {label}.parent")
    return StreamSettings(
        name=spec.name,
        path=spec.path if spec.path.startswith(("/", "http://", "https://")) else "/" + spec.path,
        paginator=paginator,
        method=spec.method.upper(),
        body=spec.body,
        params=_register_sensitive(spec.params),
        records_path=spec.records_path,
        primary_keys=spec.primary_keys,
        replication_key=spec.replication_key,
        incremental=incremental,
        schema=schema,
        parent=spec.parent,
        parent_keys={str(k): str(v) for k, v in spec.parent_keys.items()},
        max_pages=spec.max_pages,
        ignore_statuses=frozenset(spec.ignore_statuses),
        is_sorted=spec.is_sorted,
    )


def _order_by_parent(streams: list[StreamSettings]) -> tuple[StreamSettings, ...]:
    """Parents before children, with context keys resolved; rejects duplicates, unknown parents and cycles."""
    by_name: dict[str, StreamSettings] = {}
    for stream in streams:
        if stream.name in by_name:
            raise ConfigError(f"streams: the name {stream.name!r} is used twice")
        by_name[stream.name] = stream
    for stream in streams:
        if stream.parent and stream.parent not in by_name:
            raise ConfigError(
                f"streams[{stream.name}].parent: no stream is named {stream.parent!r} "
                f"(streams: {', '.join(by_name)})"
            )
    resolved: dict[str, StreamSettings] = {}

    def resolve(stream: StreamSettings, chain: tuple[str, ...]) -> StreamSettings:
        if stream.name in resolved:
            return resolved[stream.name]
        if stream.name in chain:
            cycle = " -> ".join([*chain[chain.index(stream.name) :], stream.name])
            raise ConfigError(f"streams: parent cycle {cycle}")
        inherited: tuple[str, ...] = ()
        if stream.parent:
            parent = resolve(by_name[stream.parent], (*chain, stream.name))
            inherited = parent.context_keys
            if parent.schema is not None:
                lacking = [f for f in stream.parent_keys.values() if f not in parent.schema["properties"]]
                if lacking:
                    raise ConfigError(
                        f"streams[{stream.name}].parent_keys: parent {parent.name!r} has no "
                        f"field(s) {', '.join(lacking)} in its declared schema"
                    )
        keys = tuple(dict.fromkeys([*inherited, *stream.parent_keys]))
        unknown = [f for f in stream.path_fields if f not in keys]
        if unknown:
            raise ConfigError(
                f"streams[{stream.name}].path uses {{{'}, {'.join(unknown)}}} but no parent_keys "
                "(of this stream or its ancestors) provide it"
            )
        done = dataclasses.replace(stream, context_keys=keys)
        resolved[stream.name] = done
        ordered.append(done)
        return done

    ordered: list[StreamSettings] = []
    for stream in streams:
        resolve(stream, ())
    return tuple(ordered)

"""The tap's settings, parsed once into typed objects and checked before any request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import ssl
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from tap_restoauth import options
from tap_restoauth.auth.methods import Auth, check_token
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch import templates
from tap_restoauth.fetch.incremental import IncrementalSettings, parse_timestamp
from tap_restoauth.fetch.pagination import Paginator, build_paginator
from tap_restoauth.fetch.partitions import check_partitions
from tap_restoauth.fetch.templates import (
    Known,
    RequestTemplates,
    parse_tree,
    placeholder_names,
    secret_placeholders,
)
from tap_restoauth.http import redaction
from tap_restoauth.http.client import HttpSettings
from tap_restoauth.http.limits import MEGABYTE, ResponseLimits
from tap_restoauth.http.mtls import load_client_certificate
from tap_restoauth.http.origins import Origin, OriginPolicy
from tap_restoauth.http.ratelimit import RateLimitSettings
from tap_restoauth.http.retry import RetryPolicy
from tap_restoauth.http.rules import NO_RULES, ResponseRules, ignore_statuses_rule, parse_rules
from tap_restoauth.http.urls import is_sensitive_param, treat_as_sensitive
from tap_restoauth.openapi import runtime as openapi_runtime
from tap_restoauth.records.decoders import Decoder, JsonDecoder, build_decoder
from tap_restoauth.records.deletions import DeletedWhen, Deletions, DeletionsOptions
from tap_restoauth.records.jsonpath import compile_path
from tap_restoauth.records.schema import is_timestamp, load_declared
from tap_restoauth.settings import StreamOptions, TapOptions

if t.TYPE_CHECKING:  # job and GraphQL streams only: imported when a stream sets them
    from tap_restoauth.fetch.graphql import GraphqlSettings
    from tap_restoauth.fetch.jobs import JobSettings


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
    headers: Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    partitions: tuple[Mapping[str, t.Any], ...] = ()  # static partitions of a root stream
    partition_keys: tuple[str, ...] = ()  # its own or its root's partition keys
    templates: RequestTemplates = dataclasses.field(default_factory=RequestTemplates)
    windowed: bool = False  # requests carry a date window (`{start}`/`{end}`)
    response_rules: ResponseRules = NO_RULES  # the stream's, ignore_statuses, then the top-level ones
    decoder: Decoder = dataclasses.field(default_factory=JsonDecoder)  # the `format` setting
    job: JobSettings | None = None  # an asynchronous export job stream (fetch/jobs.py)
    graphql: GraphqlSettings | None = None  # a GraphQL connection stream (fetch/graphql.py)
    deletions: Deletions[StreamSettings] | None = None  # a deleted-records endpoint (records/deletions.py)
    deleted_when: DeletedWhen | None = None  # a deleted flag on the records

    @property
    def path_fields(self) -> list[str]:
        """The placeholder names in `path` (e.g. ``user_id``, ``parent.id``)."""
        return placeholder_names(self.path)

    @property
    def bookmark_in_request(self) -> bool:
        """The first request depends on the stream's state (bookmark or window)."""
        return self.templates.uses("bookmark", "start", "end")


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
    end_date: dt.datetime | None = None
    progress_interval_seconds: float = 30.0
    on_quota_exhausted: t.Literal["stop", "fail"] = "stop"
    metrics_log_level: str = "DEBUG"
    state_interval_seconds: float = 10.0  # streams with partition bookmarks (sync/child_state.py)
    state_max_partitions: int = 10_000
    audit: bool = False  # the `_audit` stream (sync/audit.py)
    audit_fail_on_mismatch: bool = False
    emit_activate_version_messages: bool = False  # sync/versions.py
    config_keys: frozenset[str] = frozenset()  # top-level keys `{config.NAME}` placeholders use


def check_known_settings(config: Mapping[str, t.Any], known: set[str]) -> None:
    """Refuse a misspelled top-level setting instead of silently using the default.

    Keys starting with `_` are left alone (tools add such keys for themselves), and so
    are keys a `{config.NAME}` template uses (values the user keeps for templates).
    """
    used = {name[len("config.") :] for name in _placeholders(config) if name.startswith("config.")}
    unknown = sorted(
        key for key in config if key not in known and key not in used and not str(key).startswith("_")
    )
    if not unknown:
        return
    import difflib  # noqa: PLC0415  (unknown settings only: not imported by every start)

    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        hints.append(f"{key!r} (did you mean {close[0]}?)" if close else repr(key))
    raise ConfigError(
        f"unknown setting(s) {', '.join(hints)}; the settings are listed by `tap-restoauth --about`"
    )


def _placeholders(value: t.Any) -> t.Iterator[str]:
    """Every placeholder name in the strings of a config tree."""
    if isinstance(value, str):
        yield from placeholder_names(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from _placeholders(item)


def parse_settings(config: Mapping[str, t.Any]) -> TapSettings:
    """Validate `config` and return typed settings; raises ConfigError on the first problem."""
    config = openapi_runtime.expand(config)  # streams derived from `openapi.document`, if set
    api_url = config.get("api_url")
    if not api_url:
        raise ConfigError("api_url is required (the base URL of the API, e.g. https://api.example.com)")
    parts = urlsplit(str(api_url))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"api_url: expected an http(s) URL, got {api_url!r}")

    # Every declared setting typed and bounded (settings.py); unknown keys: check_known_settings.
    spec = options.build(TapOptions, config, "", ignore=set(config))
    secret_params = _names(spec.secret_params, "secret_params")
    secret_headers = _names(spec.secret_headers, "secret_headers")
    treat_as_sensitive(secret_params)
    _SECRET_HEADERS.update(secret_headers)
    http = _http_settings(spec, config)
    auth = build_auth(spec.auth)
    treat_as_sensitive(auth.query_params())
    start_date = _timestamp_setting(spec.start_date, "start_date")
    end_date = _timestamp_setting(spec.end_date, "end_date")
    if getattr(auth, "client_auth_method", None) == "tls_client_auth" and http.client_cert is None:
        raise ConfigError("auth.client_auth_method tls_client_auth needs client_cert and client_key")
    raw_streams = spec.streams
    if not raw_streams:
        raise ConfigError("streams: configure at least one stream (name, path)")
    if not isinstance(raw_streams, list):
        raise ConfigError("streams: expected a list of stream objects")
    if spec.audit_fail_on_mismatch and not spec.audit:
        raise ConfigError("audit_fail_on_mismatch needs audit: true")
    top_rules = parse_rules(spec.response_rules, "response_rules")
    streams = [_stream(raw, i, spec.pagination, top_rules) for i, raw in enumerate(raw_streams)]
    tap_params = _register_sensitive(dict(spec.params))
    tap_partitions = check_partitions(spec.partitions, "partitions")
    ordered = _order_by_parent(streams, _Scope(config, tap_params, tap_partitions, start_date))
    configured_params = {name for scope in [tap_params, *(s.params for s in streams)] for name in scope}
    origins = OriginPolicy(
        str(api_url),
        list(spec.trusted_origins),
        credential_params=[*configured_params, *auth.query_params(), *secret_params],
    )
    return TapSettings(
        api_url=str(api_url).rstrip("/"),
        auth=auth,
        http=dataclasses.replace(http, origins=origins),
        params=tap_params,
        streams=ordered,
        start_date=start_date,
        end_date=end_date,
        schema_sample_size=spec.schema_sample_size,
        concurrency=max(1, spec.concurrency),
        progress_interval_seconds=spec.progress_interval_seconds,
        on_quota_exhausted=spec.on_quota_exhausted,
        metrics_log_level=_metrics_log_level(spec.metrics_log_level),
        state_interval_seconds=spec.state_interval_seconds,
        state_max_partitions=spec.state_max_partitions,
        audit=spec.audit,
        audit_fail_on_mismatch=spec.audit_fail_on_mismatch,
        emit_activate_version_messages=spec.emit_activate_version_messages,
        config_keys=frozenset(
            name[len("config.") :] for name in _placeholders(config) if name.startswith("config.")
        ),
    )


def _names(value: tuple[str, ...], name: str) -> tuple[str, ...]:
    """A list-of-names setting (`secret_params`, `secret_headers`), lower-cased."""
    if not all(value):
        raise ConfigError(f'{name}: expected a list of names, e.g. ["access_key"]')
    return tuple(item.lower() for item in value)


def _timestamp_setting(written: t.Any, name: str) -> dt.datetime | None:
    if not written:
        return None
    value = parse_timestamp(written)
    if value is None:
        raise ConfigError(
            f"{name}: expected an ISO-8601 date-time such as 2024-01-01T00:00:00Z, got {written!r}"
        )
    return value


def _metrics_log_level(value: t.Any) -> str:
    level = str(value or "DEBUG").upper()
    if level not in {"DEBUG", "INFO"}:
        raise ConfigError(f"metrics_log_level: expected DEBUG or INFO, got {value!r}")
    return level


def _http_settings(spec: TapOptions, config: Mapping[str, t.Any]) -> HttpSettings:
    """How API requests are sent; `config` is what `{config.NAME}` in `headers` may name."""
    ca_bundle = os.path.expanduser(spec.ca_bundle) if spec.ca_bundle else None
    if ca_bundle:
        _check_ca_bundle(ca_bundle)
    retry = RetryPolicy(
        max_retries=spec.max_retries,
        backoff_factor=spec.backoff_factor,
        backoff_max_seconds=spec.backoff_max_seconds,
        max_retry_after_seconds=spec.max_retry_after_seconds,
    )
    headers = parse_tree(dict(spec.headers), "headers", Known(config=config))
    return HttpSettings(
        timeout=spec.timeout,
        verify_tls=spec.verify_tls,
        ca_bundle=ca_bundle,
        headers=_checked_headers(_register_sensitive({str(k): str(v) for k, v in headers.items()})),
        requests_per_second=spec.requests_per_second,
        retry=retry,
        pool_size=max(10, spec.concurrency * 2),
        rate_limit=_rate_limit(spec.rate_limit, spec.concurrency),
        client_cert=load_client_certificate(spec.client_cert, spec.client_key),
        limits=ResponseLimits(
            max_bytes=int(spec.max_response_mb * MEGABYTE), deadline_seconds=spec.request_deadline_seconds
        ),
    )


def _rate_limit(written: Mapping[str, t.Any] | None, concurrency: int) -> RateLimitSettings:
    """`rate_limit`; `min_remaining` defaults to what requests in flight may still spend.

    With `concurrency` > 1 up to `concurrency` + 1 requests are under way at once, and a
    response's remaining budget does not count the others: waiting once `concurrency` are
    left keeps them all within the budget.
    """
    settings = _mapping(written, "rate_limit")
    built = options.build(RateLimitSettings, settings, "rate_limit", ignore=set())
    if settings.get("min_remaining") is None and concurrency > 1:
        built = dataclasses.replace(built, min_remaining=concurrency)
    return built


def _check_ca_bundle(path: str) -> None:
    """Fail before any request when the CA bundle cannot be used by the TLS layer."""
    if not os.access(path, os.R_OK) or not os.path.isfile(path):
        raise ConfigError(f"ca_bundle: cannot read {path!r}")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ConfigError(f"ca_bundle: {path!r} holds no usable PEM certificate ({exc.reason})") from None


SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "x-auth-token"})
_SECRET_HEADERS: set[str] = set()  # the `secret_headers` setting


def _register_sensitive(values: dict[str, t.Any]) -> dict[str, t.Any]:
    """Treat values of params and headers named like credentials (api_key, token, ...) as secrets,
    and those named in `secret_params` / `secret_headers`.

    They are masked, in every encoding, in every log line (urllib3 logs full URLs at DEBUG)
    and error.
    """
    for name, value in values.items():
        lowered = name.lower()
        if is_sensitive_param(lowered) or lowered in SENSITIVE_HEADERS or lowered in _SECRET_HEADERS:
            redaction.register(str(value))
    return values


def _checked_headers(headers: dict[str, str]) -> dict[str, str]:
    """Refuse header values that would split the header (CR, LF) without printing them."""
    for name, value in headers.items():
        check_token(value, f"headers.{name}")
    return headers


def _mapping(value: t.Any, where: str) -> Mapping[str, t.Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected an object")
    return value


def _stream(raw: t.Any, index: int, default_pagination: t.Any, top_rules: ResponseRules) -> StreamSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"streams[{index}]: expected an object with name and path")
    label = f"streams[{raw.get('name') or index}]"
    if not raw.get("name"):
        raise ConfigError(f"streams[{index}].name is required")
    if not raw.get("path") and not raw.get("job") and not raw.get("graphql"):
        raise ConfigError(f"{label}.path is required (e.g. /v1/users)")
    spec = options.build(StreamOptions, raw, label, ignore=set())
    if spec.job is not None or spec.graphql is not None:
        from tap_restoauth.fetch.graphql import GraphqlSettings  # noqa: PLC0415
        from tap_restoauth.fetch.jobs import JobSettings  # noqa: PLC0415
    job = JobSettings.parse(spec.job, f"{label}.job") if spec.job is not None else None
    if job is not None:
        spec = _job_stream(spec, job, label)
    graphql = GraphqlSettings.parse(spec.graphql, f"{label}.graphql") if spec.graphql is not None else None
    if graphql is not None:
        spec = _graphql_stream(spec, graphql, label, job)
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
    # An inherited pagination is reported under the top-level key the user wrote.
    paginator = (
        graphql.paginator()
        if graphql
        else build_paginator(
            pagination, f"{label}.pagination" if spec.pagination is not None else "pagination"
        )
    )
    if spec.parent_keys and not spec.parent:
        raise ConfigError(f"{label}.parent_keys needs {label}.parent")
    if incremental and not incremental.per_parent and not spec.parent:
        raise ConfigError(f"{label}.incremental.per_parent applies to child streams (with a parent) only")
    if incremental and incremental.order == "desc" and spec.is_sorted:
        raise ConfigError(
            f"{label}: is_sorted means ascending replication_key order; "
            "remove it with incremental.order: desc"
        )
    if spec.partitions and spec.parent:
        raise ConfigError(
            f"{label}.partitions: a child stream takes its partitions from its parent; "
            "set partitions on the root stream"
        )
    settings = StreamSettings(
        name=spec.name,
        path=_path(spec.path),
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
        headers=_register_sensitive({str(k): v for k, v in spec.headers.items()}),
        partitions=check_partitions(list(spec.partitions), f"{label}.partitions"),
        response_rules=parse_rules(spec.response_rules, f"{label}.response_rules")
        + ignore_statuses_rule(spec.ignore_statuses)
        + top_rules,
        decoder=build_decoder(spec.format, f"{label}.format"),
        job=job,
        graphql=graphql,
    )
    deleted_when = None
    if spec.deleted_when is not None:
        deleted_when = options.build(DeletedWhen, spec.deleted_when, f"{label}.deleted_when", ignore=set())
    deletions = _deletions(settings, spec.deletions, label)
    return dataclasses.replace(settings, deletions=deletions, deleted_when=deleted_when)


def _graphql_stream(
    spec: StreamOptions, graphql: GraphqlSettings, label: str, job: JobSettings | None
) -> StreamOptions:
    """A GraphQL stream POSTs its variables (templates, like a body) to `path` (default /graphql);
    the query is added as written when the request is sent."""
    from tap_restoauth.fetch.graphql import DEFAULT_PATH as DEFAULT_GRAPHQL_PATH  # noqa: PLC0415

    taken = [name for name in ("body", "records_path", "format", "pagination") if getattr(spec, name)]
    if job is not None or taken:
        clash = "job" if job is not None else ", ".join(taken)
        raise ConfigError(f"{label}: graphql sets the request body, records and pagination; remove {clash}")
    return dataclasses.replace(
        spec, path=spec.path or DEFAULT_GRAPHQL_PATH, method="POST", body={"variables": graphql.variables}
    )


def _job_stream(spec: StreamOptions, job: JobSettings, label: str) -> StreamOptions:
    """A job stream's request is `job.create`; its format, records_path and pagination are
    `job.download`'s. It declares its schema: discovery creates no job."""
    taken = [name for name in ("path", "body", "records_path", "format", "pagination") if getattr(spec, name)]
    if taken:
        raise ConfigError(f"{label}: with job, set {', '.join(taken)} in job.create / job.download instead")
    if spec.schema is None:
        raise ConfigError(f"{label}: a job stream needs a declared schema (discovery creates no job)")
    create, download = job.create, job.download
    return dataclasses.replace(
        spec,
        path=create.path,
        method=t.cast("t.Any", create.method.upper()),
        body=create.body,
        params={**spec.params, **create.params},
        headers={**spec.headers, **create.headers},
        records_path=download.records_path,
        format=download.format,
        pagination=download.pagination or {"type": "none"},
    )


def _path(path: str) -> str:
    return path if path.startswith(("/", "http://", "https://")) else "/" + path


def _deletions(
    stream: StreamSettings, raw: dict[str, t.Any] | None, label: str
) -> Deletions[StreamSettings] | None:
    """The companion endpoint as its own StreamSettings: the stream's, but for its path and records."""
    if raw is None:
        return None
    where = f"{label}.deletions"
    spec = options.build(DeletionsOptions, raw, where, ignore=set())
    if stream.parent:
        raise ConfigError(f"{where}: a deleted-records endpoint is read for root streams only")
    if len(stream.primary_keys) != 1:
        raise ConfigError(f"{where} needs the stream to have exactly one primary key (primary_keys)")
    if spec.records_path:
        compile_path(spec.records_path, f"{where}.records_path")
    incremental = None
    if spec.incremental is not None:
        incremental = options.build(
            IncrementalSettings, spec.incremental, f"{where}.incremental", ignore=set()
        )
        if incremental.windowed:
            raise ConfigError(f"{where}.incremental: date windows are not supported here; use param only")
        if not spec.deleted_at:
            raise ConfigError(f"{where}.incremental needs {where}.deleted_at (the field it bookmarks)")
    pagination = spec.pagination
    endpoint = dataclasses.replace(
        stream,
        path=_path(spec.path),
        method=spec.method.upper(),
        body=spec.body,
        records_path=spec.records_path,
        params=_register_sensitive({**stream.params, **spec.params}),
        paginator=build_paginator(pagination, f"{where}.pagination") if pagination else stream.paginator,
        replication_key=spec.deleted_at if incremental else None,
        incremental=incremental,
        schema=None,
        is_sorted=False,
        max_pages=stream.max_pages,
    )
    return Deletions(
        endpoint=endpoint,
        primary_key=stream.primary_keys[0],
        key=spec.key or stream.primary_keys[0],
        deleted_at=spec.deleted_at,
        incremental=incremental is not None,
    )


@dataclasses.dataclass(frozen=True)
class _Scope:
    """What streams inherit from the top level."""

    config: Mapping[str, t.Any]
    params: Mapping[str, t.Any]
    partitions: tuple[Mapping[str, t.Any], ...]
    start_date: dt.datetime | None


def _parent_fields(stream: StreamSettings) -> dict[str, str]:
    """`{parent.FIELD}` placeholders as context keys: an existing parent_keys key, else `parent_FIELD`."""
    texts = _request_texts(stream)
    by_field = {field: key for key, field in stream.parent_keys.items()}
    fields: dict[str, str] = {}
    for text in texts:
        for name in placeholder_names(text):
            if name.startswith("parent."):
                field = name[len("parent.") :]
                fields[field] = by_field.get(field, "parent_" + field.replace(".", "_"))
    return fields


def _token_fields(config: Mapping[str, t.Any]) -> tuple[str, ...]:
    """`auth.token_response_extras`: what `{token.FIELD}` may name (validated with the auth)."""
    auth = config.get("auth")
    extras = auth.get("token_response_extras") if isinstance(auth, Mapping) else None
    return tuple(str(name) for name in extras) if isinstance(extras, (list, tuple)) else ()


def _check_secrets_stay_at_api(stream: StreamSettings, scope: _Scope, label: str) -> None:
    """A credential placed by a template goes only to the API's origin (`api_url`'s)."""
    if not stream.path.startswith(("http://", "https://")):
        return
    target = Origin.of(stream.path)
    if target is not None and target == Origin.of(str(scope.config.get("api_url", ""))):
        return
    texts = _request_texts(stream)
    placed = sorted({name for text in texts for name in secret_placeholders(text, scope.config)})
    if placed:
        names = ", ".join("{" + name + "}" for name in placed)
        raise ConfigError(
            f"{label}: the path is on another origin than api_url ({target or 'not http(s)'}), and the "
            f"request would carry the credential of {names}; credentials "
            "in templates go only to api_url's origin"
        )


def _request(stream: StreamSettings, scope: _Scope, parent: StreamSettings | None) -> StreamSettings:
    """The stream with its request templates parsed and checked against what they may name."""
    label = f"streams[{stream.name}]"
    _check_secrets_stay_at_api(stream, scope, label)
    parent_fields = _parent_fields(stream) if parent else {}
    parent_keys = {**stream.parent_keys, **{key: field for field, key in parent_fields.items()}}
    partitions = stream.partitions or (scope.partitions if not parent else ())
    partition_keys = parent.partition_keys if parent else tuple(partitions[0]) if partitions else ()
    inherited = parent.context_keys if parent else partition_keys
    keys = tuple(dict.fromkeys([*inherited, *parent_keys]))
    incremental = stream.incremental
    params = {**scope.params, **stream.params}
    if incremental and incremental.param and incremental.param not in params:
        params[incremental.param] = "{start}" if incremental.windowed else "{bookmark}"
    if incremental and incremental.end_param and incremental.end_param not in params:
        params[incremental.end_param] = "{end}"
    known = Known(
        context_keys=keys,
        parent_fields={field: key for field, key in parent_fields.items()},
        partition_keys=partition_keys,
        config=scope.config,
        token_fields=_token_fields(scope.config),
        bookmark=bool(stream.replication_key),
        window=bool(stream.replication_key),
    )
    templates = RequestTemplates.parse(
        label,
        known,
        path=stream.path,
        params={k: v for k, v in params.items() if v is not None},
        headers=stream.headers,
        body=stream.body,
    )
    for rendered in (templates.headers, templates.params):  # `{config.NAME}` values are known now
        _register_sensitive({k: v for k, v in rendered.items() if isinstance(v, (str, int))})
    windowed = bool(incremental and incremental.windowed) or templates.uses("start", "end")
    job = stream.job.compiled(f"{label}.job", known) if stream.job is not None else None
    if windowed:
        if stream.schema is not None and not is_timestamp(stream.schema, str(stream.replication_key)):
            raise ConfigError(f"{label}: date windows ({{start}}/{{end}}) need a date-time replication_key")
        if scope.start_date is None:
            raise ConfigError(f"{label}: date windows ({{start}}/{{end}}) need start_date")
    return dataclasses.replace(
        stream,
        parent_keys=parent_keys,
        context_keys=keys,
        partitions=partitions,
        partition_keys=partition_keys,
        templates=templates,
        windowed=windowed,
        job=job,
    )


def _order_by_parent(streams: list[StreamSettings], scope: _Scope) -> tuple[StreamSettings, ...]:
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
        parent = None
        if stream.parent:
            parent = resolve(by_name[stream.parent], (*chain, stream.name))
            if parent.schema is not None:
                lacking = [f for f in stream.parent_keys.values() if f not in parent.schema["properties"]]
                if lacking:
                    raise ConfigError(
                        f"streams[{stream.name}].parent_keys: parent {parent.name!r} has no "
                        f"field(s) {', '.join(lacking)} in its declared schema"
                    )
        done = _request(stream, scope, parent)
        if done.deletions is not None:
            companion = _request(done.deletions.endpoint, scope, parent)
            done = dataclasses.replace(
                done, deletions=dataclasses.replace(done.deletions, endpoint=companion)
            )
        resolved[stream.name] = done
        ordered.append(done)
        return done

    ordered: list[StreamSettings] = []
    for stream in streams:
        resolve(stream, ())
    return tuple(ordered)


def _request_texts(stream: StreamSettings) -> list[str]:
    """The path and every string of params, headers and body: where a stream's placeholders stand."""
    return [stream.path, *templates.strings_in([stream.params, stream.headers, stream.body])]

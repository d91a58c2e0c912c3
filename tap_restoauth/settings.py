"""Every setting of the tap, declared once: a field whose type, default and description are the
`--about` schema (so meltano.yml, the Hub file and docs/settings.md) and what config.py parses.

    max_retries: int = setting("Retries of a failed request.", default=5, at_least=0)

Standard library only (declare.py): `--about` imports this module and nothing of the tap.
An object whose own settings another module parses (`auth`, `pagination`, `job`, `shard`...)
is declared by a class here (`of=`), which the owner parses or subclasses, adding its
behaviour: each auth type and paginator subclasses its options class (`BasicOptions`,
`OffsetPaging`...), and `--about` lists the types' options together under `auth` / `pagination`.
"""

import dataclasses
import typing as t

from tap_restoauth.declare import DATE_TIME, OBJECT, object_schema, redeclare, setting

OBJECTS = {"type": "array", "items": OBJECT}
RESPONSE_RULES_DOC = (
    "`[{status, body_path, equals | contains, message_path, action}]`, tried in order before the "
    "built-in handling; action: retry, ignore, fail, refresh_token or stop (see docs/responses.md)."
)
Names = tuple[str, ...]
# An auth type's or paginator's options class only declares fields: its subclass in auth/ or
# fetch/ is the dataclass built (and its methods are generated there, once).
FIELDS_ONLY: dict[str, t.Any] = {"init": False, "repr": False, "eq": False}
# The other classes are config as written, built once and read, never compared or printed.
AS_WRITTEN: dict[str, t.Any] = {"repr": False, "eq": False}


# Auth types (auth/ subclasses each with its behaviour; `auth.type` picks one). Not frozen:
# an auth holds its tokens. `readers` is how --about names the types reading an option.
OAUTH2 = "oauth2_*"
OAUTH2_AND_SESSION = "oauth2_*, session_token"
KEY_READERS = "private_key_jwt, oauth2_jwt_bearer"
PRUNING_READERS = "oauth2_refresh_token in Secret Manager"
ClientAuthMethod = t.Literal[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "none",
]
TokenRequestFormat = t.Literal["form", "json", "query"]


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class NoAuthOptions:
    """The options of `auth.type: none`, parsed by its subclass."""

    type: t.ClassVar[str] = "none"


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class BasicOptions:
    """The options of `auth.type: basic`, parsed by its subclass."""

    type: t.ClassVar[str] = "basic"
    username: str = setting("user name.", required=True, loose=True)
    password: str = setting("password.", required=True, loose=True, secret=True)


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class BearerOptions:
    """The options of `auth.type: bearer`, parsed by its subclass."""

    type: t.ClassVar[str] = "bearer"
    token: str = setting("the static token.", required=True, loose=True, secret=True)


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class ApiKeyOptions:
    """The options of `auth.type: api_key`, parsed by its subclass."""

    type: t.ClassVar[str] = "api_key"
    name: str = setting("header or query parameter name.", required=True, loose=True)
    value: str = setting("the key.", required=True, loose=True, secret=True)
    location: t.Literal["header", "query"] = setting(
        "`header` (default) or `query`.", key="in", fallback="header"
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class ClientKeyFields:
    """The key signing assertions (auth/client_auth.py's `ClientKeyOptions` uses it)."""

    private_key: str | None = setting(
        "RSA or EC private key signing the assertions (PEM text, a PEM file path or sm://).",
        secret=True,
        readers=KEY_READERS,
    )
    private_key_id: str | None = setting("`kid` JWT header.", readers=KEY_READERS)
    signing_algorithm: str | None = setting(
        "RS256 (RSA default), PS256, ES256 (P-256), ...", readers=KEY_READERS
    )
    assertion_lifetime_seconds: float = setting(
        "assertion `exp` minus `iat` (default 60; 300 for oauth2_jwt_bearer).",
        fallback=60.0,
        readers=KEY_READERS,
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class TokenShapeFields:
    """Where the token is in the response (auth/token_response.py's `TokenShape` reads it)."""

    access_token_path: str = setting(
        "path of the token in the response (dotted or JSONPath; default access_token).",
        fallback="access_token",
        readers=OAUTH2_AND_SESSION,
    )
    expires_in_path: str = setting(
        "path of the lifetime in seconds (default expires_in).",
        fallback="expires_in",
        readers=OAUTH2_AND_SESSION,
    )
    expires_at_path: str | None = setting(
        "path of an absolute expiry (ISO 8601, epoch s or ms).", readers=OAUTH2_AND_SESSION
    )
    default_expires_in_seconds: float | None = setting(
        "lifetime assumed when the response gives none.", readers=OAUTH2_AND_SESSION
    )
    token_request_format: TokenRequestFormat = setting(
        "`form` (default; session_token: `json`), `json` or `query`.",
        fallback="form",
        readers=OAUTH2_AND_SESSION,
    )
    token_response_extras: Names = setting(
        "token-response fields kept for templates (e.g. instance_url).",
        fallback=(),
        readers=OAUTH2_AND_SESSION,
    )
    api_url_from_token: str | None = setting(
        "token-response field whose URL replaces api_url's scheme and host (Salesforce: instance_url).",
        readers=OAUTH2_AND_SESSION,
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class OAuth2ClientCredentialsOptions(TokenShapeFields, ClientKeyFields):
    """The options of `auth.type: oauth2_client_credentials`, parsed by its subclass."""

    type: t.ClassVar[str] = "oauth2_client_credentials"
    token_url: str = setting(
        "the token endpoint (https unless loopback).", required=True, loose=True, readers=OAUTH2
    )
    client_id: str | None = setting("client id.", required=True, loose=True, readers=OAUTH2)
    client_secret: str | None = setting("client secret.", secret=True, readers=OAUTH2)
    client_auth_method: ClientAuthMethod = setting(
        "`client_secret_basic` (default, RFC 6749 2.3.1), `client_secret_post`, "
        "`client_secret_jwt` (RFC 7523 assertion, HS256 with client_secret), "
        "`private_key_jwt` (RFC 7523 assertion signed with private_key), `tls_client_auth` (RFC 8705: "
        "client_cert authenticates) or `none` (public client).",
        fallback="client_secret_basic",
        readers=OAUTH2,
    )
    scopes: Names = setting("scopes, sent space-separated.", fallback=(), readers=OAUTH2)
    audience: str | None = setting("`audience` form field, if the provider needs it.", readers=OAUTH2)
    resource: str | None = setting("`resource` form field (RFC 8707).", readers=OAUTH2)
    token_params: dict[str, t.Any] = setting(
        "extra form fields for the token request.", fallback={}, readers=OAUTH2
    )
    token_headers: dict[str, t.Any] = setting(
        "extra headers for the token request.", fallback={}, readers=OAUTH2
    )
    expiry_skew_seconds: float = setting(
        "renew the token this many seconds before it expires (default 60, at most half its lifetime).",
        fallback=60.0,
        readers=OAUTH2,
    )
    allow_insecure_token_url: bool = setting(
        "allow a plain-http token_url on a non-loopback host (sends secrets in clear).",
        fallback=False,
        readers=OAUTH2,
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class OAuth2RefreshTokenOptions(OAuth2ClientCredentialsOptions):
    """The options of `auth.type: oauth2_refresh_token`, parsed by its subclass."""

    type: t.ClassVar[str] = "oauth2_refresh_token"
    refresh_token: str | None = setting("the refresh token.", secret=True)
    refresh_token_file: str | None = setting(
        "file holding the current refresh token; rotated tokens are written back to it (mode 0600)."
    )
    share_tokens: bool | None = setting(  # None: when the run is one shard of several (auth/lease.py)
        "processes running at once share one refresh and access token through a lease on the secret "
        "or file they are stored in (default: on when shard.count > 1). See docs/cloud-run-jobs.md."
    )
    lease_seconds: float = setting(
        "how long a token lease lasts (default 60); a crashed holder blocks renewals this long. "
        "Must exceed a token request's duration.",
        fallback=60.0,
    )
    keep_versions: int = setting(  # auth/version_pruning.py
        "after adding a version, prune all but the newest this many (default 10; 0: never prune).",
        fallback=10,
        readers=PRUNING_READERS,
    )
    prune: t.Literal["destroy", "disable"] = setting(
        "`destroy` (default) or `disable` old versions.", fallback="destroy", readers=PRUNING_READERS
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class OAuth2PasswordOptions(OAuth2ClientCredentialsOptions):
    """The options of `auth.type: oauth2_password`, parsed by its subclass."""

    type: t.ClassVar[str] = "oauth2_password"
    username: str = redeclare(BasicOptions, "username", required=True)
    password: str = redeclare(BasicOptions, "password", required=True)


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class OAuth2JwtBearerOptions(OAuth2ClientCredentialsOptions):
    """The options of `auth.type: oauth2_jwt_bearer`, parsed by its subclass."""

    type: t.ClassVar[str] = "oauth2_jwt_bearer"
    client_id: str | None = redeclare(OAuth2ClientCredentialsOptions, "client_id")
    client_auth_method: ClientAuthMethod = redeclare(
        OAuth2ClientCredentialsOptions, "client_auth_method", fallback="none"
    )
    issuer: str | None = setting("`iss` (service account email).")
    subject: str | None = setting("`sub`, the user acted for.")
    assertion_audience: str | None = setting("`aud` of the assertion (default token_url).")
    assertion_claims: dict[str, t.Any] = setting("extra assertion claims.", fallback={})
    assertion_lifetime_seconds: float = redeclare(
        ClientKeyFields, "assertion_lifetime_seconds", fallback=300.0
    )


@dataclasses.dataclass(kw_only=True, **FIELDS_ONLY)
class SessionTokenOptions(OAuth2ClientCredentialsOptions):
    """The options of `auth.type: session_token`, parsed by its subclass."""

    type: t.ClassVar[str] = "session_token"
    token_url: str = setting("the login endpoint.", required=True, loose=True, key="login_url")
    client_id: str | None = redeclare(OAuth2ClientCredentialsOptions, "client_id")
    client_auth_method: ClientAuthMethod = redeclare(
        OAuth2ClientCredentialsOptions, "client_auth_method", fallback="none"
    )
    token_request_format: TokenRequestFormat = redeclare(
        TokenShapeFields, "token_request_format", fallback="json"
    )
    username: str | None = redeclare(BasicOptions, "username")
    password: str | None = redeclare(BasicOptions, "password")
    username_field: str = setting("login field for username (username).", fallback="username")
    password_field: str = setting("login field for password (password).", fallback="password")
    header_name: str = setting(
        "header carrying the session token (default Authorization).", fallback="Authorization"
    )
    header_prefix: str = setting(
        "text before the token in the header (default Bearer; empty: none).", fallback="Bearer"
    )


AUTH_OPTIONS = (
    NoAuthOptions,
    BasicOptions,
    BearerOptions,
    ApiKeyOptions,
    OAuth2ClientCredentialsOptions,
    OAuth2RefreshTokenOptions,
    OAuth2PasswordOptions,
    OAuth2JwtBearerOptions,
    SessionTokenOptions,
)


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class AuthOptions:
    """`auth`: `type`, then the options of the types (`VARIANTS`)."""

    VARIANTS: t.ClassVar[tuple[t.Any, ...]] = AUTH_OPTIONS
    type: str = setting(f"Auth type: {', '.join(c.type for c in AUTH_OPTIONS)}.", default="none")


# Paginators (fetch/pagination.py subclasses each with its behaviour; `pagination.type` picks one).
# `--about` lists their options together, each after the types that read it.
START = "first page (1) or offset (0)."
HAS_MORE = "JSONPath of a has-more flag."


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class NoPaging:
    """The options of `pagination.type: none`, parsed by its subclass."""

    type: t.ClassVar[str] = "none"


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class PageNumberPaging:
    """The options of `pagination.type: page_number`, parsed by its subclass."""

    type: t.ClassVar[str] = "page_number"
    page_param: str = setting("page parameter (default `page`).", fallback="page")
    size_param: str | None = setting("page size parameter.")
    page_size: int | None = setting("records per page to ask for.")
    start: int = setting(START, fallback=1)
    has_more_path: str | None = setting(HAS_MORE)
    total_pages_path: str | None = setting("JSONPath of the page count.")
    total_records_path: str | None = setting("JSONPath of the record count.")
    page_body_path: str | None = setting("JSONPath in the JSON body for the page.")


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class OffsetPaging:
    """The options of `pagination.type: offset`, parsed by its subclass."""

    type: t.ClassVar[str] = "offset"
    offset_param: str = setting("offset parameter (default `offset`).", fallback="offset")
    limit_param: str = setting("limit parameter (default `limit`).", fallback="limit")
    limit: int = setting("records per request (default 100).", fallback=100)
    start: int = setting(START, fallback=0)
    total_path: str | None = setting("JSONPath of the record count.")
    offset_body_path: str | None = setting("JSONPath in the JSON body for the offset.")
    limit_body_path: str | None = setting("JSONPath in the JSON body for the limit.")


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class CursorPaging:
    """The options of `pagination.type: cursor`, parsed by its subclass."""

    type: t.ClassVar[str] = "cursor"
    cursor_param: str = setting("parameter receiving the cursor.", fallback="cursor")
    cursor_path: str | None = setting("JSONPath of the next cursor.")
    cursor_header: str | None = setting("response header holding the cursor.")
    has_more_path: str | None = setting(HAS_MORE)
    cursor_body_path: str | None = setting("JSONPath in the JSON body for the cursor.")
    stop_value: str | None = setting(
        "a cursor value meaning there is no next page (Salesforce's `Sforce-Locator: null`)."
    )


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class NextUrlPaging:
    """The options of `pagination.type: next_url`, parsed by its subclass."""

    type: t.ClassVar[str] = "next_url"
    next_url_path: str = setting("JSONPath of the next page's URL.", required=True, loose=True)


@dataclasses.dataclass(frozen=True, kw_only=True, **FIELDS_ONLY)
class LinkHeaderPaging:
    """The options of `pagination.type: link_header`, parsed by its subclass."""

    type: t.ClassVar[str] = "link_header"
    rel: str = setting("link relation to follow (default `next`).", fallback="next")


PAGINATION_OPTIONS = (NoPaging, PageNumberPaging, OffsetPaging, CursorPaging, NextUrlPaging, LinkHeaderPaging)


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class PaginationOptions:
    """`pagination`: `type`, then the options of the types (`VARIANTS`)."""

    VARIANTS: t.ClassVar[tuple[t.Any, ...]] = PAGINATION_OPTIONS
    type: str | None = setting(f"Pagination type: {', '.join(c.type for c in PAGINATION_OPTIONS)}.")


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class JobOptions:
    """A stream's `job`, parsed by fetch/jobs.py (`JobSettings.parse`)."""

    create: dict[str, t.Any] | None = setting("`{method, path, params, body, id_path}`.")
    poll: dict[str, t.Any] | None = setting(
        "`{path, status_path, done, failed, interval_seconds, max_interval_seconds, "
        "timeout_minutes, message_path}`; `{job.id}`/`{job.FIELD}` in path, params and body."
    )
    download: dict[str, t.Any] | None = setting(
        "`{urls_path | path, format, records_path, pagination}`; URLs on other "
        "origins are fetched without credentials, https only."
    )
    max_concurrent_jobs: int | None = setting("Jobs in flight (default: concurrency).")


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class GraphqlOptions:
    """A stream's `graphql`; fetch/graphql.py's `GraphqlSettings` adds its checks and paginator."""

    query: str = setting("The query, sent as written.", required=True, loose=True)
    variables: dict[str, t.Any] = setting(
        "Its variables; strings may hold placeholders (`{bookmark}`, `{parent.id}`).", fallback={}
    )
    connection_path: str = setting(
        "Where `pageInfo` and `edges`/`nodes` are, e.g. `$.data.orders`.", required=True, loose=True
    )
    cursor_variable: str = setting("Receives `endCursor` (default `after`).", fallback="after")
    allow_partial: bool = setting("Keep data that comes with errors.", fallback=False)


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class StreamOptions:
    """One entry of `streams`, as written; config.py builds its `StreamSettings`."""

    name: str = setting("Stream name.", required=True)
    path: str = setting(
        "Path below api_url (required, except with `job` or `graphql`, or in an entry patching "
        "a stream derived by `openapi`); placeholders such as `{parent.id}`, `{partition.NAME}` (see "
        "docs/requests.md) are percent-encoded.",
        fallback="",
    )
    method: t.Literal["GET", "POST", "get", "post"] = setting("GET (default) or POST.", fallback="GET")
    body: t.Any = setting(
        "JSON body (POST search endpoints); strings may hold placeholders such as `{bookmark}`.",
        schema=OBJECT,
    )
    params: dict[str, t.Any] = setting(
        "Query parameters of this stream, over the top-level ones (null removes one).", fallback={}
    )
    headers: dict[str, t.Any] = setting("Headers of this stream, over the top-level ones.", fallback={})
    partitions: tuple[dict[str, t.Any], ...] = setting(
        "Static partitions, e.g. `[{account_id: a1}, {account_id: a2}]`: one read and one "
        "bookmark each; `{partition.account_id}` in the request.",
        fallback=(),
    )
    records_path: str | None = setting("JSONPath to the records, e.g. `$.data[*]`.")
    primary_keys: Names = setting("Primary key fields.", fallback=())
    replication_key: str | None = setting("Field bookmarked for incremental sync.")
    incremental: dict[str, t.Any] | None = setting(
        "`{param, format}`: query param receiving the bookmark; date windows `end_param`, "
        "`step`, `lookback`, `end`, `granularity`; `order: desc`; `per_parent` (docs/requests.md)."
    )
    pagination: dict[str, t.Any] | None = setting("Pagination of this stream (overrides the default).")
    schema: t.Any = setting("JSON Schema or file path.", schema={"type": ["object", "string"]})
    parent: str | None = setting("Parent stream name.")
    parent_keys: dict[str, t.Any] = setting("`{template_key: parent_field}`.", fallback={})
    max_pages: int | None = setting("Stop after this many pages per parent.")
    ignore_statuses: tuple[int, ...] = setting(
        "HTTP statuses to skip (e.g. 404); shorthand for response_rules with action ignore.", fallback=()
    )
    response_rules: list[t.Any] | None = setting(
        "This stream's response rules, tried before the top-level ones. " + RESPONSE_RULES_DOC, schema=OBJECTS
    )
    format: t.Any = setting(
        "Response format: json (default), jsonl, csv or xml, or an object such as "
        "`{type: csv, delimiter: ';'}` / `{type: xml, records_path: /feed/entry}`; gzip is detected.",
        schema={"type": ["string", "object"]},
    )
    job: dict[str, t.Any] | None = setting(
        "An asynchronous export job per window/partition: create, poll, download "
        "(docs/responses.md#asynchronous-export-jobs).",
        of=JobOptions,
    )
    graphql: dict[str, t.Any] | None = setting(
        "A GraphQL connection, POSTed to `path` (default /graphql); errors in a 200, "
        "THROTTLED and query cost handled (docs/responses.md#graphql).",
        of=GraphqlOptions,
    )
    deletions: dict[str, t.Any] | None = setting(
        "A deleted-records endpoint: `{path, records_path, key, deleted_at, params, "
        "incremental: {param, format}}`; each id becomes a RECORD with `_sdc_deleted_at` "
        "(docs/deletions.md)."
    )
    deleted_when: dict[str, t.Any] | None = setting(
        "`{field, equals, deleted_at}`: records whose field equals the value get "
        "`_sdc_deleted_at` (e.g. `{field: archived, equals: true}`)."
    )
    is_sorted: bool = setting(
        "The API returns records in ascending replication_key order: the bookmark then "
        "advances with every page, so an interrupted run resumes where it stopped.",
        fallback=False,
    )


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class OpenapiOptions:
    """`openapi`, parsed by openapi/runtime.py."""

    document: str = setting(
        "The OpenAPI 3.x (or Swagger 2.0) document, YAML or JSON: a file path, an http(s) URL "
        "(fetched without credentials, within max_response_mb) or sm://.",
        required=True,
    )
    include: Names = setting("Keep paths or operationIds matching these globs.", fallback=())
    exclude: Names = setting("Drop paths or operationIds matching these globs.", fallback=())
    tags: Names = setting("Keep operations with one of these tags.", fallback=())
    max_depth: int = setting("Nesting kept in declared schemas.", default=8, at_least=1)


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class RateLimitOptions:
    """`rate_limit`; http/ratelimit.py's `RateLimitSettings` adds how the headers are read."""

    enabled: bool = setting("Read rate-limit headers (default true).", fallback=True)
    remaining_header: str | None = setting("Header with the requests left.")
    reset_header: str | None = setting("Header with the reset time.")
    reset_format: t.Literal["auto", "epoch", "epoch_ms", "seconds", "http_date"] = setting(
        "auto (default), epoch, epoch_ms, seconds or http_date.", fallback="auto"
    )
    min_remaining: int = setting(
        "Wait for the reset once this few are left (default: 0, or `concurrency` when above 1, "
        "so requests in flight stay within the budget).",
        fallback=0,
    )


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class SecretSettings:
    """`secrets`: Google Secret Manager, for auth/secret_manager.py."""

    gcp_project: str | None = setting("Project for `sm://SECRET` references.")
    endpoint: str | None = setting("Secret Manager endpoint (regional endpoints, tests).")
    timeout_seconds: float = setting(
        "Give up on a Secret Manager call after this many seconds, retries of UNAVAILABLE included.",
        default=30,
        above=0,
    )


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class ShardOptions:
    """`shard`, parsed by sync/shards.py (which also reads the job engine's variables)."""

    index: int | None = setting("This process's shard, 0 to count-1.")
    count: int | None = setting("How many shards split the work.")
    index_env: str | None = setting("Environment variable holding the index (any engine).")
    count_env: str | None = setting("Environment variable holding the count.")


@dataclasses.dataclass(frozen=True, kw_only=True, **AS_WRITTEN)
class TapOptions:
    """The top-level settings, as written; config.py builds `TapSettings` from them."""

    api_url: str = setting("Base URL of the API.", required=True)
    auth: dict[str, t.Any] | None = setting(
        "Authentication; see docs/configuration.md for each type.", of=AuthOptions
    )
    headers: dict[str, t.Any] = setting(
        "Headers sent with every API request (api_url's origin and trusted_origins only; "
        "never to token_url).",
        fallback={},
    )
    params: dict[str, t.Any] = setting("Query parameters sent with every request.", fallback={})
    trusted_origins: Names = setting(
        "Other origins (`https://host[:port]`) that may receive the credentials, configured "
        "headers and params; a page or redirect on any other origin is refused or sent without them.",
        fallback=(),
    )
    secret_params: Names = setting(
        "Query parameter names whose values are secrets (masked everywhere, never sent to "
        "other origins), on top of the built-in list (api_key, token, ...).",
        fallback=(),
    )
    secret_headers: Names = setting(
        "Header names whose configured values are secrets (masked everywhere), on top of "
        "the built-in list (Authorization, X-Api-Key, ...).",
        fallback=(),
    )
    start_date: t.Any = setting("Earliest replication key value to extract.", schema=DATE_TIME)
    end_date: t.Any = setting(
        "Where date-windowed streams stop (default: now), unless a stream sets incremental.end.",
        schema=DATE_TIME,
    )
    partitions: t.Any = setting(
        "Static partitions of every root stream (see the stream setting).", schema=OBJECTS
    )
    timeout: float = setting("Connect and read timeout, seconds.", default=60, above=0)
    verify_tls: bool = setting("Verify TLS certificates.", default=True)
    ca_bundle: str | None = setting("PEM file of CAs to trust (private CAs).")
    client_cert: str | None = setting(
        "Mutual TLS: client certificate (chain) for API and token requests: PEM text, a PEM "
        "file path or sm://."
    )
    client_key: str | None = setting(
        "Mutual TLS: the client certificate's unencrypted private key: PEM text, a file path or sm://.",
        secret=True,
    )
    pagination: dict[str, t.Any] | None = setting(
        "Default pagination for streams (a stream's own overrides it).", of=PaginationOptions
    )
    streams: list[dict[str, t.Any]] | None = setting(
        "The endpoints to extract. With `openapi`, entries patch the derived stream of the "
        "same name (only the keys they set) or add streams.",
        of=StreamOptions,
    )
    openapi: dict[str, t.Any] | None = setting(
        "Derive streams from an OpenAPI document at start-up.", of=OpenapiOptions
    )
    schema_sample_size: int = setting("Records sampled to infer a schema.", default=100)
    concurrency: int = setting("Parallel requests (pages, child streams).", default=1)
    requests_per_second: float | None = setting("Client-side rate limit, all streams together.", above=0)
    max_retries: int = setting("Retries of a failed request.", default=5, at_least=0)
    backoff_factor: float = setting(
        "First backoff wait, seconds; doubles on each retry (with jitter) up to backoff_max_seconds.",
        default=1,
        at_least=0,
    )
    backoff_max_seconds: float = setting("Longest backoff wait.", default=60, at_least=0)
    max_retry_after_seconds: float = setting(
        "Longest wait (Retry-After, rate-limit reset) the tap sits out; a longer one is a "
        "used-up quota (see on_quota_exhausted).",
        default=300,
        at_least=0,
    )
    response_rules: list[t.Any] | None = setting(
        "Rules for every stream. " + RESPONSE_RULES_DOC, schema=OBJECTS
    )
    rate_limit: dict[str, t.Any] | None = setting(
        "The API's rate-limit headers (X-RateLimit-*, RateLimit-* by default): when the "
        "budget is used up, every thread waits for the reset instead of hitting 429.",
        of=RateLimitOptions,
    )
    on_quota_exhausted: t.Literal["stop", "fail"] = setting(
        "When the API asks to wait longer than max_retry_after_seconds: `stop` ends the run "
        "early with exit 0 and resumable STATE; `fail` exits 1.",
        default="stop",
    )
    max_response_mb: float = setting(
        "Largest response body accepted, in MB, counted after decompression; a larger "
        "one (or a gzip bomb) fails the run with one line instead of exhausting memory.",
        default=256,
        above=0,
    )
    request_deadline_seconds: float = setting(
        "Longest time one request attempt may take from connect to the body's last "
        "byte (API and token endpoint); `timeout` only bounds each read.",
        default=300,
        above=0,
    )
    progress_interval_seconds: float = setting(
        "Seconds between per-stream progress lines (records, pages, rate).", default=30
    )
    state_interval_seconds: float = setting(
        "Streams with per-parent or per-partition bookmarks write STATE at most this often "
        "(and at the end); 0: after every parent.",
        default=10,
        at_least=0,
    )
    state_max_partitions: int = setting(
        "Per-parent bookmarks kept per stream; older ones fold into one stream-level bookmark.",
        default=10000,
        at_least=1,
    )
    metrics_log_level: str = setting(
        "Level of the SDK's METRIC lines (per stream and parent record): DEBUG hides "
        "them from an INFO log; INFO shows them.",
        default="DEBUG",
    )
    secrets: dict[str, t.Any] | None = setting(
        "Google Secret Manager for `sm://` references.", of=SecretSettings
    )
    shard: dict[str, t.Any] | None = setting(
        "Split the work between processes: each stream without partitions and each "
        "partition (parent record, window, static partition) belongs to one shard by a stable hash. "
        "Defaults: the job engine's task index (Cloud Run Jobs, Kubernetes Indexed Jobs "
        "JOB_COMPLETION_INDEX, AWS Batch array jobs) and count (or TAP_RESTOAUTH_SHARD_COUNT), else 0 of 1. "
        "See docs/cloud-run-jobs.md.",
        of=ShardOptions,
    )
    audit: bool = setting(
        "Add the `_audit` stream: one record per stream and partition per run (records, pages, "
        "declared total, retries, token renewals, shard, times, outcome).",
        default=False,
    )
    emit_activate_version_messages: bool = setting(
        "Full-table streams tag records with the run's version and send ACTIVATE_VERSION "
        "after a complete read, so targets drop rows the API no longer has (see docs/deletions.md); "
        "never after a failed or interrupted run. Not with shard.count > 1.",
        default=False,
    )
    audit_fail_on_mismatch: bool = setting(
        "Fail the run when an API's declared total differs from the records emitted (needs audit).",
        default=False,
    )


CONFIG_SCHEMA: dict[str, t.Any] = {
    **{key: value for key, value in object_schema(TapOptions).items() if key != "additionalProperties"},
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}

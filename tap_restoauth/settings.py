"""Every setting of the tap, declared once: the source of --about, meltano.yml and the README."""

from __future__ import annotations

from singer_sdk import typing as th

AUTH_TYPES_DOC = (
    "none, basic, bearer, api_key, oauth2_client_credentials, oauth2_refresh_token, oauth2_password, "
    "oauth2_jwt_bearer, session_token"
)

AUTH = th.ObjectType(
    th.Property("type", th.StringType, description=f"Auth type: {AUTH_TYPES_DOC}.", default="none"),
    th.Property("username", th.StringType, description="basic, oauth2_password, session_token: user name."),
    th.Property(
        "password", th.StringType, secret=True, description="basic, oauth2_password, session_token: password."
    ),
    th.Property("token", th.StringType, secret=True, description="bearer: the static token."),
    th.Property("name", th.StringType, description="api_key: header or query parameter name."),
    th.Property("value", th.StringType, secret=True, description="api_key: the key."),
    th.Property("in", th.StringType, description="api_key: `header` (default) or `query`."),
    th.Property(
        "token_url", th.StringType, description="oauth2_*: the token endpoint (https unless loopback)."
    ),
    th.Property("client_id", th.StringType, description="oauth2_*: client id."),
    th.Property("client_secret", th.StringType, secret=True, description="oauth2_*: client secret."),
    th.Property(
        "client_auth_method",
        th.StringType,
        description="oauth2_*: `client_secret_basic` (default, RFC 6749 2.3.1), `client_secret_post`, "
        "`client_secret_jwt` (RFC 7523 assertion, HS256 with client_secret), "
        "`private_key_jwt` (RFC 7523 assertion signed with private_key), `tls_client_auth` (RFC 8705: "
        "client_cert authenticates) or `none` (public client).",
    ),
    th.Property(
        "private_key",
        th.StringType,
        secret=True,
        description="private_key_jwt, oauth2_jwt_bearer: RSA or EC private key signing the assertions "
        "(PEM text, a PEM file path or sm://).",
    ),
    th.Property(
        "private_key_id", th.StringType, description="private_key_jwt, oauth2_jwt_bearer: `kid` JWT header."
    ),
    th.Property(
        "signing_algorithm",
        th.StringType,
        description="private_key_jwt, oauth2_jwt_bearer: RS256 (RSA default), PS256, ES256 (P-256), ...",
    ),
    th.Property(
        "assertion_lifetime_seconds",
        th.NumberType,
        description="private_key_jwt, oauth2_jwt_bearer: assertion `exp` minus `iat` (default 60; 300 for "
        "oauth2_jwt_bearer).",
    ),
    th.Property("issuer", th.StringType, description="oauth2_jwt_bearer: `iss` (service account email)."),
    th.Property("subject", th.StringType, description="oauth2_jwt_bearer: `sub`, the user acted for."),
    th.Property(
        "assertion_audience",
        th.StringType,
        description="oauth2_jwt_bearer: `aud` of the assertion (default token_url).",
    ),
    th.Property(
        "assertion_claims", th.ObjectType(), description="oauth2_jwt_bearer: extra assertion claims."
    ),
    th.Property(
        "access_token_path",
        th.StringType,
        description="oauth2_*, session_token: path of the token in the response (dotted or JSONPath; "
        "default access_token).",
    ),
    th.Property(
        "expires_in_path",
        th.StringType,
        description="oauth2_*, session_token: path of the lifetime in seconds (default expires_in).",
    ),
    th.Property(
        "expires_at_path",
        th.StringType,
        description="oauth2_*, session_token: path of an absolute expiry (ISO 8601, epoch s or ms).",
    ),
    th.Property(
        "default_expires_in_seconds",
        th.NumberType,
        description="oauth2_*, session_token: lifetime assumed when the response gives none.",
    ),
    th.Property(
        "token_request_format",
        th.StringType,
        description="oauth2_*, session_token: `form` (default; session_token: `json`), `json` or `query`.",
    ),
    th.Property(
        "token_response_extras",
        th.ArrayType(th.StringType),
        description="oauth2_*, session_token: token-response fields kept for templates (e.g. instance_url).",
    ),
    th.Property(
        "api_url_from_token",
        th.StringType,
        description="oauth2_*, session_token: token-response field whose URL replaces api_url's scheme "
        "and host (Salesforce: instance_url).",
    ),
    th.Property("login_url", th.StringType, description="session_token: the login endpoint."),
    th.Property(
        "username_field", th.StringType, description="session_token: login field for username (username)."
    ),
    th.Property(
        "password_field", th.StringType, description="session_token: login field for password (password)."
    ),
    th.Property(
        "header_name",
        th.StringType,
        description="session_token: header carrying the session token (default Authorization).",
    ),
    th.Property(
        "header_prefix",
        th.StringType,
        description="session_token: text before the token in the header (default Bearer; empty: none).",
    ),
    th.Property("scopes", th.ArrayType(th.StringType), description="oauth2_*: scopes, sent space-separated."),
    th.Property(
        "audience", th.StringType, description="oauth2_*: `audience` form field, if the provider needs it."
    ),
    th.Property("resource", th.StringType, description="oauth2_*: `resource` form field (RFC 8707)."),
    th.Property(
        "token_params", th.ObjectType(), description="oauth2_*: extra form fields for the token request."
    ),
    th.Property(
        "token_headers", th.ObjectType(), description="oauth2_*: extra headers for the token request."
    ),
    th.Property(
        "expiry_skew_seconds",
        th.NumberType,
        description="oauth2_*: renew the token this many seconds before it expires (default 60, "
        "at most half its lifetime).",
    ),
    th.Property(
        "allow_insecure_token_url",
        th.BooleanType,
        description="oauth2_*: allow a plain-http token_url on a non-loopback host (sends secrets in clear).",
    ),
    th.Property(
        "refresh_token", th.StringType, secret=True, description="oauth2_refresh_token: the refresh token."
    ),
    th.Property(
        "refresh_token_file",
        th.StringType,
        description="oauth2_refresh_token: file holding the current refresh token; rotated tokens are "
        "written back to it (mode 0600).",
    ),
    th.Property(
        "share_tokens",
        th.BooleanType,
        description="oauth2_refresh_token: processes running at once share one refresh and access token "
        "through a lease on the secret or file they are stored in (default: on when shard.count > 1). "
        "See docs/cloud-run-jobs.md.",
    ),
    th.Property(
        "lease_seconds",
        th.NumberType,
        description="oauth2_refresh_token: how long a token lease lasts (default 60); a crashed holder "
        "blocks renewals this long. Must exceed a token request's duration.",
    ),
    th.Property(
        "keep_versions",
        th.IntegerType,
        description="oauth2_refresh_token in Secret Manager: after adding a version, prune all but the "
        "newest this many (default 10; 0: never prune).",
    ),
    th.Property(
        "prune",
        th.StringType,
        description="oauth2_refresh_token in Secret Manager: `destroy` (default) or `disable` old versions.",
    ),
)

RESPONSE_RULES = th.ArrayType(th.ObjectType())
RESPONSE_RULES_DOC = (
    "`[{status, body_path, equals | contains, message_path, action}]`, tried in order before the "
    "built-in handling; action: retry, ignore, fail, refresh_token or stop (see docs/responses.md)."
)

OPENAPI = th.ObjectType(
    th.Property(
        "document",
        th.StringType,
        required=True,
        description="The OpenAPI 3.x (or Swagger 2.0) document, YAML or JSON: a file path, an http(s) URL "
        "(fetched without credentials, within max_response_mb) or sm://.",
    ),
    th.Property(
        "include", th.ArrayType(th.StringType), description="Keep paths or operationIds matching these globs."
    ),
    th.Property(
        "exclude", th.ArrayType(th.StringType), description="Drop paths or operationIds matching these globs."
    ),
    th.Property("tags", th.ArrayType(th.StringType), description="Keep operations with one of these tags."),
    th.Property("max_depth", th.IntegerType, default=8, description="Nesting kept in declared schemas."),
)

STREAM = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Stream name."),
    th.Property(
        "path",
        th.StringType,
        description="Path below api_url (required, except with `job` or `graphql`, or in an entry patching "
        "a stream derived by `openapi`); placeholders such as `{parent.id}`, `{partition.NAME}` (see "
        "docs/requests.md) are percent-encoded.",
    ),
    th.Property("method", th.StringType, description="GET (default) or POST."),
    th.Property(
        "body",
        th.ObjectType(),
        description="JSON body (POST search endpoints); strings may hold placeholders such as `{bookmark}`.",
    ),
    th.Property(
        "params",
        th.ObjectType(),
        description="Query parameters of this stream, over the top-level ones (null removes one).",
    ),
    th.Property("headers", th.ObjectType(), description="Headers of this stream, over the top-level ones."),
    th.Property(
        "partitions",
        th.ArrayType(th.ObjectType()),
        description="Static partitions, e.g. `[{account_id: a1}, {account_id: a2}]`: one read and one "
        "bookmark each; `{partition.account_id}` in the request.",
    ),
    th.Property("records_path", th.StringType, description="JSONPath to the records, e.g. `$.data[*]`."),
    th.Property("primary_keys", th.ArrayType(th.StringType), description="Primary key fields."),
    th.Property("replication_key", th.StringType, description="Field bookmarked for incremental sync."),
    th.Property(
        "incremental",
        th.ObjectType(),
        description="`{param, format}`: query param receiving the bookmark; date windows `end_param`, "
        "`step`, `lookback`, `end`, `granularity`; `order: desc`; `per_parent` (docs/requests.md).",
    ),
    th.Property(
        "pagination", th.ObjectType(), description="Pagination of this stream (overrides the default)."
    ),
    th.Property(
        "schema", th.CustomType({"type": ["object", "string"]}), description="JSON Schema or file path."
    ),
    th.Property("parent", th.StringType, description="Parent stream name."),
    th.Property("parent_keys", th.ObjectType(), description="`{template_key: parent_field}`."),
    th.Property("max_pages", th.IntegerType, description="Stop after this many pages per parent."),
    th.Property(
        "ignore_statuses",
        th.ArrayType(th.IntegerType),
        description="HTTP statuses to skip (e.g. 404); shorthand for response_rules with action ignore.",
    ),
    th.Property(
        "response_rules",
        RESPONSE_RULES,
        description="This stream's response rules, tried before the top-level ones. " + RESPONSE_RULES_DOC,
    ),
    th.Property(
        "format",
        th.CustomType({"type": ["string", "object"]}),
        description="Response format: json (default), jsonl, csv or xml, or an object such as "
        "`{type: csv, delimiter: ';'}` / `{type: xml, records_path: /feed/entry}`; gzip is detected.",
    ),
    th.Property(
        "job",
        th.ObjectType(
            th.Property("create", th.ObjectType(), description="`{method, path, params, body, id_path}`."),
            th.Property(
                "poll",
                th.ObjectType(),
                description="`{path, status_path, done, failed, interval_seconds, max_interval_seconds, "
                "timeout_minutes, message_path}`; `{job.id}`/`{job.FIELD}` in path, params and body.",
            ),
            th.Property(
                "download",
                th.ObjectType(),
                description="`{urls_path | path, format, records_path, pagination}`; URLs on other "
                "origins are fetched without credentials, https only.",
            ),
            th.Property(
                "max_concurrent_jobs", th.IntegerType, description="Jobs in flight (default: concurrency)."
            ),
        ),
        description="An asynchronous export job per window/partition: create, poll, download "
        "(docs/responses.md#asynchronous-export-jobs).",
    ),
    th.Property(
        "graphql",
        th.ObjectType(
            th.Property("query", th.StringType, description="The query, sent as written."),
            th.Property(
                "variables",
                th.ObjectType(),
                description="Its variables; strings may hold placeholders (`{bookmark}`, `{parent.id}`).",
            ),
            th.Property(
                "connection_path",
                th.StringType,
                description="Where `pageInfo` and `edges`/`nodes` are, e.g. `$.data.orders`.",
            ),
            th.Property(
                "cursor_variable", th.StringType, description="Receives `endCursor` (default `after`)."
            ),
            th.Property("allow_partial", th.BooleanType, description="Keep data that comes with errors."),
        ),
        description="A GraphQL connection, POSTed to `path` (default /graphql); errors in a 200, "
        "THROTTLED and query cost handled (docs/responses.md#graphql).",
    ),
    th.Property(
        "deletions",
        th.ObjectType(),
        description="A deleted-records endpoint: `{path, records_path, key, deleted_at, params, "
        "incremental: {param, format}}`; each id becomes a RECORD with `_sdc_deleted_at` "
        "(docs/deletions.md).",
    ),
    th.Property(
        "deleted_when",
        th.ObjectType(),
        description="`{field, equals, deleted_at}`: records whose field equals the value get "
        "`_sdc_deleted_at` (e.g. `{field: archived, equals: true}`).",
    ),
    th.Property(
        "is_sorted",
        th.BooleanType,
        description="The API returns records in ascending replication_key order: the bookmark then "
        "advances with every page, so an interrupted run resumes where it stopped.",
    ),
)

PAGINATION = th.ObjectType(
    th.Property(
        "type",
        th.StringType,
        description="Pagination type: none, page_number, offset, cursor, next_url, link_header.",
    ),
    th.Property("page_param", th.StringType, description="page_number: page parameter (default `page`)."),
    th.Property("size_param", th.StringType, description="page_number: page size parameter."),
    th.Property("page_size", th.IntegerType, description="page_number: records per page to ask for."),
    th.Property("start", th.IntegerType, description="page_number, offset: first page (1) or offset (0)."),
    th.Property("has_more_path", th.StringType, description="page_number: JSONPath of a has-more flag."),
    th.Property("total_pages_path", th.StringType, description="page_number: JSONPath of the page count."),
    th.Property(
        "total_records_path", th.StringType, description="page_number: JSONPath of the record count."
    ),
    th.Property("offset_param", th.StringType, description="offset: offset parameter (default `offset`)."),
    th.Property("limit_param", th.StringType, description="offset: limit parameter (default `limit`)."),
    th.Property("limit", th.IntegerType, description="offset: records per request (default 100)."),
    th.Property("total_path", th.StringType, description="offset: JSONPath of the record count."),
    th.Property("cursor_param", th.StringType, description="cursor: parameter receiving the cursor."),
    th.Property("cursor_path", th.StringType, description="cursor: JSONPath of the next cursor."),
    th.Property("cursor_header", th.StringType, description="cursor: response header holding the cursor."),
    th.Property("next_url_path", th.StringType, description="next_url: JSONPath of the next page's URL."),
    th.Property("rel", th.StringType, description="link_header: link relation to follow (default `next`)."),
    th.Property(
        "page_body_path", th.StringType, description="page_number: JSONPath in the JSON body for the page."
    ),
    th.Property(
        "offset_body_path", th.StringType, description="offset: JSONPath in the JSON body for the offset."
    ),
    th.Property(
        "limit_body_path", th.StringType, description="offset: JSONPath in the JSON body for the limit."
    ),
    th.Property(
        "cursor_body_path", th.StringType, description="cursor: JSONPath in the JSON body for the cursor."
    ),
)

SECRETS = th.ObjectType(
    th.Property("gcp_project", th.StringType, description="Project for `sm://SECRET` references."),
    th.Property(
        "endpoint", th.StringType, description="Secret Manager endpoint (regional endpoints, tests)."
    ),
    th.Property(
        "timeout_seconds",
        th.NumberType,
        default=30,
        description="Give up on a Secret Manager call after this many seconds, retries of "
        "UNAVAILABLE included.",
    ),
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("api_url", th.StringType, required=True, description="Base URL of the API."),
    th.Property("auth", AUTH, description="Authentication; see docs/configuration.md for each type."),
    th.Property(
        "headers",
        th.ObjectType(),
        description="Headers sent with every API request (api_url's origin and trusted_origins only; "
        "never to token_url).",
    ),
    th.Property("params", th.ObjectType(), description="Query parameters sent with every request."),
    th.Property(
        "trusted_origins",
        th.ArrayType(th.StringType),
        description="Other origins (`https://host[:port]`) that may receive the credentials, configured "
        "headers and params; a page or redirect on any other origin is refused or sent without them.",
    ),
    th.Property(
        "secret_params",
        th.ArrayType(th.StringType),
        description="Query parameter names whose values are secrets (masked everywhere, never sent to "
        "other origins), on top of the built-in list (api_key, token, ...).",
    ),
    th.Property(
        "secret_headers",
        th.ArrayType(th.StringType),
        description="Header names whose configured values are secrets (masked everywhere), on top of "
        "the built-in list (Authorization, X-Api-Key, ...).",
    ),
    th.Property("start_date", th.DateTimeType, description="Earliest replication key value to extract."),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Where date-windowed streams stop (default: now), unless a stream sets incremental.end.",
    ),
    th.Property(
        "partitions",
        th.ArrayType(th.ObjectType()),
        description="Static partitions of every root stream (see the stream setting).",
    ),
    th.Property("timeout", th.NumberType, default=60, description="Connect and read timeout, seconds."),
    th.Property("verify_tls", th.BooleanType, default=True, description="Verify TLS certificates."),
    th.Property("ca_bundle", th.StringType, description="PEM file of CAs to trust (private CAs)."),
    th.Property(
        "client_cert",
        th.StringType,
        description="Mutual TLS: client certificate (chain) for API and token requests: PEM text, a PEM "
        "file path or sm://.",
    ),
    th.Property(
        "client_key",
        th.StringType,
        secret=True,
        description="Mutual TLS: the client certificate's unencrypted private key: PEM text, a file path "
        "or sm://.",
    ),
    th.Property(
        "pagination", PAGINATION, description="Default pagination for streams (a stream's own overrides it)."
    ),
    th.Property(
        "streams",
        th.ArrayType(STREAM),
        description="The endpoints to extract. With `openapi`, entries patch the derived stream of the "
        "same name (only the keys they set) or add streams.",
    ),
    th.Property("openapi", OPENAPI, description="Derive streams from an OpenAPI document at start-up."),
    th.Property(
        "schema_sample_size", th.IntegerType, default=100, description="Records sampled to infer a schema."
    ),
    th.Property(
        "concurrency", th.IntegerType, default=1, description="Parallel requests (pages, child streams)."
    ),
    th.Property(
        "requests_per_second", th.NumberType, description="Client-side rate limit, all streams together."
    ),
    th.Property("max_retries", th.IntegerType, default=5, description="Retries of a failed request."),
    th.Property(
        "backoff_factor",
        th.NumberType,
        default=1,
        description="First backoff wait, seconds; doubles on each retry (with jitter) up to "
        "backoff_max_seconds.",
    ),
    th.Property("backoff_max_seconds", th.NumberType, default=60, description="Longest backoff wait."),
    th.Property(
        "max_retry_after_seconds",
        th.NumberType,
        default=300,
        description="Longest wait (Retry-After, rate-limit reset) the tap sits out; a longer one is a "
        "used-up quota (see on_quota_exhausted).",
    ),
    th.Property(
        "response_rules", RESPONSE_RULES, description="Rules for every stream. " + RESPONSE_RULES_DOC
    ),
    th.Property(
        "rate_limit",
        th.ObjectType(
            th.Property("enabled", th.BooleanType, description="Read rate-limit headers (default true)."),
            th.Property("remaining_header", th.StringType, description="Header with the requests left."),
            th.Property("reset_header", th.StringType, description="Header with the reset time."),
            th.Property(
                "reset_format",
                th.StringType,
                description="auto (default), epoch, epoch_ms, seconds or http_date.",
            ),
            th.Property(
                "min_remaining",
                th.IntegerType,
                description="Wait for the reset once this few are left (default: 0, or `concurrency` "
                "when above 1, so requests in flight stay within the budget).",
            ),
        ),
        description="The API's rate-limit headers (X-RateLimit-*, RateLimit-* by default): when the "
        "budget is used up, every thread waits for the reset instead of hitting 429.",
    ),
    th.Property(
        "on_quota_exhausted",
        th.StringType,
        default="stop",
        description="When the API asks to wait longer than max_retry_after_seconds: `stop` ends the run "
        "early with exit 0 and resumable STATE; `fail` exits 1.",
    ),
    th.Property(
        "max_response_mb",
        th.NumberType,
        default=256,
        description="Largest response body accepted, in MB, counted after decompression; a larger "
        "one (or a gzip bomb) fails the run with one line instead of exhausting memory.",
    ),
    th.Property(
        "request_deadline_seconds",
        th.NumberType,
        default=300,
        description="Longest time one request attempt may take from connect to the body's last "
        "byte (API and token endpoint); `timeout` only bounds each read.",
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        default=30,
        description="Seconds between per-stream progress lines (records, pages, rate).",
    ),
    th.Property(
        "state_interval_seconds",
        th.NumberType,
        default=10,
        description="Streams with per-parent or per-partition bookmarks write STATE at most this often "
        "(and at the end); 0: after every parent.",
    ),
    th.Property(
        "state_max_partitions",
        th.IntegerType,
        default=10000,
        description="Per-parent bookmarks kept per stream; older ones fold into one stream-level bookmark.",
    ),
    th.Property(
        "metrics_log_level",
        th.StringType,
        default="DEBUG",
        description="Level of the SDK's METRIC lines (per stream and parent record): DEBUG hides "
        "them from an INFO log; INFO shows them.",
    ),
    th.Property("secrets", SECRETS, description="Google Secret Manager for `sm://` references."),
    th.Property(
        "shard",
        th.ObjectType(
            th.Property("index", th.IntegerType, description="This process's shard, 0 to count-1."),
            th.Property("count", th.IntegerType, description="How many shards split the work."),
            th.Property(
                "index_env", th.StringType, description="Environment variable holding the index (any engine)."
            ),
            th.Property("count_env", th.StringType, description="Environment variable holding the count."),
        ),
        description="Split the work between processes: each stream without partitions and each "
        "partition (parent record, window, static partition) belongs to one shard by a stable hash. "
        "Defaults: the job engine's task index (Cloud Run Jobs, Kubernetes Indexed Jobs "
        "JOB_COMPLETION_INDEX, AWS Batch array jobs) and count (or TAP_RESTOAUTH_SHARD_COUNT), else 0 of 1. "
        "See docs/cloud-run-jobs.md.",
    ),
    th.Property(
        "audit",
        th.BooleanType,
        default=False,
        description="Add the `_audit` stream: one record per stream and partition per run (records, pages, "
        "declared total, retries, token renewals, shard, times, outcome).",
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        description="Full-table streams tag records with the run's version and send ACTIVATE_VERSION "
        "after a complete read, so targets drop rows the API no longer has (see docs/deletions.md); "
        "never after a failed or interrupted run. Not with shard.count > 1.",
    ),
    th.Property(
        "audit_fail_on_mismatch",
        th.BooleanType,
        default=False,
        description="Fail the run when an API's declared total differs from the records emitted "
        "(needs audit).",
    ),
).to_dict()

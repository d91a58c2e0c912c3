"""Every setting of the tap, declared once: the source of --about, meltano.yml and the README."""

from __future__ import annotations

from singer_sdk import typing as th

AUTH_TYPES_DOC = "none, basic, bearer, api_key, oauth2_client_credentials, oauth2_refresh_token"

AUTH = th.ObjectType(
    th.Property("type", th.StringType, description=f"Auth type: {AUTH_TYPES_DOC}.", default="none"),
    th.Property("username", th.StringType, description="basic: user name."),
    th.Property("password", th.StringType, secret=True, description="basic: password."),
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
        description="oauth2_*: `client_secret_basic` (default, RFC 6749 2.3.1) or `client_secret_post`.",
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
)

RESPONSE_RULES = th.ArrayType(th.ObjectType())
RESPONSE_RULES_DOC = (
    "`[{status, body_path, equals | contains, message_path, action}]`, tried in order before the "
    "built-in handling; action: retry, ignore, fail, refresh_token or stop (see docs/responses.md)."
)

STREAM = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Stream name."),
    th.Property(
        "path", th.StringType, required=True, description="Path below api_url; `{key}` takes parent_keys."
    ),
    th.Property("method", th.StringType, description="GET (default) or POST."),
    th.Property("body", th.ObjectType(), description="JSON body for POST."),
    th.Property("params", th.ObjectType(), description="Query parameters of this stream."),
    th.Property("records_path", th.StringType, description="JSONPath to the records, e.g. `$.data[*]`."),
    th.Property("primary_keys", th.ArrayType(th.StringType), description="Primary key fields."),
    th.Property("replication_key", th.StringType, description="Field bookmarked for incremental sync."),
    th.Property(
        "incremental", th.ObjectType(), description="`{param, format}`: query param receiving the bookmark."
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
        "is_sorted",
        th.BooleanType,
        description="The API returns records in ascending replication_key order: the bookmark then "
        "advances with every page, so an interrupted run resumes where it stopped.",
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
    th.Property("auth", AUTH, description="Authentication; see the README for each type."),
    th.Property("headers", th.ObjectType(), description="Headers sent with every request."),
    th.Property("params", th.ObjectType(), description="Query parameters sent with every request."),
    th.Property("start_date", th.DateTimeType, description="Earliest replication key value to extract."),
    th.Property("timeout", th.NumberType, default=60, description="Connect and read timeout, seconds."),
    th.Property("verify_tls", th.BooleanType, default=True, description="Verify TLS certificates."),
    th.Property("ca_bundle", th.StringType, description="PEM file of CAs to trust (private CAs)."),
    th.Property("pagination", th.ObjectType(), description="Default pagination for streams."),
    th.Property("streams", th.ArrayType(STREAM), description="The endpoints to extract."),
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
        "progress_interval_seconds",
        th.NumberType,
        default=30,
        description="Seconds between per-stream progress lines (records, pages, rate).",
    ),
    th.Property("secrets", SECRETS, description="Google Secret Manager for `sm://` references."),
).to_dict()

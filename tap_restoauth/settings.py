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
        "ignore_statuses", th.ArrayType(th.IntegerType), description="HTTP statuses to skip (e.g. 404)."
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
        description="Longest Retry-After the tap waits for; a server asking for more fails the run "
        "with a clear error instead of being retried early.",
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
    th.Property("secrets", SECRETS, description="Google Secret Manager for `sm://` references."),
).to_dict()

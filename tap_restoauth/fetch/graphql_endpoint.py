"""A GraphQL stream's endpoint (configured in `graphql.py`): errors in a 200, throttling, cost.

- **Errors in a 200**: ``{"errors": [{"message": "Field 'x' doesn't exist on type 'Order'"}],
  "data": null}`` fails with the first error's message on one line; errors next to data
  are an error too, unless `graphql.allow_partial` (then a warning).
- **Throttled**: an error whose ``extensions.code`` (Shopify) or ``type`` (GitHub) is
  ``THROTTLED`` or ``RATE_LIMITED`` is retried, up to `max_retries` times, after the wait
  the query cost says, else ``Retry-After``, else the backoff.
- **Query cost** (Shopify): ``"extensions": {"cost": {"requestedQueryCost": 52,
  "throttleStatus": {"currentlyAvailable": 20, "restoreRate": 50}}}``: before the next query
  the tap waits until the bucket holds the cost again ((52 - 20) / 50 s here).
- **rateLimit** (GitHub): when the query asks for ``rateLimit { remaining resetAt }`` (at
  ``data.rateLimit``), a spent budget holds every request until `resetAt`, like the
  rate-limit headers: beyond `max_retry_after_seconds` the run stops early with its STATE
  (`on_quota_exhausted`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import typing as t
from collections.abc import Mapping

from tap_restoauth.errors import ApiError
from tap_restoauth.fetch.endpoint import Endpoint, Fetched, describe_shape
from tap_restoauth.fetch.incremental import parse_timestamp
from tap_restoauth.fetch.pagination import Page, PageRequest
from tap_restoauth.http import redaction
from tap_restoauth.http.client import ApiResponse
from tap_restoauth.http.request import ApiRequest
from tap_restoauth.http.retry import parse_retry_after
from tap_restoauth.records.jsonpath import compile_path, first_match
from tap_restoauth.sync import interrupt

if t.TYPE_CHECKING:
    from tap_restoauth.config import StreamSettings, TapSettings
    from tap_restoauth.fetch.graphql import GraphqlSettings
    from tap_restoauth.http.client import ApiClient

logger = logging.getLogger("tap_restoauth.fetch.graphql")

THROTTLE_CODES = frozenset({"THROTTLED", "RATE_LIMITED"})


class GraphqlEndpoint(Endpoint):
    """Pages of one GraphQL connection (see the module docstring)."""

    def __init__(self, tap: TapSettings, stream: StreamSettings, client: ApiClient) -> None:
        super().__init__(tap, stream, client)
        self.graphql = t.cast("GraphqlSettings", stream.graphql)
        self._connection = compile_path(self.graphql.connection_path, "graphql.connection_path")
        self._lock = threading.Lock()
        self._ready_at = 0.0  # monotonic time the cost bucket holds the next query again

    def fetch(self, request: PageRequest) -> Fetched:
        """One page of the connection; throttled answers are retried after a wait."""
        name = self.stream.name
        retry = self.tap.http.retry
        for attempt in range(retry.max_retries + 1):
            self._wait_for_cost()
            response = self.client.get_json(
                ApiRequest(
                    name,
                    "POST",
                    request.url,
                    params=request.params,
                    body={"query": self.graphql.query, **(request.body or {})},
                    headers=request.headers,
                    rules=self.stream.response_rules,
                )
            )
            if response is None:
                return None
            body = response.body
            if not isinstance(body, dict):
                raise ApiError(f"{name}: expected a GraphQL response object; {describe_shape(body)}")
            self._note_cost(body)
            errors = body.get("errors")
            errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
            code = _throttle_code(errors)
            if code is None:
                return self._page(request, response, errors)
            if attempt == retry.max_retries:
                break
            wait = self._throttled_wait(body, response, attempt)
            logger.info("%s: the GraphQL API answered %s; retrying in %.1fs", name, code, wait)
            self.client.retries += 1
            interrupt.sleep(wait)
        raise ApiError(
            f"{name}: the GraphQL API still answered {code} after {retry.max_retries + 1} attempts "
            "(max_retries); stopped"
        )

    def _page(self, request: PageRequest, response: ApiResponse, errors: list[dict[str, t.Any]]) -> Fetched:
        body = response.body
        connection = first_match(self._connection, body)
        if errors:
            message = redaction.excerpt(" ".join(str(errors[0].get("message") or errors[0]).split()), 300)
            if connection is None or not self.graphql.allow_partial:
                partial = (
                    "; the data is partial (graphql.allow_partial keeps it)" if connection is not None else ""
                )
                raise ApiError(f"{self.stream.name}: the GraphQL API answered an error: {message}{partial}")
            logger.warning("%s: partial data with an error (allow_partial): %s", self.stream.name, message)
        if not isinstance(connection, dict):
            raise ApiError(
                f"{self.stream.name}: graphql.connection_path {self.graphql.connection_path} matched no "
                f"connection; {describe_shape(body.get('data'))}"
            )
        self._note_rate_limit(body.get("data"))
        records = self.extract(response)
        return Page(request, response.url, response.headers, body, len(records)), records

    def extract(self, response: ApiResponse) -> list[t.Any]:
        """`edges[].node` or `nodes[]` of the connection."""
        connection = first_match(self._connection, response.body)
        edges = connection.get("edges") if isinstance(connection, dict) else None
        if isinstance(edges, list):
            records = [edge.get("node") if isinstance(edge, dict) else None for edge in edges]
        elif isinstance(connection, dict) and isinstance(connection.get("nodes"), list):
            records = list(connection["nodes"])
        else:
            raise ApiError(
                f"{self.stream.name}: the connection at {self.graphql.connection_path} has neither "
                f"edges nor nodes; {describe_shape(connection)}"
            )
        if not all(isinstance(record, dict) for record in records):
            raise ApiError(f"{self.stream.name}: a node of {self.graphql.connection_path} is not an object")
        return records

    def _wait_for_cost(self) -> None:
        with self._lock:
            wait = self._ready_at - time.monotonic()
        if wait > 0:
            interrupt.sleep(wait)

    def _note_cost(self, body: Mapping[str, t.Any]) -> None:
        """Shopify's cost: wait before the next query until the bucket holds this one's cost."""
        seconds = _cost_wait(body)
        if seconds:
            seconds = min(seconds, self.tap.http.retry.max_retry_after_seconds)
            with self._lock:
                self._ready_at = max(self._ready_at, time.monotonic() + seconds)

    def _throttled_wait(self, body: Mapping[str, t.Any], response: ApiResponse, attempt: int) -> float:
        retry = self.tap.http.retry
        seconds = _cost_wait(body)
        if seconds is None:
            seconds = parse_retry_after(response.headers.get("Retry-After"))
        if seconds is None:
            seconds = min(retry.backoff_factor * 2**attempt, retry.backoff_max_seconds)
        return min(max(seconds, 0.0), retry.max_retry_after_seconds)

    def _note_rate_limit(self, data: t.Any) -> None:
        """GitHub's ``rateLimit { remaining resetAt }``, treated like the rate-limit headers."""
        limit = data.get("rateLimit") if isinstance(data, dict) else None
        if not isinstance(limit, dict) or not isinstance(limit.get("remaining"), (int, float)):
            return
        if limit["remaining"] > self.tap.http.rate_limit.min_remaining:
            return
        resets = parse_timestamp(limit.get("resetAt"))
        if resets is None:
            return
        seconds = max(0.0, (resets - dt.datetime.now(dt.timezone.utc)).total_seconds())
        self.client.gate.hold(seconds, f"GraphQL rateLimit.remaining: {limit['remaining']}")


def _throttle_code(errors: list[dict[str, t.Any]]) -> str | None:
    for error in errors:
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        for value in (code, error.get("type")):
            if isinstance(value, str) and value.upper() in THROTTLE_CODES:
                return value.upper()
    return None


def _cost_wait(body: Mapping[str, t.Any]) -> float | None:
    """Seconds until Shopify's bucket holds the requested cost again; None without cost data."""
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(cost, dict) or not isinstance(status, dict):
        return None
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if not all(map(math.isfinite, (requested, available, rate))) or rate <= 0:
        return None
    return max(0.0, requested - available) / rate

"""GraphQL streams, configured: one query whose connection is paged by its `pageInfo`.

Config::

    - name: orders
      path: /admin/api/2024-10/graphql.json          # default /graphql
      graphql:
        query: "query($first:Int!,$after:String,$q:String){ orders(first:$first, after:$after,
                query:$q){ pageInfo{hasNextPage endCursor} edges{node{id updatedAt}} } }"
        variables: {first: 100, q: "updated_at:>'{bookmark}'"}
        connection_path: $.data.orders               # where pageInfo and edges/nodes live
        cursor_variable: after                       # default
        allow_partial: false                         # default
      primary_keys: [id]
      replication_key: updatedAt

The tap POSTs ``{"query": ..., "variables": {...}}``; the variables are templates like a
request body (``{bookmark}``, ``{parent.X}``, ``{partition.X}``, ``{config.X}``), the
query is sent as written. A page reads::

    {"data": {"orders": {"pageInfo": {"hasNextPage": true, "endCursor": "eyJsYXN0"},
                          "edges": [{"node": {"id": "gid://shopify/Order/1", ...}}]}}}

(or ``"nodes": [...]`` instead of edges); the next page sends ``after: "eyJsYXN0"`` while
`hasNextPage`. Errors, throttling and query cost are handled by `graphql_endpoint.py`.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping

from tap_restoauth import options
from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch.pagination import Page, PageRequest, Paginator, body_path_keys
from tap_restoauth.records.jsonpath import compile_path, first_match
from tap_restoauth.settings import GraphqlOptions

DEFAULT_PATH = "/graphql"


@dataclasses.dataclass(frozen=True, kw_only=True)
class GraphqlSettings(GraphqlOptions):
    """A stream's `graphql` setting (its fields are declared in settings.py), checked."""

    @classmethod
    def parse(cls, raw: Mapping[str, t.Any], where: str) -> GraphqlSettings:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected an object with query and connection_path")
        settings = options.build(cls, raw, where, ignore=set())
        if not settings.query.strip():
            raise ConfigError(f"{where}.query is empty")
        compile_path(settings.connection_path, f"{where}.connection_path")
        body_path_keys(f"$.variables.{settings.cursor_variable}", f"{where}.cursor_variable")
        return settings

    def paginator(self) -> ConnectionPaginator:
        return ConnectionPaginator(self.connection_path, self.cursor_variable)


@dataclasses.dataclass(frozen=True)
class ConnectionPaginator(Paginator):
    """Relay connections: the next page sends `cursor_variable` = ``pageInfo.endCursor``
    while ``pageInfo.hasNextPage`` (a GraphQL stream's pagination; not a `pagination` type)."""

    connection_path: str
    cursor_variable: str = "after"

    def next_request(self, page: Page) -> PageRequest | None:
        connection = first_match(compile_path(self.connection_path, "graphql.connection_path"), page.body)
        info = connection.get("pageInfo") if isinstance(connection, dict) else None
        if not isinstance(info, dict) or info.get("hasNextPage") is not True:
            return None
        cursor = info.get("endCursor")
        if cursor in (None, "") or not page.record_count:
            return None
        return page.request.with_body_value(f"$.variables.{self.cursor_variable}", cursor)

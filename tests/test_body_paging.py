"""POST search endpoints: the page token goes into the JSON body."""

from __future__ import annotations

import typing as t

import pytest

from tests.helpers import run_tap
from tests.request_server import Request, RequestServer

ITEMS = [{"id": n, "name": f"item {n}"} for n in range(1, 12)]


def _cursor(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    body = request.body
    after = int(body.get("after", 0))
    limit = body["limit"]
    chunk = ITEMS[after : after + limit]
    paging = {"next": {"after": str(after + limit)}} if after + limit < len(ITEMS) else None
    return 200, {"results": chunk, **({"paging": paging} if paging else {})}, {}


def _offset(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    start, size = request.body["page"]["startAt"], request.body["page"]["maxResults"]
    return 200, {"issues": ITEMS[start : start + size], "total": len(ITEMS)}, {}


def _page(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    number = request.body["paging"]["page"]
    chunk = ITEMS[(number - 1) * 5 : number * 5]
    return 200, {"items": chunk, "more": number * 5 < len(ITEMS)}, {}


QUERY = (
    "query($cursor: String) { items(first: 4, after: $cursor) "
    "{ nodes { id name } pageInfo { endCursor hasNextPage } } }"
)


def _graphql(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    if request.body.get("query") != QUERY:
        return 200, {"errors": [{"message": "Syntax Error"}]}, {}
    after = int(request.body["variables"]["cursor"] or 0)
    chunk = ITEMS[after : after + 4]
    more = after + 4 < len(ITEMS)
    info = {"endCursor": str(after + 4), "hasNextPage": more}
    return 200, {"data": {"items": {"nodes": chunk, "pageInfo": info}}}, {}


@pytest.fixture
def server() -> t.Iterator[RequestServer]:
    server = RequestServer(
        {"/cursor": _cursor, "/offset": _offset, "/page": _page, "/graphql": _graphql}
    ).start()
    yield server
    server.stop()


def stream(name: str, records_path: str, pagination: dict[str, t.Any], body: t.Any) -> dict[str, t.Any]:
    return {
        "name": name,
        "path": f"/{name}",
        "method": "POST",
        "body": body,
        "records_path": records_path,
        "primary_keys": ["id"],
        "pagination": pagination,
    }


def test_cursor_offset_and_page_number_written_into_the_body(server, tmp_path):
    config = {
        "api_url": server.url,
        "streams": [
            stream(
                "cursor",
                "$.results[*]",
                {"type": "cursor", "cursor_path": "$.paging.next.after", "cursor_body_path": "$.after"},
                {
                    "limit": 4,
                    "filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}]}],
                },
            ),
            stream(
                "offset",
                "$.issues[*]",
                {
                    "type": "offset",
                    "offset_body_path": "$.page.startAt",
                    "limit_body_path": "$.page.maxResults",
                    "limit": 5,
                    "total_path": "$.total",
                },
                {"jql": "project = X"},
            ),
            stream(
                "page",
                "$.items[*]",
                {"type": "page_number", "page_body_path": "$.paging.page", "has_more_path": "$.more"},
                None,
            ),
        ],
    }
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    for name in ("cursor", "offset", "page"):
        assert [r["id"] for r in run.records(name)] == list(range(1, 12)), name
    cursor_bodies = [r.body for r in server.hits("/cursor")][-3:]
    assert [b.get("after") for b in cursor_bodies] == [None, "4", "8"]
    assert all(b["filterGroups"][0]["filters"][0]["operator"] == "HAS_PROPERTY" for b in cursor_bodies)
    assert all(r.method == "POST" and not r.query for r in server.hits("/cursor"))
    assert [r.body["page"] for r in server.hits("/offset")][-3:] == [
        {"startAt": 0, "maxResults": 5},
        {"startAt": 5, "maxResults": 5},
        {"startAt": 10, "maxResults": 5},
    ]
    assert [r.body for r in server.hits("/page")][-3:] == [{"paging": {"page": n}} for n in (1, 2, 3)]


def test_a_body_path_that_is_not_a_plain_path_is_a_config_error(server, tmp_path):
    config = {
        "api_url": server.url,
        "streams": [
            stream(
                "cursor",
                "$.results[*]",
                {"type": "cursor", "cursor_path": "$.paging.next.after", "cursor_body_path": "$.a[0]"},
                {},
            )
        ],
    }
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "expected a body path such as $.paging.after, got '$.a[0]'" in line


def test_graphql_over_post_with_a_cursor_variable(server, tmp_path):
    pagination = {
        "type": "cursor",
        "cursor_path": "$.data.items.pageInfo.endCursor",
        "cursor_body_path": "$.variables.cursor",
        "has_more_path": "$.data.items.pageInfo.hasNextPage",
    }
    body = {"query": QUERY, "variables": {"cursor": None}}
    config = {
        "api_url": server.url,
        "streams": [stream("graphql", "$.data.items.nodes[*]", pagination, body)],
    }
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records("graphql")] == list(range(1, 12))
    # The query's braces are sent as written; hasNextPage: false ends paging without a 4th request.
    sent = [r.body for r in server.hits("/graphql")][-3:]
    assert [b["variables"]["cursor"] for b in sent] == [None, "4", "8"]
    assert all(b["query"] == QUERY for b in sent)
    assert len(server.hits("/graphql")) == 3 + 3  # the same three pages sampled for the schema first

"""Every pagination style against a server that really paginates: records, stop conditions, guards."""

from __future__ import annotations

import threading
import typing as t

import pytest

from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ApiError
from tap_restoauth.fetch.endpoint import Endpoint
from tap_restoauth.http.client import ApiClient
from tests.paging_server import PagingServer

TOTAL = 23  # five pages of 5, the last one short


@pytest.fixture
def server() -> t.Iterator[PagingServer]:
    server = PagingServer(TOTAL).start()
    yield server
    server.stop()


def fetch_ids(server: PagingServer, stream: dict[str, t.Any], **top: t.Any) -> list[int]:
    settings = parse_settings({"api_url": server.url, "streams": [{"name": "s", **stream}], **top})
    endpoint = Endpoint(settings, settings.streams[0], ApiClient(settings.http, settings.auth))
    return [record["id"] for _, records in endpoint.pages(None, {}) for record in records]


ALL = list(range(1, TOTAL + 1))

PAGE = {"type": "page_number", "size_param": "size", "page_size": 5}


@pytest.mark.parametrize(
    ("pagination", "requests"),
    [
        pytest.param({**PAGE, "total_pages_path": "$.meta.total_pages"}, 5, id="total_pages"),
        pytest.param({**PAGE, "total_records_path": "$.meta.total"}, 5, id="total_records"),
        pytest.param({**PAGE, "has_more_path": "$.meta.has_more"}, 5, id="has_more"),
        pytest.param(PAGE, 5, id="short_page"),
        pytest.param({"type": "page_number"}, 6, id="empty_page"),
    ],
)
def test_page_number_stops_without_extra_requests(server, pagination, requests):
    stream = {"path": "/page", "records_path": "$.data[*]", "pagination": pagination}
    if pagination.get("page_size") is None:
        stream["params"] = {"size": 5}
    assert fetch_ids(server, stream) == ALL
    assert [int(q["page"]) for q in server.hits("/page")] == list(range(1, requests + 1))


def test_page_number_start_zero_is_honoured(server):
    stream = {"path": "/page", "records_path": "$.data[*]", "pagination": {**PAGE, "start": 0}}
    # The server counts from 1, so page 0 is an empty slice and pagination stops there.
    assert fetch_ids(server, stream) == []
    assert [q["page"] for q in server.hits("/page")] == ["0"]


@pytest.mark.parametrize(
    ("pagination", "requests"),
    [
        pytest.param({"type": "offset", "limit": 5, "total_path": "$.total"}, 5, id="total"),
        pytest.param({"type": "offset", "limit": 5}, 5, id="short_page"),
    ],
)
def test_offset(server, pagination, requests):
    assert fetch_ids(server, {"path": "/offset", "pagination": pagination}) == ALL
    assert [int(q["offset"]) for q in server.hits("/offset")] == list(range(0, 5 * requests, 5))
    assert {q["limit"] for q in server.hits("/offset")} == {"5"}


def test_cursor_from_body_stops_on_missing_cursor(server):
    pagination = {"type": "cursor", "cursor_path": "$.next", "cursor_param": "cursor"}
    assert fetch_ids(server, {"path": "/cursor", "pagination": pagination}) == ALL
    assert [q.get("cursor") for q in server.hits("/cursor")] == [None, "5", "10", "15", "20"]


def test_cursor_on_last_page_stops_on_the_empty_page(server):
    pagination = {"type": "cursor", "cursor_path": "$.next"}
    ids = fetch_ids(server, {"path": "/cursor", "params": {"trailing": 1}, "pagination": pagination})
    assert ids == ALL
    assert len(server.hits("/cursor")) == 6


def test_cursor_from_header(server):
    pagination = {"type": "cursor", "cursor_header": "X-Next-Cursor"}
    assert fetch_ids(server, {"path": "/cursor-header", "pagination": pagination}) == ALL
    assert len(server.hits("/cursor-header")) == 5


def test_next_url_resolves_relative_urls(server):
    stream = {
        "path": "/next-url",
        "params": {"size": 5},
        "pagination": {"type": "next_url", "next_url_path": "$.links.next"},
    }
    assert fetch_ids(server, stream) == ALL
    assert [q.get("p") for q in server.hits("/next-url")] == [None, "2", "3", "4", "5"]


def test_link_header_follows_next_keeping_its_params(server):
    stream = {"path": "/link", "records_path": "$.data[*]", "params": {"size": 5, "filter": "a b"}}
    assert fetch_ids(server, {**stream, "pagination": {"type": "link_header"}}) == ALL
    hits = server.hits("/link")
    assert [q.get("page") for q in hits] == [None, "2", "3", "4", "5"]
    assert all(q["filter"] == "a b" and q["size"] == "5" for q in hits)


def test_repeated_cursor_is_an_error_not_a_loop(server):
    with pytest.raises(ApiError, match="same page twice"):
        fetch_ids(server, {"path": "/stuck", "pagination": {"type": "cursor", "cursor_path": "$.next"}})
    assert len(server.hits("/stuck")) == 2


def test_max_pages(server):
    stream = {"path": "/page", "records_path": "$.data[*]", "pagination": PAGE, "max_pages": 2}
    assert fetch_ids(server, stream) == list(range(1, 11))
    assert len(server.hits("/page")) == 2


def test_default_pagination_applies_to_streams_without_their_own(server):
    ids = fetch_ids(server, {"path": "/offset"}, pagination={"type": "offset", "limit": 5})
    assert ids == ALL


def test_known_total_pages_fetched_concurrently_in_order(server):
    stream = {
        "path": "/page",
        "records_path": "$.data[*]",
        "pagination": {**PAGE, "total_pages_path": "$.meta.total_pages"},
    }
    server.later_pages_together = threading.Barrier(4, timeout=5)  # pages 2-5, all in flight at once
    assert fetch_ids(server, stream, concurrency=4) == ALL
    assert sorted(int(q["page"]) for q in server.hits("/page")) == [1, 2, 3, 4, 5]
    assert not server.later_pages_together.broken  # one by one, the first would have waited alone

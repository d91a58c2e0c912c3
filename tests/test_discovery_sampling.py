"""Schema sampling during discovery sends no request whose page it does not read."""

from __future__ import annotations

import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.helpers import discover

PER_PAGE = 10
PAGES = 40


class CountingServer(LocalServer):
    """`PAGES` pages of `PER_PAGE` records that announce their total; counts page requests."""

    def __init__(self) -> None:
        super().__init__(_Handler, 0)
        self.lock = threading.Lock()
        self.pages: list[int] = []


class _Handler(JsonHandler):
    server: CountingServer

    def do_GET(self) -> None:
        page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
        with self.server.lock:
            self.server.pages.append(page)
        first = (page - 1) * PER_PAGE + 1
        data = [{"id": n, "name": f"item {n}"} for n in range(first, first + PER_PAGE)]
        self.send_json(200, {"data": data if page <= PAGES else [], "meta": {"total_pages": PAGES}})


@pytest.mark.parametrize("sample", [5, 50])
def test_sampling_with_concurrency_requests_only_the_pages_it_reads(tmp_path: t.Any, sample: int) -> None:
    server = CountingServer().start()
    try:
        config = {
            "api_url": server.url,
            "concurrency": 8,
            "schema_sample_size": sample,
            "streams": [
                {
                    "name": "items",
                    "path": "/items",
                    "records_path": "$.data[*]",
                    "primary_keys": ["id"],
                    "pagination": {"type": "page_number", "total_pages_path": "$.meta.total_pages"},
                }
            ],
        }
        catalog = discover(tmp_path, config)
    finally:
        server.stop()
    (entry,) = catalog["streams"]
    assert set(entry["schema"]["properties"]) >= {"id", "name"}
    needed = -(-sample // PER_PAGE)
    assert sorted(server.pages) == list(range(1, needed + 1))

"""An API that really paginates, in every style the tap supports, and counts requests.

Records are {"id": 1..total, "updated_at": ...}. Each path is one pagination style:
/page (page_number), /offset, /cursor (body), /cursor-header, /next-url, /link, and
/stuck (a cursor that never changes, for the repeat guard).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import typing as t
from urllib.parse import parse_qs, urlencode, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def make_records(total: int) -> list[dict[str, t.Any]]:
    return [
        {
            "id": n,
            "name": f"item {n}",
            "price": n * 1.25,
            "updated_at": (EPOCH + dt.timedelta(days=n)).isoformat().replace("+00:00", "Z"),
        }
        for n in range(1, total + 1)
    ]


class PagingServer(LocalServer):
    def __init__(self, total: int = 23, *, ignore_filter: bool = False) -> None:
        super().__init__(_Handler)
        self.records = make_records(total)
        self.ignore_filter = ignore_filter
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        # When set, /page answers pages after the first only once this many are waiting together
        # (or the barrier's timeout breaks it: then they were not in flight at once).
        self.later_pages_together: threading.Barrier | None = None

    def hits(self, path: str) -> list[dict[str, str]]:
        return [query for hit_path, query in self.requests if hit_path == path]


class _Handler(JsonHandler):
    server: PagingServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.server.lock:
            self.server.requests.append((parts.path, query))
        records = self.server.records
        since = query.get("since")
        if since and not self.server.ignore_filter:
            cutoff = since.replace("+00:00", "Z")
            records = [r for r in records if r.get("updated_at") is None or r["updated_at"] >= cutoff]
        size = int(query.get("size", 5))
        handler = getattr(self, "_" + parts.path.strip("/").replace("-", "_"), None)
        if handler is None:
            self.send_error(404)
            return
        handler(records, query, size)

    def _page(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        page = int(query.get("page", 1))
        if page > 1 and self.server.later_pages_together is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self.server.later_pages_together.wait()
        chunk = records[(page - 1) * size : page * size]
        total_pages = -(-len(records) // size)
        self.send_json(
            200,
            {
                "data": chunk,
                "meta": {"total_pages": total_pages, "total": len(records), "has_more": page < total_pages},
            },
        )

    def _offset(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", size))
        self.send_json(200, {"total": len(records), "items": records[offset : offset + limit]})

    def _cursor(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        start = int(query.get("cursor", 0))
        following = start + size
        # Like many APIs, send a cursor on the last page too when asked to (?trailing=1).
        cursor = str(following) if following < len(records) or query.get("trailing") else None
        self.send_json(200, {"results": records[start:following], "next": cursor})

    def _cursor_header(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        start = int(query.get("cursor", 0))
        following = start + size
        headers = {"X-Next-Cursor": str(following)} if following < len(records) else {}
        self.send_json(200, records[start:following], headers)

    def _next_url(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        page = int(query.get("p", 1))
        chunk = records[(page - 1) * size : page * size]
        following = (
            f"next-url?{urlencode({'p': page + 1, 'size': size})}" if page * size < len(records) else None
        )
        self.send_json(200, {"records": chunk, "links": {"next": following}})

    def _link(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        page = int(query.get("page", 1))
        if page > 1 and self.server.later_pages_together is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self.server.later_pages_together.wait()
        chunk = records[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(records):
            carried = {**query, "page": page + 1}
            headers["Link"] = (
                f'<{self.server.url}/link?{urlencode(carried)}>; rel="next", '
                f'<{self.server.url}/link?page=1>; rel="first"'
            )
        self.send_json(200, {"data": chunk}, headers)

    def _stuck(self, records: list[dict[str, t.Any]], query: dict[str, str], size: int) -> None:
        self.send_json(200, {"results": records[:size], "next": "same"})

"""Shopify Admin REST orders: ``GET /admin/api/2024-01/orders.json?status=any&limit=2
&updated_at_min=<ISO>&order=updated_at asc``, cursor pages in the ``Link`` header.

The next page's link carries only ``limit`` and an opaque ``page_info``::

    Link: <https://shop.myshopify.com/admin/api/2024-01/orders.json?limit=2&page_info=eyJsYXN0>; rel="next"

and a request combining ``page_info`` with a filter is rejected (400 ``{"errors": {"page_info":
...}}``). Auth: the ``X-Shopify-Access-Token`` header. Times carry the shop's offset.
"""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t
from urllib.parse import urlencode

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/shopify.json"
SHOP_TZ = dt.timezone(dt.timedelta(hours=-5))
PATH = "/admin/api/2024-01/orders.json"


def order(n: int, updated: dt.datetime) -> dict[str, t.Any]:
    return {
        "id": 450789469 + n,
        "name": f"#{1000 + n}",
        "email": f"buyer{n}@example.com",
        "financial_status": "paid",
        "total_price": f"{n * 10}.00",
        "currency": "USD",
        "updated_at": updated.isoformat(),
    }


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        base = dt.datetime(2024, 1, 5, 10, tzinfo=SHOP_TZ)
        self.orders = [order(n, base + dt.timedelta(hours=9 * n)) for n in range(1, 6)]
        self.cursors: dict[str, tuple[str, int]] = {}

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {"api_url": self.url, "auth": {"value": self.token}}

    def handle(self, request: Request) -> Reply:
        if request.headers.get("x-shopify-access-token") != self.token:
            return (
                401,
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                {},
            )
        if request.path != PATH:
            return 404, {"errors": "Not Found"}, {}
        limit = int(request.query.get("limit", 50))
        if "page_info" in request.query:
            if set(request.query) - {"page_info", "limit", "fields"}:
                return 400, {"errors": {"page_info": "page_info cannot be combined with other filters"}}, {}
            if request.query["page_info"] not in self.cursors:
                return 400, {"errors": {"page_info": "Invalid value."}}, {}
            since, offset = self.cursors[request.query["page_info"]]
        else:
            since, offset = request.query.get("updated_at_min", "1970-01-01T00:00:00Z"), 0
        rows = sorted(
            (o for o in self.orders if moment(o["updated_at"]) >= moment(since)),
            key=lambda o: moment(o["updated_at"]),
        )
        page = rows[offset : offset + limit]
        headers = {}
        if offset + limit < len(rows):
            token = secrets.token_urlsafe(12)
            self.cursors[token] = (since, offset + limit)
            headers["Link"] = (
                f'<{self.url}{PATH}?{urlencode({"limit": limit, "page_info": token})}>; rel="next"'
            )
        return 200, {"orders": page}, headers

    def update(self) -> None:
        self.orders[0] = order(1, dt.datetime(2024, 1, 8, 8, tzinfo=SHOP_TZ))
        self.orders.append(order(6, dt.datetime(2024, 1, 8, 9, tzinfo=SHOP_TZ)))

    def expected(self, run: int) -> dict[str, Expected]:
        since = (
            dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
            if run == 1
            else dt.datetime(2024, 1, 7, 7, tzinfo=SHOP_TZ)
        )
        rows = sorted(
            (o for o in self.orders if moment(o["updated_at"]) >= since),
            key=lambda o: moment(o["updated_at"]),
        )
        return {"orders": Expected(rows, rows[-1]["updated_at"])}

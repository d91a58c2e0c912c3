"""Shopify GraphQL Admin API orders, throttled by query cost.

``POST /admin/api/2024-10/graphql.json`` (``X-Shopify-Access-Token``) with ``{"query":
"query($first:Int!,$after:String,$q:String){ orders(first:$first, after:$after, query:$q,
sortKey:UPDATED_AT) {...} }", "variables": {"first": 3, "q": "updated_at:>'2024-01-01T00:00:00Z'"}}``
answers::

    {"data": {"orders": {"edges": [{"node": {"id": "gid://shopify/Order/1001", ...}}],
                         "pageInfo": {"hasNextPage": true, "endCursor": "MQ=="}}},
     "extensions": {"cost": {"requestedQueryCost": 5, "actualQueryCost": 5,
                             "throttleStatus": {"maximumAvailable": 20.0, "currentlyAvailable": 15,
                                                "restoreRate": 100.0}}}}

A query costs ``first + 2`` points from a leaky bucket (`MAXIMUM` points, refilled at
`RESTORE` a second; Shopify: 1000 and 50). One that costs more than the bucket holds answers
``{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}], "data": null}``
with the cost. `throttle_first` makes the next N queries answer THROTTLED whatever the
bucket holds (`always_throttled`: every one); a query naming an unknown field answers
``{"errors": [{"message": "Field 'bogus' doesn't exist on type 'Order'"}]}``.

Config: examples/shopify_graphql.json.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import typing as t
from pathlib import Path

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/shopify_graphql.json"
ROOT = Path(__file__).resolve().parents[2]
PATH = "/admin/api/2024-10/graphql.json"
MAXIMUM, RESTORE = 20.0, 100.0
SINCE = re.compile(r"^updated_at:>'([^']+)'$")


def order(n: int, updated: dt.datetime) -> dict[str, t.Any]:
    return {
        "id": f"gid://shopify/Order/{1000 + n}",
        "name": f"#{1000 + n}",
        "updatedAt": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "totalPriceSet": {"shopMoney": {"amount": f"{n * 10}.00", "currencyCode": "USD"}},
    }


def cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        base = dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc)
        self.orders = [order(n, base + dt.timedelta(hours=7 * n)) for n in range(1, 8)]
        self.maximum, self.restore = MAXIMUM, RESTORE
        self.available = MAXIMUM
        self.refilled = time.monotonic()
        self.bucket = threading.Lock()
        self.throttle_first = 1  # the first query of a run answers THROTTLED
        self.always_throttled = False
        self.throttled = 0

    def overrides(self, run: int) -> dict[str, t.Any]:
        stream = json.loads((ROOT / EXAMPLE).read_text())["streams"][0]
        stream["graphql"]["variables"]["first"] = 3
        self.throttle_first = 1
        return {"api_url": self.url, "auth": {"value": self.token}, "streams": [stream]}

    def handle(self, request: Request) -> Reply:
        if request.headers.get("x-shopify-access-token") != self.token:
            return 401, {"errors": "[API] Invalid API key or access token"}, {}
        if request.method != "POST" or request.path != PATH:
            return 404, {"errors": "Not Found"}, {}
        body = request.body if isinstance(request.body, dict) else {}
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        if "bogus" in query:
            return 200, {"errors": [{"message": "Field 'bogus' doesn't exist on type 'Order'"}]}, {}
        if "orders(first:$first, after:$after, query:$q, sortKey:UPDATED_AT)" not in query:
            return 200, {"errors": [{"message": "Parse error on orders"}]}, {}
        first = int(variables.get("first", 0))
        if not 0 < first <= 250:
            return 200, {"errors": [{"message": "first must be between 1 and 250"}]}, {}
        cost = first + 2.0
        with self.bucket:
            now = time.monotonic()
            self.available = min(self.maximum, self.available + (now - self.refilled) * self.restore)
            self.refilled = now
            throttled = self.always_throttled or self.throttle_first > 0 or cost > self.available
            self.throttle_first -= 1
            if not throttled:
                self.available -= cost
            status = {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": self.available,
                "restoreRate": self.restore,
            }
        if throttled:
            self.throttled += 1
            return (
                200,
                {
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "data": None,
                    "extensions": {"cost": {"requestedQueryCost": cost, "throttleStatus": status}},
                },
                {},
            )
        match = SINCE.match(str(variables.get("q", "")))
        since = match[1] if match else ""
        rows = sorted((o for o in self.orders if o["updatedAt"] > since), key=lambda o: o["updatedAt"])
        start = int(base64.b64decode(variables["after"])) if variables.get("after") else 0
        page = rows[start : start + first]
        data = {
            "orders": {
                "edges": [{"cursor": cursor(start + i + 1), "node": node} for i, node in enumerate(page)],
                "pageInfo": {
                    "hasNextPage": start + first < len(rows),
                    "endCursor": cursor(start + len(page)),
                },
            }
        }
        extensions = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": status}}
        return 200, {"data": data, "extensions": extensions}, {}

    def update(self) -> None:
        self.orders[1] = {**self.orders[1], "updatedAt": "2024-02-01T00:00:00Z"}
        self.orders.append(order(8, dt.datetime(2024, 2, 2, tzinfo=dt.timezone.utc)))

    def expected(self, run: int) -> dict[str, Expected]:
        ordered = sorted(self.orders, key=lambda o: o["updatedAt"])
        records = ordered if run == 1 else [o for o in ordered if o["updatedAt"] >= "2024-02-01"]
        return {"orders": Expected(records, ordered[-1]["updatedAt"])}

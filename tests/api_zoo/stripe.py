"""Stripe list API: ``GET /v1/customers?limit=3&created[gte]=<unix>&starting_after=cus_X``.

Lists are newest first. Response::

    {"object": "list", "url": "/v1/customers", "has_more": true,
     "data": [{"id": "cus_...", "object": "customer", "created": 1704067200, ...}]}

The next page is asked with ``starting_after`` = the last object's id. A secret key
(``sk_test_...``) is sent as a bearer token; a bad one gives 401 with
``{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: ..."}}``.
"""

from __future__ import annotations

import typing as t

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/stripe.json"
BASE = 1704067200  # 2024-01-01T00:00:00Z


def customer(n: int, created: int) -> dict[str, t.Any]:
    return {
        "id": f"cus_{n:04d}",
        "object": "customer",
        "created": created,
        "email": f"buyer{n}@example.com",
        "name": f"Buyer {n}",
        "livemode": False,
        "delinquent": False,
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.customers = [customer(n, BASE + n * 3600) for n in range(1, 8)]

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            message = "Invalid API Key provided: sk_test_****"
            return 401, {"error": {"type": "invalid_request_error", "message": message}}, {}
        if request.path != "/v1/customers":
            return (
                404,
                {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}},
                {},
            )
        limit = int(request.query.get("limit", 10))
        if not 1 <= limit <= 100:
            return 400, {"error": {"type": "invalid_request_error", "param": "limit"}}, {}
        rows = sorted(self.customers, key=lambda c: c["created"], reverse=True)
        if "created[gte]" in request.query:
            rows = [c for c in rows if c["created"] >= int(request.query["created[gte]"])]
        after = request.query.get("starting_after")
        if after:
            ids = [c["id"] for c in rows]
            if after not in ids:
                return 400, {"error": {"type": "invalid_request_error", "param": "starting_after"}}, {}
            rows = rows[ids.index(after) + 1 :]
        page = rows[:limit]
        return (
            200,
            {"object": "list", "url": "/v1/customers", "has_more": len(rows) > limit, "data": page},
            {},
        )

    def update(self) -> None:
        self.customers += [customer(8, BASE + 30 * 3600), customer(9, BASE + 31 * 3600)]

    def expected(self, run: int) -> dict[str, Expected]:
        since = 0 if run == 1 else BASE + 7 * 3600  # inclusive: the newest of run 1 comes again
        rows = sorted((c for c in self.customers if c["created"] >= since), key=lambda c: -c["created"])
        return {"customers": Expected(rows, rows[0]["created"])}

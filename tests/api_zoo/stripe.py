"""Stripe list API: ``GET /v1/customers?limit=3&created[gte]=<unix>&starting_after=cus_X``.

Lists are newest first. Response::

    {"object": "list", "url": "/v1/customers", "has_more": true,
     "data": [{"id": "cus_...", "object": "customer", "created": 1704067200, ...}]}

The next page is asked with ``starting_after`` = the last object's id. A secret key
(``sk_test_...``) is sent as a bearer token; a bad one gives 401 with
``{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: ..."}}``.

Deleted customers (the example's `deletions`): ``GET /v1/events?type=customer.deleted&created[gte]=<unix>``,
a list of the same shape whose events hold the deleted object::

    {"id": "evt_...", "object": "event", "type": "customer.deleted", "created": 1704182400,
     "data": {"object": {"id": "cus_0003", "object": "customer", "deleted": true, ...}}}
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
        self.events: list[dict[str, t.Any]] = []

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            message = "Invalid API Key provided: sk_test_****"
            return 401, {"error": {"type": "invalid_request_error", "message": message}}, {}
        if request.path == "/v1/events":
            return self._events(request)
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

    def _events(self, request: Request) -> Reply:
        rows = sorted(self.events, key=lambda e: e["created"], reverse=True)
        rows = [e for e in rows if e["type"] == request.query.get("type", e["type"])]
        if "created[gte]" in request.query:
            rows = [e for e in rows if e["created"] >= int(request.query["created[gte]"])]
        after = request.query.get("starting_after")
        if after:
            rows = rows[[e["id"] for e in rows].index(after) + 1 :]
        limit = int(request.query.get("limit", 10))
        body = {"object": "list", "url": "/v1/events", "has_more": len(rows) > limit, "data": rows[:limit]}
        return 200, body, {}

    def update(self) -> None:
        self.customers += [customer(8, BASE + 30 * 3600), customer(9, BASE + 31 * 3600)]
        gone = self.customers.pop(2)  # cus_0003 is deleted: a customer.deleted event
        self.events.append(
            {
                "id": "evt_0001",
                "object": "event",
                "type": "customer.deleted",
                "created": BASE + 32 * 3600,
                "data": {"object": {**gone, "deleted": True}},
            }
        )

    def expected(self, run: int) -> dict[str, Expected]:
        since = 0 if run == 1 else BASE + 7 * 3600  # inclusive: the newest of run 1 comes again
        rows = sorted((c for c in self.customers if c["created"] >= since), key=lambda c: -c["created"])
        gone = [{"id": "cus_0003", "_sdc_deleted_at": "2024-01-02T08:00:00Z"}] if run == 2 else []
        return {"customers": Expected(rows + gone, rows[0]["created"])}

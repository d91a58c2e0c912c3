"""HubSpot CRM search: ``POST /crm/v3/objects/contacts/search`` with the cursor in the body.

Request body (bearer token of a private app)::

    {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                    "value": "1704067200000"}]}],
     "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
     "properties": ["email", "firstname", "lastmodifieddate"], "limit": 2, "after": "2"}

Response::

    {"total": 5, "results": [{"id": "1", "properties": {...}, "createdAt": "...",
     "updatedAt": "2024-01-02T10:00:00.000Z", "archived": false}],
     "paging": {"next": {"after": "2", "link": "?after=2"}}}

``paging`` is absent on the last page. A limit over 200 or a GET is rejected.

Archived contacts (the example's `deletions`): search leaves them out; ``GET
/crm/v3/objects/contacts?archived=true&limit=100&after=...`` lists them (no time filter)::

    {"results": [{"id": "4", "properties": {...}, "archived": true,
                  "archivedAt": "2024-01-12T00:00:00.000Z"}], "paging": {"next": {"after": "..."}}}
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/hubspot.json"
UTC = dt.timezone.utc


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def contact(n: int, modified: dt.datetime) -> dict[str, t.Any]:
    created = stamp(dt.datetime(2023, 12, 1, tzinfo=UTC) + dt.timedelta(days=n))
    return {
        "id": str(n),
        "properties": {
            "createdate": created,
            "email": f"person{n}@example.com",
            "firstname": f"Person {n}",
            "hs_object_id": str(n),
            "lastmodifieddate": stamp(modified),
        },
        "createdAt": created,
        "updatedAt": stamp(modified),
        "archived": False,
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        base = dt.datetime(2024, 1, 2, 10, tzinfo=UTC)
        self.contacts = [contact(n, base + dt.timedelta(hours=7 * n)) for n in range(1, 6)]
        self.since_first: str | None = None
        self.archived: list[dict[str, t.Any]] = []

    def _matching(self, since_ms: int) -> list[dict[str, t.Any]]:
        rows = [
            c
            for c in self.contacts
            if dt.datetime.fromisoformat(c["updatedAt"].replace("Z", "+00:00")).timestamp() * 1000 >= since_ms
        ]
        return sorted(rows, key=lambda c: c["updatedAt"])

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            return (
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
                {},
            )
        if request.path == "/crm/v3/objects/contacts" and request.method == "GET":
            return self._archived(request)
        if request.path != "/crm/v3/objects/contacts/search" or request.method != "POST":
            return 405 if request.method != "POST" else 404, {"status": "error", "message": "not found"}, {}
        body = request.body or {}
        limit = int(body.get("limit", 10))
        if limit > 200:
            return (
                400,
                {"status": "error", "message": "limit must be at most 200", "category": "VALIDATION_ERROR"},
                {},
            )
        since = 0
        for group in body.get("filterGroups", []):
            for flt in group.get("filters", []):
                if flt.get("propertyName") == "lastmodifieddate" and flt.get("operator") == "GTE":
                    since = int(flt.get("value", 0))
        rows = self._matching(since)
        after = int(body.get("after", 0))
        page = rows[after : after + limit]
        reply: dict[str, t.Any] = {"total": len(rows), "results": page}
        if after + limit < len(rows):
            reply["paging"] = {"next": {"after": str(after + limit), "link": f"?after={after + limit}"}}
        return 200, reply, {}

    def _archived(self, request: Request) -> Reply:
        if request.query.get("archived") != "true":
            return 400, {"status": "error", "message": "this copy lists archived contacts only"}, {}
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 10))
        reply: dict[str, t.Any] = {"results": self.archived[after : after + limit]}
        if after + limit < len(self.archived):
            reply["paging"] = {"next": {"after": str(after + limit)}}
        return 200, reply, {}

    def update(self) -> None:
        self.contacts[1] = contact(2, dt.datetime(2024, 1, 10, tzinfo=UTC))
        self.contacts.append(contact(6, dt.datetime(2024, 1, 11, tzinfo=UTC)))
        gone = self.contacts.pop(3)  # contact 4 is archived: search no longer finds it
        self.archived.append({**gone, "archived": True, "archivedAt": "2024-01-12T00:00:00.000Z"})

    def expected(self, run: int) -> dict[str, Expected]:
        # Run 2 starts at run 1's bookmark, inclusive (GTE): the last contact comes again.
        since = "2024-01-01T00:00:00.000Z" if run == 1 else stamp(dt.datetime(2024, 1, 3, 21, tzinfo=UTC))
        rows = sorted((c for c in self.contacts if c["updatedAt"] >= since), key=lambda c: c["updatedAt"])
        gone = [{"id": "4", "_sdc_deleted_at": "2024-01-12T00:00:00Z"}] if run == 2 else []
        return {"contacts": Expected(rows + gone, rows[-1]["updatedAt"])}

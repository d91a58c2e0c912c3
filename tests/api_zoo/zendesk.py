"""Zendesk Support incremental ticket export (time-based), read in date windows.

Request: ``GET /api/v2/incremental/tickets.json?start_time=<unix seconds>``, basic auth
``{email}/token:{api_token}``. Response::

    {"tickets": [...], "count": 3, "end_of_stream": false, "end_time": 1704153600,
     "next_page": "https://acme.zendesk.com/api/v2/incremental/tickets.json?start_time=1704153600"}

Tickets come in `updated_at` order; `start_time` must be at least a minute in the past
(else 400). The example also sends ``end_time`` (the window's end, exclusive), which this
copy honours, to cap a backfill per request; ``next_page`` is followed until it is null
(at the end of the stream). Unlike the real API, pages never repeat the boundary ticket.

Deleted tickets (the example's `deletions`): ``GET /api/v2/deleted_tickets.json?sort_by=deleted_at``
lists tickets deleted in the last 30 days (no time filter), offset-paginated by ``next_page``::

    {"deleted_tickets": [{"id": 4, "subject": "Ticket 4", "actor": {"id": 1, "name": "Agent"},
      "deleted_at": "2024-03-21T12:00:00Z", "previous_state": "open"}], "next_page": null, "count": 1}
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import typing as t
from urllib.parse import urlencode

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/zendesk.json"
EMAIL = "agent@example.com"
PAGE = 3
UTC = dt.timezone.utc
EPOCH = dt.datetime(2024, 3, 1, tzinfo=UTC)
FIRST_END = "2024-03-20T00:00:00Z"
SECOND_END = "2024-03-25T00:00:00Z"


DELETED_PAGE = 2


def deleted_ticket(n: int, deleted_at: str) -> dict[str, t.Any]:
    return {
        "id": n,
        "subject": f"Ticket {n}",
        "actor": {"id": 1, "name": "Agent"},
        "deleted_at": deleted_at,
        "previous_state": "open",
    }


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ticket(n: int, moment: dt.datetime, status: str = "open") -> dict[str, t.Any]:
    return {
        "id": n,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{n}.json",
        "subject": f"Ticket {n}",
        "status": status,
        "created_at": iso(EPOCH + dt.timedelta(hours=n)),
        "updated_at": iso(moment),
        "generated_timestamp": int(moment.timestamp()),
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        # 10 tickets over 18 days: some days none, some several.
        self.tickets = [ticket(n, EPOCH + dt.timedelta(days=n * 1.8, hours=n)) for n in range(1, 11)]
        self.deleted = [deleted_ticket(12, "2024-02-27T08:00:00Z")]

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"username": f"{EMAIL}/token", "password": self.token},
            "end_date": FIRST_END if run == 1 else SECOND_END,
        }

    def handle(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return 401, {"error": "Couldn't authenticate you"}, {}
        if request.path == "/api/v2/deleted_tickets.json":
            return self._deleted(request)
        if request.path != "/api/v2/incremental/tickets.json":
            return 404, {"error": "InvalidEndpoint", "description": "Not found"}, {}
        try:
            start = int(request.query["start_time"])
        except (KeyError, ValueError):
            return 400, {"error": "InvalidValue", "description": "start_time is required"}, {}
        if start > time.time() - 60:
            return 400, {"error": "InvalidValue", "description": "Too recent start_time."}, {}
        end = int(request.query.get("end_time", 2**40))
        rows = sorted(
            (tk for tk in self.tickets if start <= tk["generated_timestamp"] < end),
            key=lambda tk: tk["generated_timestamp"],
        )
        page = rows[:PAGE]
        done = len(rows) <= PAGE
        end_time = page[-1]["generated_timestamp"] + 1 if page else start
        query = {
            "start_time": end_time,
            **({"end_time": request.query["end_time"]} if "end_time" in request.query else {}),
        }
        body = {
            "tickets": page,
            "count": len(page),
            "end_of_stream": done,
            "end_time": end_time,
            "next_page": None if done else f"{self.url}{request.path}?{urlencode(query)}",
        }
        return 200, body, {}

    def _deleted(self, request: Request) -> Reply:
        if request.query.get("sort_by") not in (None, "id", "subject", "deleted_at"):
            return 400, {"error": "InvalidValue", "description": "sort_by"}, {}
        rows = sorted(self.deleted, key=lambda d: d[request.query.get("sort_by", "id")])
        offset = int(request.query.get("offset", 0))
        page = rows[offset : offset + DELETED_PAGE]
        more = offset + DELETED_PAGE < len(rows)
        query = urlencode({"sort_by": request.query.get("sort_by", "id"), "offset": offset + DELETED_PAGE})
        body = {
            "deleted_tickets": page,
            "next_page": f"{self.url}{request.path}?{query}" if more else None,
            "count": len(rows),
        }
        return 200, body, {}

    def update(self) -> None:
        # Ticket 3 is solved, ticket 11 arrives: both after the first run's end; ticket 4 is deleted.
        self.tickets[2] = ticket(3, dt.datetime(2024, 3, 21, 9, tzinfo=UTC), status="solved")
        self.tickets.append(ticket(11, dt.datetime(2024, 3, 22, 15, tzinfo=UTC)))
        self.tickets = [tk for tk in self.tickets if tk["id"] != 4]
        self.deleted += [
            deleted_ticket(4, "2024-03-21T12:00:00Z"),
            deleted_ticket(13, "2024-03-20T10:00:00Z"),
        ]

    def expected(self, run: int) -> dict[str, Expected]:
        low, high = ("2024-03-01", FIRST_END) if run == 1 else (FIRST_END, SECOND_END)
        rows = sorted(
            (tk for tk in self.tickets if low <= tk["updated_at"] < high), key=lambda tk: tk["updated_at"]
        )
        end = (FIRST_END if run == 1 else SECOND_END).replace("Z", "+00:00")
        gone = [
            {"id": d["id"], "_sdc_deleted_at": d["deleted_at"]}
            for d in sorted(self.deleted, key=lambda d: d["deleted_at"])
        ]
        return {"tickets": Expected(rows + gone, end)}

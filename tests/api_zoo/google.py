"""Google Calendar events: ``GET /calendar/v3/calendars/{calendarId}/events?updatedMin=<RFC3339>
&orderBy=updated&maxResults=2&showDeleted=true&pageToken=...``, one calendar per partition.

Response::

    {"kind": "calendar#events", "summary": "...", "items": [...], "nextPageToken": "CigK..."}

The last page has ``nextSyncToken`` instead of ``nextPageToken``. A calendar id such as
``team@group.calendar.google.com`` is one path segment (``%40``). Bearer OAuth token.
"""

from __future__ import annotations

import json
import secrets
import typing as t
from urllib.parse import unquote

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/google.json"
CALENDARS = ("primary", "team@group.calendar.google.com")


def event(calendar: str, n: int, updated: str) -> dict[str, t.Any]:
    return {
        "kind": "calendar#event",
        "id": f"{calendar[:4]}evt{n}",
        "status": "confirmed",
        "summary": f"Meeting {n}",
        "updated": updated,
        "start": {"dateTime": f"2024-02-{n:02d}T09:00:00Z"},
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.events = {
            "primary": [event("primary", n, f"2024-01-{n * 2:02d}T10:00:00.000Z") for n in range(1, 5)],
            CALENDARS[1]: [event("team", n, f"2024-01-{n * 3:02d}T11:00:00.000Z") for n in range(1, 4)],
        }
        self.pages: dict[str, list[dict[str, t.Any]]] = {}

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            return (
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
                {},
            )
        parts = request.raw_path.split("/")
        if len(parts) != 6 or parts[1:4] != ["calendar", "v3", "calendars"] or parts[5] != "events":
            return 404, {"error": {"code": 404, "message": "Not Found"}}, {}
        calendar = unquote(parts[4])
        if calendar not in self.events:
            return 404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}, {}
        if "pageToken" in request.query:
            rows = self.pages.pop(request.query["pageToken"], None)
            if rows is None:
                return (
                    400,
                    {"error": {"code": 400, "message": "Invalid page token", "status": "INVALID_ARGUMENT"}},
                    {},
                )
        else:
            since = request.query.get("updatedMin", "")
            rows = sorted(
                (
                    e
                    for e in self.events[calendar]
                    if not since or e["updated"] >= since.replace("+00:00", ".000Z")
                ),
                key=lambda e: e["updated"],
            )
        size = int(request.query.get("maxResults", 250))
        body: dict[str, t.Any] = {"kind": "calendar#events", "summary": calendar, "items": rows[:size]}
        if len(rows) > size:
            token = secrets.token_urlsafe(12)
            self.pages[token] = rows[size:]
            body["nextPageToken"] = token
        else:
            body["nextSyncToken"] = "CPDAlvWDx70CEPDAlvWDx70CGAU="
        return 200, body, {}

    def update(self) -> None:
        self.events["primary"].append(event("primary", 9, "2024-01-20T10:00:00.000Z"))
        self.events[CALENDARS[1]][0] = event("team", 1, "2024-01-21T08:00:00.000Z")

    def expected(self, run: int) -> dict[str, Expected]:
        marks: dict[str, str] = {}
        records = []
        for calendar in CALENDARS:
            rows = sorted(self.events[calendar], key=lambda e: e["updated"])
            if run == 2:
                since = {"primary": "2024-01-08T10:00:00.000Z", CALENDARS[1]: "2024-01-09T11:00:00.000Z"}[
                    calendar
                ]
                rows = [e for e in rows if e["updated"] >= since]
            records += [{**e, "calendar_id": calendar} for e in rows]
            marks[json.dumps({"calendar_id": calendar})] = rows[-1]["updated"]
        return {"events": Expected(records, marks)}

"""A small API whose records change between runs, for the ACTIVATE_VERSION and deletion tests.

- `GET /plans?page=N`: a full-table stream, `PAGE` records a page, `{"data": [...], "next": N+1|null}`;
  `/plans/{id}/prices` its full-table child (two prices per plan).
- `GET /tickets?since=ISO`: an incremental stream (`updated_at`), and
  `GET /deleted_tickets?since=ISO` the ids deleted since then, `{"deleted": [{id, deleted_at}]}`.
- `GET /contacts?since=ISO`: an incremental stream whose deleted records carry `archived: true`.

Tests change `plans`, `tickets`, `deleted` and `contacts` between runs. `fail_page` answers that
page of /plans with 400 (a failed run); `hold_page` makes that page wait until `release` is set
(so a test can send SIGTERM while a run is mid-stream); `requested` records every path asked for.
"""

from __future__ import annotations

import threading
import typing as t
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

PAGE = 5
BASE = "2024-03-01T00:00:00Z"

PLAN_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
}
PRICE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "amount": {"type": ["integer", "null"]},
        "plan_id": {"type": ["integer", "null"]},
    },
}
TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "subject": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
CONTACT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "archived": {"type": ["boolean", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def stamp(minute: int) -> str:
    return f"2024-03-01T00:{minute:02d}:00Z"


class DeletionsApi(LocalServer):
    def __init__(self, plans: int = 12) -> None:
        super().__init__(_Handler)
        self.plans = list(range(1, plans + 1))
        self.tickets: dict[int, str] = {i: stamp(i) for i in range(1, 7)}  # id -> updated_at
        self.deleted: list[dict[str, t.Any]] = []
        self.contacts: dict[int, tuple[bool, str]] = {i: (False, stamp(i)) for i in range(1, 7)}
        self.fail_page: int | None = None
        self.hold_page: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.requested: list[str] = []

    def config(self, **top: t.Any) -> dict[str, t.Any]:
        """A tap config for the four streams; `top` adds top-level settings."""
        return {
            "api_url": self.url,
            "start_date": BASE,
            "streams": [
                {
                    "name": "plans",
                    "path": "/plans",
                    "records_path": "$.data[*]",
                    "primary_keys": ["id"],
                    "schema": PLAN_SCHEMA,
                    "pagination": {"type": "cursor", "cursor_param": "page", "cursor_path": "$.next"},
                },
                {
                    "name": "prices",
                    "path": "/plans/{parent.id}/prices",
                    "parent": "plans",
                    "parent_keys": {"plan_id": "id"},
                    "records_path": "$.data[*]",
                    "primary_keys": ["id"],
                    "schema": PRICE_SCHEMA,
                },
                {
                    "name": "tickets",
                    "path": "/tickets",
                    "records_path": "$.data[*]",
                    "primary_keys": ["id"],
                    "replication_key": "updated_at",
                    "incremental": {"param": "since"},
                    "schema": TICKET_SCHEMA,
                    "deletions": {
                        "path": "/deleted_tickets",
                        "records_path": "$.deleted[*]",
                        "key": "id",
                        "deleted_at": "deleted_at",
                        "incremental": {"param": "since"},
                    },
                },
                {
                    "name": "contacts",
                    "path": "/contacts",
                    "records_path": "$.data[*]",
                    "primary_keys": ["id"],
                    "replication_key": "updated_at",
                    "incremental": {"param": "since"},
                    "schema": CONTACT_SCHEMA,
                    "deleted_when": {"field": "archived", "equals": True},
                },
            ],
            **top,
        }


class _Handler(JsonHandler):
    server: DeletionsApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        api = self.server
        api.requested.append(self.path)
        since = query.get("since", "").replace("+00:00", "Z")
        if parts.path == "/plans":
            page = int(query.get("page", "1"))
            if page == api.fail_page:
                self.send_json(400, {"error": "bad page"})
                return
            if page == api.hold_page:
                api.held.set()
                api.release.wait(30)
            chunk = api.plans[(page - 1) * PAGE : page * PAGE]
            more = page * PAGE < len(api.plans)
            self.send_json(
                200,
                {"data": [{"id": i, "name": f"plan {i}"} for i in chunk], "next": page + 1 if more else None},
            )
        elif parts.path.startswith("/plans/") and parts.path.endswith("/prices"):
            plan = int(parts.path.split("/")[2])
            data = (
                [{"id": f"{plan}-{n}", "amount": plan * 100 + n} for n in (1, 2)] if plan in api.plans else []
            )
            self.send_json(200, {"data": data})
        elif parts.path == "/tickets":
            data = [
                {"id": i, "subject": f"ticket {i}", "updated_at": at}
                for i, at in sorted(api.tickets.items())
                if at >= since
            ]
            self.send_json(200, {"data": data})
        elif parts.path == "/deleted_tickets":
            self.send_json(200, {"deleted": [d for d in api.deleted if d["deleted_at"] >= since]})
        elif parts.path == "/contacts":
            data = [
                {"id": i, "email": f"c{i}@example.com", "archived": archived, "updated_at": at}
                for i, (archived, at) in sorted(api.contacts.items())
                if at >= since
            ]
            self.send_json(200, {"data": data})
        else:
            self.send_json(404, {"error": "not found"})

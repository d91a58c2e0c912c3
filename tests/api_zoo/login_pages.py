"""The record set and page shape the login-shaped APIs of the zoo share.

`GET <path>?page=N&per_page=M` answers ``{"data": [...], "meta": {"page": N, "total_pages": T}}``;
`stream_config()` is the matching tap stream.
"""

from __future__ import annotations

import datetime as dt
import typing as t

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def contacts(count: int) -> list[dict[str, t.Any]]:
    return [
        {
            "id": n,
            "name": f"Contact {n}",
            "updated_at": (EPOCH + dt.timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
        }
        for n in range(1, count + 1)
    ]


def page(records: list[dict[str, t.Any]], query: t.Mapping[str, str]) -> dict[str, t.Any]:
    number, size = int(query.get("page", 1)), int(query.get("per_page", 10))
    return {
        "data": records[(number - 1) * size : number * size],
        "meta": {"page": number, "total_pages": max(1, -(-len(records) // size))},
    }


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def stream_config(path: str, name: str = "contacts", page_size: int = 10) -> dict[str, t.Any]:
    """An incremental, page-numbered stream of `contacts` at `path`."""
    return {
        "name": name,
        "path": path,
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "replication_key": "updated_at",
        "schema": SCHEMA,
        "pagination": {
            "type": "page_number",
            "page_param": "page",
            "size_param": "per_page",
            "page_size": page_size,
            "total_pages_path": "$.meta.total_pages",
        },
    }

"""A reporting API that hands out files: gzip CSV reports, a paged CSV export, JSON Lines.

- ``GET /reports/daily.csv.gz``: a gzip file (``Content-Type: application/gzip``, no
  Content-Encoding), as a report download link gives; comma-separated with a header row.
- ``GET /export/contacts.csv?page=N``: semicolon-separated, sent with ``Content-Encoding: gzip``
  when the client accepts it; Link-header pagination (`CONTACT_PAGES` pages).
- ``GET /export/events.jsonl``: JSON Lines.
- ``GET /export/big.csv?rows=N``: N generated rows of `BIG_ROW_BYTES` bytes each, written as they
  are generated (chunked transfer encoding): nothing holds the whole file on either side.
- ``GET /reports/broken.csv``: a row with one field too many.
- ``GET /reports/monthly.csv``: the first `not_ready` requests answer 404 ``{"error": {"code":
  "report_not_ready", "message": "Report is still being generated"}}`` with ``Retry-After: 1``
  (an asynchronous report), then the daily report's CSV.
- Bearer token ``TOKEN``.

Config: examples/csv_reports.json.
"""

from __future__ import annotations

import gzip
import json
import typing as t
import zlib
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN = "reports-token-2f8e61"  # a test credential, grepped for in all output
CONTACT_PAGES = 3
BIG_ROW_BYTES = 2048


def daily_rows() -> list[dict[str, t.Any]]:
    """The records the daily report holds, typed as the tap should read them."""
    return [
        {
            "id": n,
            "sku": f"{n:03d}",  # leading zeros: a code, kept as text
            "amount": round(n * 1.25, 2),
            "refunded": n % 4 == 0,
            "note": None if n % 3 == 0 else f"note, with comma {n}",
            "sold_at": f"2024-03-{n:02d}T10:00:00Z",
        }
        for n in range(1, 26)
    ]


def daily_csv() -> bytes:
    lines = ["id,sku,amount,refunded,note,sold_at"]
    for row in daily_rows():
        note = "" if row["note"] is None else f'"{row["note"]}"'
        refunded = "true" if row["refunded"] else "false"
        lines.append(f"{row['id']},{row['sku']},{row['amount']},{refunded},{note},{row['sold_at']}")
    return ("\r\n".join(lines) + "\r\n").encode()


def contacts(page: int) -> list[dict[str, t.Any]]:
    return [{"id": page * 100 + k, "name": f"Contact {page}-{k}", "city": "Zürich"} for k in range(7)]


def events() -> list[dict[str, t.Any]]:
    return [{"id": n, "kind": ("open", "click")[n % 2], "meta": {"n": n}} for n in range(1, 41)]


def big_row(n: int) -> bytes:
    head = f"{n},{n % 1000},{'true' if n % 2 else 'false'},"
    return (head + "x" * (BIG_ROW_BYTES - len(head) - 1) + "\n").encode()


def gzip_bomb() -> bytes:
    """A gzip file of ~50 KB holding 50 MB of CSV, built 1 MB at a time (the test process
    stays small: tap subprocesses start from its memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    rows = (b"1," + b"a" * 100 + b"\n") * 10_000
    parts = [packer.compress(b"id,name\n")]
    parts += [packer.compress(rows) for _ in range(50)]
    return b"".join([*parts, packer.flush()])


class CsvReportsApi(LocalServer):
    def __init__(self, not_ready: int = 0) -> None:
        super().__init__(_Handler)
        self.accept_encodings: list[str] = []
        self.not_ready = not_ready


class _Handler(JsonHandler):
    server: CsvReportsApi

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json(401, {"error": "unauthorized"})
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/reports/daily.csv.gz":
            self.send_bytes(200, gzip.compress(daily_csv()), "application/gzip")
        elif parts.path == "/export/contacts.csv":
            page = int(query.get("page", 1))
            lines = ["id;name;city"] + [f"{c['id']};{c['name']};{c['city']}" for c in contacts(page)]
            body = ("\n".join(lines) + "\n").encode()
            headers = {}
            if page < CONTACT_PAGES:
                headers["Link"] = f'<{self.server.url}/export/contacts.csv?page={page + 1}>; rel="next"'
            accepted = self.headers.get("Accept-Encoding", "")
            self.server.accept_encodings.append(accepted)
            if "gzip" in accepted:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            self.send_bytes(200, body, "text/csv; charset=utf-8", headers)
        elif parts.path == "/export/events.jsonl":
            body = "".join(json.dumps(e) + "\n" for e in events()).encode()
            self.send_bytes(200, body, "application/x-ndjson")
        elif parts.path == "/export/big.csv":
            self._big(int(query.get("rows", 1000)))
        elif parts.path == "/reports/monthly.csv":
            if self.server.not_ready > 0:
                self.server.not_ready -= 1
                error = {"code": "report_not_ready", "message": "Report is still being generated"}
                self.send_json(404, {"error": error}, {"Retry-After": "1"})
            else:
                self.send_bytes(200, daily_csv(), "text/csv")
        elif parts.path == "/reports/bomb.csv.gz":  # ~50 KB that inflates to 50 MB of CSV
            self.send_bytes(200, gzip_bomb(), "application/gzip")
        elif parts.path == "/reports/broken.csv":
            self.send_bytes(200, b"id,name\n1,a\n2,b,extra\n", "text/csv")
        else:
            self.send_json(404, {"error": "not found"})

    def _big(self, rows: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        batch = 256
        self._chunk(b"id,group,flag,payload\n")
        for start in range(0, rows, batch):
            self._chunk(b"".join(big_row(n) for n in range(start, min(rows, start + batch))))
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

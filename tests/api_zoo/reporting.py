"""An ads reporting API that caps each request at 31 days, per account.

Request: ``GET /v1/accounts/{account_id}/reports/daily?start_date=2024-01-01&end_date=2024-01-31
&page=1&page_size=50`` with a bearer token; both dates are inclusive days. A range over
31 days, or an end before the start, is rejected::

    400 {"error": {"code": "DATE_RANGE_TOO_LONG", "message": "at most 31 days per request"}}

Response: ``{"data": [{"account_id", "date", "campaign_id", "impressions", "clicks"}],
"page": 1, "total_pages": 2}``. Recent days are restated for two days (late conversions),
hence the example's ``lookback: P2D``.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from urllib.parse import unquote

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/reporting.json"
ACCOUNTS = ("1234567890", "9876543210")
FIRST_DAY = dt.date(2024, 1, 1)
FIRST_END, SECOND_END = "2024-03-15T00:00:00Z", "2024-03-20T00:00:00Z"


def row(account: str, day: dt.date, campaign: int, extra: int = 0) -> dict[str, t.Any]:
    seed = (day - FIRST_DAY).days * 7 + campaign * 3 + int(account[0])
    return {
        "account_id": account,
        "date": day.isoformat(),
        "campaign_id": f"c{campaign}",
        "impressions": 100 + seed,
        "clicks": seed % 13 + extra,
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.last_day = dt.date(2024, 3, 14)
        self.restated = 0

    def rows(self, account: str, low: dt.date, high: dt.date) -> list[dict[str, t.Any]]:
        days = [low + dt.timedelta(days=n) for n in range((min(high, self.last_day) - low).days + 1)]
        extra = self.restated
        return [
            row(account, day, campaign, extra if day >= dt.date(2024, 3, 13) else 0)
            for day in days
            for campaign in (1, 2)
        ]

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"token": self.token},
            "end_date": FIRST_END if run == 1 else SECOND_END,
        }

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            return 401, {"error": {"code": "UNAUTHENTICATED", "message": "invalid token"}}, {}
        parts = request.raw_path.split("/")
        if len(parts) != 6 or parts[1:3] != ["v1", "accounts"] or parts[4:] != ["reports", "daily"]:
            return 404, {"error": {"code": "NOT_FOUND", "message": request.path}}, {}
        account = unquote(parts[3])
        if account not in ACCOUNTS:
            return 403, {"error": {"code": "PERMISSION_DENIED", "message": f"account {account}"}}, {}
        try:
            low = dt.date.fromisoformat(request.query["start_date"])
            high = dt.date.fromisoformat(request.query["end_date"])
        except (KeyError, ValueError):
            return (
                400,
                {"error": {"code": "INVALID_ARGUMENT", "message": "start_date, end_date: YYYY-MM-DD"}},
                {},
            )
        if high < low or (high - low).days >= 31:
            return (
                400,
                {"error": {"code": "DATE_RANGE_TOO_LONG", "message": "at most 31 days per request"}},
                {},
            )
        page, size = int(request.query.get("page", 1)), int(request.query.get("page_size", 50))
        rows = self.rows(account, low, high)
        pages = max(1, -(-len(rows) // size))
        return 200, {"data": rows[(page - 1) * size : page * size], "page": page, "total_pages": pages}, {}

    def update(self) -> None:
        self.last_day = dt.date(2024, 3, 19)
        self.restated = 1  # clicks of the last days change

    def expected(self, run: int) -> dict[str, Expected]:
        low, high = (
            (FIRST_DAY, dt.date(2024, 3, 14)) if run == 1 else (dt.date(2024, 3, 13), dt.date(2024, 3, 19))
        )
        end = (FIRST_END if run == 1 else SECOND_END).replace("Z", "+00:00")
        records = [r for account in ACCOUNTS for r in self.rows(account, low, high)]
        marks = {json.dumps({"account_id": account}): end for account in ACCOUNTS}
        return {"daily_report": Expected(records, marks)}

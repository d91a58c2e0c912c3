"""Salesforce SOQL query: ``GET /services/data/v59.0/query?q=SELECT ... WHERE SystemModstamp >=
2024-01-01T00:00:00Z ORDER BY SystemModstamp ASC``, with a token from the client-credentials
flow (``POST /services/oauth2/token``; the answer has no ``expires_in``).

Response::

    {"totalSize": 5, "done": false, "nextRecordsUrl": "/services/data/v59.0/query/01gRO0000016PIAYA2-2",
     "records": [{"attributes": {"type": "Account", "url": "/services/data/v59.0/sobjects/Account/001..."},
                  "Id": "001...", "Name": "...", "SystemModstamp": "2024-01-02T10:00:00.000+0000"}]}

The rest of the result is read from ``nextRecordsUrl`` until ``done``. Batches here hold 2
records (2,000 in Salesforce).

The example reads ``/queryAll`` (``query`` leaves deleted records out) and selects ``IsDeleted``:
a record deleted into the Recycle Bin comes back with ``IsDeleted: true`` and a new
``SystemModstamp``, which `deleted_when` turns into ``_sdc_deleted_at``.
"""

from __future__ import annotations

import re
import secrets
import typing as t
from urllib.parse import parse_qs

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/salesforce.json"
CLIENT_ID = "3MVG9-connected-app-key"
VERSION = "/services/data/v59.0"
BATCH = 2
QUERY = re.compile(
    r"^SELECT Id, Name, IsDeleted, SystemModstamp FROM Account WHERE SystemModstamp >= "
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ORDER BY SystemModstamp ASC$"
)


def account(n: int, modstamp: str, *, deleted: bool = False) -> dict[str, t.Any]:
    sf_id = f"001D000000Ix{n:04d}"
    return {
        "attributes": {"type": "Account", "url": f"{VERSION}/sobjects/Account/{sf_id}"},
        "Id": sf_id,
        "Name": f"Account {n}",
        "IsDeleted": deleted,
        "SystemModstamp": modstamp,
    }


def iso(modstamp: str) -> str:
    return modstamp[:19] + "Z"


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.secret = secrets.token_urlsafe(16)
        self.accounts = [account(n, f"2024-01-{n + 1:02d}T10:00:00.000+0000") for n in range(1, 6)]
        self.locators: dict[str, list[dict[str, t.Any]]] = {}

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"token_url": f"{self.url}/services/oauth2/token", "client_secret": self.secret},
        }

    def handle(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(request.raw_body.decode()).items()}
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.secret):
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
            return (
                200,
                {
                    "access_token": self.token,
                    "instance_url": self.url,
                    "token_type": "Bearer",
                    "issued_at": "1704067200000",
                },
                {},
            )
        if not self.bearer_ok(request):
            return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], {}
        if request.path in (f"{VERSION}/query", f"{VERSION}/queryAll"):
            match = QUERY.match(request.query.get("q", ""))
            if not match:
                return 400, [{"message": "unexpected query", "errorCode": "MALFORMED_QUERY"}], {}
            rows = sorted(
                (a for a in self.accounts if iso(a["SystemModstamp"]) >= match[1]),
                key=lambda a: a["SystemModstamp"],
            )
            if request.path.endswith("/query"):
                rows = [a for a in rows if not a["IsDeleted"]]
            return 200, self._batch(rows, 0, len(rows)), {}
        if request.path.startswith(f"{VERSION}/query/"):
            locator, _, offset = request.path.rsplit("/", 1)[1].rpartition("-")
            rows = self.locators.get(locator)
            if rows is None:
                return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], {}
            return 200, self._batch(rows, int(offset), len(rows)), {}
        return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], {}

    def _batch(self, rows: list[dict[str, t.Any]], offset: int, total: int) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {
            "totalSize": total,
            "done": offset + BATCH >= total,
            "records": rows[offset : offset + BATCH],
        }
        if not body["done"]:
            locator = f"01gRO{secrets.token_hex(6)}"
            self.locators[locator] = rows
            body["nextRecordsUrl"] = f"{VERSION}/query/{locator}-{offset + BATCH}"
        return body

    def update(self) -> None:
        self.accounts[0] = account(1, "2024-01-09T10:00:00.000+0000")
        self.accounts.append(account(6, "2024-01-10T10:00:00.000+0000"))
        self.accounts[1] = account(2, "2024-01-11T10:00:00.000+0000", deleted=True)

    def expected(self, run: int) -> dict[str, Expected]:
        since = "2024-01-01T00:00:00Z" if run == 1 else "2024-01-06T10:00:00Z"
        rows = sorted(
            (a for a in self.accounts if iso(a["SystemModstamp"]) >= since), key=lambda a: a["SystemModstamp"]
        )
        emitted = [
            {**a, "_sdc_deleted_at": iso(a["SystemModstamp"]) if a["IsDeleted"] else None} for a in rows
        ]
        return {"accounts": Expected(emitted, rows[-1]["SystemModstamp"])}

"""Salesforce Bulk API 2.0 query jobs: CSV results paged by ``Sforce-Locator``.

- ``POST /services/oauth2/token``: client credentials (client_secret_post), no ``expires_in``.
- ``POST /services/data/v60.0/jobs/query`` with ``{"operation": "query", "query": "SELECT Id,
  Name, Industry, LastModifiedDate FROM Account WHERE LastModifiedDate > 2024-01-01T00:00:00Z"}``
  answers ``{"id": "750...", "operation": "query", "object": "Account", "state":
  "UploadComplete", ...}``.
- ``GET /services/data/v60.0/jobs/query/{id}``: ``UploadComplete`` -> ``InProgress`` ->
  ``JobComplete`` (or ``Failed`` with ``errorMessage``).
- ``GET /services/data/v60.0/jobs/query/{id}/results?maxRecords=N[&locator=L]``: ``text/csv``
  (header row, values quoted as Salesforce writes them) with ``Sforce-Locator`` (the next
  part, ``null`` after the last) and ``Sforce-NumberOfRecords``. A part holds `PART` rows.

Config: examples/salesforce_bulk.json.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
import typing as t
from pathlib import Path
from urllib.parse import parse_qs

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/salesforce_bulk.json"
ROOT = Path(__file__).resolve().parents[2]
JOBS = "/services/data/v60.0/jobs/query"
CLIENT_ID = "3MVG9-connected-app-key"
PART = 4
QUERY = re.compile(
    r"^SELECT Id, Name, Industry, LastModifiedDate FROM Account WHERE LastModifiedDate > "
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$"
)
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def account(n: int, modified: dt.datetime) -> dict[str, t.Any]:
    return {
        "Id": f"001D000000Ix{n:04d}",
        "Name": f"Account {n}, Inc." if n % 3 == 0 else f"Account {n}",
        "Industry": None if n % 4 == 0 else ("Banking", "Energy", "Retail")[n % 3],
        "LastModifiedDate": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def csv_value(value: t.Any) -> str:
    if value is None:
        return ""
    text = str(value).replace('"', '""')
    return f'"{text}"'


class Api(ZooApi):
    def __init__(self, ready_seconds: float = 0.1) -> None:
        super().__init__()
        self.ready_seconds = ready_seconds
        self.accounts = [account(n, EPOCH + dt.timedelta(hours=n)) for n in range(1, 11)]
        self.jobs: dict[str, dict[str, t.Any]] = {}
        self.fail_next = False
        self.secret = secrets.token_urlsafe(16)

    def overrides(self, run: int) -> dict[str, t.Any]:
        stream = json.loads((ROOT / EXAMPLE).read_text())["streams"][0]
        stream["job"]["poll"].update(interval_seconds=0.05, max_interval_seconds=0.2)
        stream["job"]["download"]["params"]["maxRecords"] = PART
        return {
            "api_url": self.url,
            "auth": {"token_url": f"{self.url}/services/oauth2/token", "client_secret": self.secret},
            "streams": [stream],
        }

    def handle(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(request.raw_body.decode()).items()}
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.secret):
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
            return 200, {"access_token": self.token, "instance_url": self.url, "token_type": "Bearer"}, {}
        if not self.bearer_ok(request):
            return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], {}
        if request.method == "POST" and request.path == JOBS:
            return self.create(request.body or {})
        parts = request.path.removeprefix(JOBS + "/").split("/")
        job = self.jobs.get(parts[0]) if request.path.startswith(JOBS + "/") else None
        if job is None:
            return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], {}
        if parts[1:] == []:
            return 200, self.state(job), {}
        if parts[1:] == ["results"]:
            return self.results(job, request)
        return 404, [{"message": request.path, "errorCode": "NOT_FOUND"}], {}

    def create(self, body: dict[str, t.Any]) -> Reply:
        match = QUERY.match(str(body.get("query", "")))
        if body.get("operation") != "query" or match is None:
            return 400, [{"message": "MALFORMED_QUERY", "errorCode": "INVALIDJOB"}], {}
        since = dt.datetime.fromisoformat(match[1].replace("Z", "+00:00"))
        rows = [a for a in self.accounts if dt.datetime.fromisoformat(a["LastModifiedDate"]) > since]
        job_id = "750R" + secrets.token_hex(7)
        self.jobs[job_id] = {"id": job_id, "rows": rows, "created": time.monotonic(), "fail": self.fail_next}
        return 200, {"id": job_id, "operation": "query", "object": "Account", "state": "UploadComplete"}, {}

    def state(self, job: dict[str, t.Any]) -> dict[str, t.Any]:
        age = time.monotonic() - job["created"]
        answer = {"id": job["id"], "operation": "query", "object": "Account", "state": "InProgress"}
        if age >= self.ready_seconds:
            if job["fail"]:
                return {**answer, "state": "Failed", "errorMessage": "INVALID_FIELD: No such column"}
            answer.update(state="JobComplete", numberRecordsProcessed=len(job["rows"]))
        return answer

    def results(self, job: dict[str, t.Any], request: Request) -> Reply:
        if self.state(job)["state"] != "JobComplete":
            return 400, [{"message": "job not complete", "errorCode": "INVALIDJOB"}], {}
        size = int(request.query.get("maxRecords", 50000))
        start = int(request.query.get("locator", "0") or 0)
        part = job["rows"][start : start + size]
        lines = ['"Id","Name","Industry","LastModifiedDate"']
        lines += [
            ",".join(csv_value(row[k]) for k in ("Id", "Name", "Industry", "LastModifiedDate"))
            for row in part
        ]
        following = start + size
        locator = str(following) if following < len(job["rows"]) else "null"
        headers = {
            "Content-Type": "text/csv",
            "Sforce-Locator": locator,
            "Sforce-NumberOfRecords": str(len(part)),
        }
        return 200, ("\n".join(lines) + "\n").encode(), headers

    def update(self) -> None:
        self.accounts[2] = account(3, EPOCH + dt.timedelta(days=30))  # changed
        self.accounts.append(account(11, EPOCH + dt.timedelta(days=31)))  # new

    def expected(self, run: int) -> dict[str, Expected]:
        records = list(self.accounts) if run == 1 else [self.accounts[2], self.accounts[-1]]
        bookmark = max(r["LastModifiedDate"] for r in self.accounts)
        return {"accounts": Expected(records, bookmark)}

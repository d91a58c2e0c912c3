"""Amazon Ads reporting v3: one asynchronous report per profile and day, downloaded from S3.

- ``POST /reporting/reports`` (bearer token, ``Amazon-Advertising-API-ClientId``,
  ``Amazon-Advertising-API-Scope: <profile id>``, ``Content-Type:
  application/vnd.createasyncreportrequest.v3+json``) with ``{"name", "startDate", "endDate",
  "configuration": {"adProduct": "SPONSORED_PRODUCTS", "reportTypeId": "spCampaigns",
  "timeUnit": "DAILY", "format": "GZIP_JSON", ...}}`` answers ``{"reportId", "status":
  "PENDING"}``.
- ``GET /reporting/reports/{reportId}`` (same headers): ``PENDING`` -> ``PROCESSING`` ->
  ``COMPLETED`` after `ready_seconds`, then with ``"url"``: a presigned S3 URL on another
  origin (`Storage`) serving a gzip JSON array ``[{"date", "campaignId", "impressions",
  "clicks", "cost"}]`` as ``application/octet-stream``. Like S3, the storage refuses a
  request that carries an ``Authorization`` header (400 InvalidArgument: "Only one auth
  mechanism allowed") and one without the URL's signature (403).

Status answers carry ``Retry-After: <retry_after>`` when it is set. Hostile switches:
`never_done` (always ``PROCESSING``), `fail_day` (that day's report ends ``FAILED`` with a
``failureReason``), `redirect_to_http` (the storage answers 307 to a plain http URL),
`redirect_to_api` (the storage answers 307 to ``/mirror/...`` on the API's own origin,
which serves the file only to a request without credentials).

Config: examples/amazon_ads.json.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import secrets
import threading
import time
import typing as t
from pathlib import Path

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request, RequestServer

EXAMPLE = "examples/amazon_ads.json"
ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("1111111111", "2222222222")
CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
FIRST_DAY = dt.date(2024, 3, 1)
FIRST_END, SECOND_END = "2024-03-08T00:00:00Z", "2024-03-10T00:00:00Z"
CREATE_TYPE = "application/vnd.createasyncreportrequest.v3+json"


def row(profile: str, day: dt.date, campaign: int) -> dict[str, t.Any]:
    seed = (day - FIRST_DAY).days * 5 + campaign + int(profile[0])
    return {
        "date": day.isoformat(),
        "campaignId": f"{profile[:3]}{campaign:05d}",
        "impressions": 1000 + seed,
        "clicks": seed % 17,
        "cost": round(seed * 0.37, 2),
    }


class Storage(RequestServer):
    """The S3 bucket of the presigned URLs: ``GET /reports/{id}.json.gz?X-Amz-Signature=...``."""

    def __init__(self, api: Api) -> None:
        super().__init__({"*": self.serve})
        self.api = api

    def serve(self, request: Request) -> Reply:
        if "authorization" in request.headers:
            return 400, {"Code": "InvalidArgument", "Message": "Only one auth mechanism allowed"}, {}
        report_id = request.path.rsplit("/", 1)[-1].removesuffix(".json.gz")
        report = self.api.reports.get(report_id)
        if report is None or request.query.get("X-Amz-Signature") != report["signature"]:
            return 403, {"Code": "SignatureDoesNotMatch"}, {}
        if self.api.redirect_to_http:
            return 307, {}, {"Location": f"http://reports.example.invalid{request.raw_path}"}
        if self.api.redirect_to_api and not request.path.startswith("/mirror/"):
            query = f"X-Amz-Signature={report['signature']}"
            return 307, {}, {"Location": f"{self.api.url}/mirror/{report_id}.json.gz?{query}"}
        campaigns = range(1, self.api.campaigns + 1)
        rows = [row(report["profile"], day, campaign) for day in report["days"] for campaign in campaigns]
        return 200, gzip.compress(json.dumps(rows).encode()), {"Content-Type": "application/octet-stream"}


class Api(ZooApi):
    def __init__(self, ready_seconds: float = 0.15) -> None:
        super().__init__()
        self.ready_seconds = ready_seconds
        self.reports: dict[str, dict[str, t.Any]] = {}
        self.storage = Storage(self)
        self.never_done = False
        self.fail_day: str | None = None
        self.redirect_to_http = False
        self.campaigns = 2  # rows per day in a report file
        self.retry_after: str | None = None  # a Retry-After header on status answers
        self.redirect_to_api = False  # the storage redirects to /mirror/ on the API's origin
        self.mirrored: list[Request] = []
        self.odd_answer: str | None = None  # "status_object" or "no_url": a status answer of another shape
        self.jobs_lock = threading.Lock()

    def start(self) -> Api:
        self.storage.start()
        return super().start()

    def stop(self) -> None:
        self.storage.stop()
        super().stop()

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"token": self.token},
            "end_date": FIRST_END if run == 1 else SECOND_END,
            "streams": [self.fast_stream()],
        }

    def fast_stream(self) -> dict[str, t.Any]:
        """The example's stream, polling every 50 ms (the real API: seconds)."""
        stream = json.loads((ROOT / EXAMPLE).read_text())["streams"][0]
        stream["job"]["poll"].update(interval_seconds=0.05, max_interval_seconds=0.2)
        return stream

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/mirror/"):  # the API's origin serving a file, as a redirect target
            self.mirrored.append(request)
            return self.storage.serve(request)
        if not self.bearer_ok(request):
            return 401, {"code": "UNAUTHORIZED", "details": "Not authorized"}, {}
        if request.headers.get("amazon-advertising-api-clientid") != CLIENT_ID:
            return 400, {"code": "400", "details": "Amazon-Advertising-API-ClientId is missing"}, {}
        profile = request.headers.get("amazon-advertising-api-scope")
        if profile not in PROFILES:
            return 403, {"code": "UNAUTHORIZED", "details": "Amazon-Advertising-API-Scope is invalid"}, {}
        if request.method == "POST" and request.path == "/reporting/reports":
            return self.create(request, profile)
        if request.method == "GET" and request.path.startswith("/reporting/reports/"):
            return self.status(request.path.rsplit("/", 1)[1], profile)
        return 404, {"code": "NOT_FOUND", "details": request.path}, {}

    def create(self, request: Request, profile: str) -> Reply:
        body = request.body or {}
        if request.headers.get("content-type") != CREATE_TYPE:
            return 415, {"code": "415", "details": f"Content-Type must be {CREATE_TYPE}"}, {}
        configuration = body.get("configuration") or {}
        if configuration.get("format") != "GZIP_JSON" or configuration.get("timeUnit") != "DAILY":
            return 400, {"code": "400", "details": "configuration.format/timeUnit"}, {}
        try:
            low = dt.date.fromisoformat(body["startDate"])
            high = dt.date.fromisoformat(body["endDate"])
        except (KeyError, TypeError, ValueError):
            return 400, {"code": "400", "details": "startDate, endDate: YYYY-MM-DD"}, {}
        if high < low or (high - low).days > 30:
            return 400, {"code": "400", "details": "the date range is at most 31 days"}, {}
        report_id = secrets.token_hex(8)
        with self.jobs_lock:
            self.reports[report_id] = {
                "profile": profile,
                "days": [low + dt.timedelta(days=n) for n in range((high - low).days + 1)],
                "created": time.monotonic(),
                "signature": secrets.token_hex(16),
                "polls": [],
            }
        return 200, {"reportId": report_id, "status": "PENDING", "name": body.get("name")}, {}

    def status(self, report_id: str, profile: str) -> Reply:
        report = self.reports.get(report_id)
        if report is None or report["profile"] != profile:
            return 404, {"code": "NOT_FOUND", "details": f"report {report_id}"}, {}
        report["polls"].append(time.monotonic())
        age = time.monotonic() - report["created"]
        answer: dict[str, t.Any] = {"reportId": report_id, "status": "PENDING"}
        if age >= self.ready_seconds / 2 or self.never_done:
            answer["status"] = "PROCESSING"
        if age >= self.ready_seconds and not self.never_done:
            if self.fail_day in {day.isoformat() for day in report["days"]}:
                return 200, {**answer, "status": "FAILED", "failureReason": "Report generation failed"}, {}
            url = f"{self.storage.url}/reports/{report_id}.json.gz?X-Amz-Signature={report['signature']}"
            answer.update(status="COMPLETED", url=url, fileSize=1234)
            if self.odd_answer == "no_url":
                del answer["url"]
        if self.odd_answer == "status_object":
            answer["status"] = {"code": answer["status"]}
        return 200, answer, {"Retry-After": self.retry_after} if self.retry_after else {}

    def update(self) -> None:
        """Nothing changes at the API: run 2 reads the days up to its later end_date."""

    def expected(self, run: int) -> dict[str, Expected]:
        low, high = (
            (FIRST_DAY, dt.date(2024, 3, 7)) if run == 1 else (dt.date(2024, 3, 7), dt.date(2024, 3, 9))
        )
        days = [low + dt.timedelta(days=n) for n in range((high - low).days + 1)]
        records = [
            {**row(profile, day, campaign), "profile_id": profile}
            for profile in PROFILES
            for day in days
            for campaign in (1, 2)
        ]
        end = (FIRST_END if run == 1 else SECOND_END).replace("Z", "+00:00")
        return {"sp_campaigns": Expected(records, {json.dumps({"profile_id": p}): end for p in PROFILES})}

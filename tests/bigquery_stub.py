"""A local stand-in for the BigQuery REST API, for end-to-end tests with the real client.

google-cloud-bigquery reads its endpoint from `BIGQUERY_EMULATOR_HOST` (its documented
emulator setting); credentials are a service-account key generated at test time whose
`token_uri` points at `/token` here. Served, as z3-target-bigquery uses them:

- datasets and tables: get, insert, patch (schema), delete;
- load jobs by resumable upload (newline-delimited JSON, gzip or not); each row is checked
  against the table's columns as BigQuery would (type, mode, REPEATED without NULLs) and a
  bad row fails the job with BigQuery's `errorResult`;
- query jobs for the statements the target issues: `SELECT 1 AS _no_op`,
  `MERGE ... USING ... ON target.k = source.k WHEN MATCHED ... WHEN NOT MATCHED ...`, and
  `DROP TABLE IF EXISTS`; anything else fails the job (so a changed target shows up).

Every call must carry the access token `/token` issued.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import threading
import typing as t
import uuid
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer

TOKEN = "stub-access-token"
_INT64 = range(-(2**63), 2**63)
_TABLE = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$")
_TABLES = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables$")
_DATASET = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)$")
_DATASETS = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets$")
_JOBS = re.compile(r"^/bigquery/v2/projects/([^/]+)/jobs$")
_JOB = re.compile(r"^/bigquery/v2/projects/([^/]+)/(?:jobs|queries)/([^/]+)$")
_UPLOAD = re.compile(r"^/upload/bigquery/v2/projects/([^/]+)/jobs$")
_MERGE = re.compile(
    r"MERGE `([^`]+)` AS target USING `([^`]+)` AS source ON (.+?) WHEN MATCHED THEN UPDATE SET .+? "
    r"WHEN NOT MATCHED THEN INSERT .+",
    re.S,
)
_KEY = re.compile(r"target\.`([^`]+)` = source\.`\1`")
_DROP = re.compile(r"DROP TABLE IF EXISTS `([^`]+)`\.`([^`]+)`\.`([^`]+)`")


class RowError(ValueError):
    """A value BigQuery would refuse for its column."""


def check_row(row: dict[str, t.Any], fields: list[dict[str, t.Any]], where: str = "") -> None:
    """Raise RowError when a JSON row does not fit the columns (unknown keys are ignored, as the
    target's load jobs ask with `ignore_unknown_values`)."""
    by_name = {f["name"]: f for f in fields}
    for name, value in row.items():
        field = by_name.get(name)
        if field is not None:
            _check_value(value, field, f"{where}{name}")


def _check_value(value: t.Any, field: dict[str, t.Any], where: str) -> None:
    mode = field.get("mode", "NULLABLE")
    if mode == "REPEATED":
        if value is None:
            return
        if not isinstance(value, list):
            raise RowError(f"{where}: REPEATED column got {type(value).__name__}")
        for item in value:
            if item is None:
                raise RowError(f"{where}: array has a NULL element")
            _check_scalar(item, field, where)
        return
    if value is None:
        if mode == "REQUIRED":
            raise RowError(f"{where}: missing required value")
        return
    _check_scalar(value, field, where)


def _check_scalar(value: t.Any, field: dict[str, t.Any], where: str) -> None:
    kind = field["type"].upper()
    ok = {
        "STRING": lambda v: isinstance(v, str),
        "INTEGER": lambda v: (type(v) is int and v in _INT64) or (isinstance(v, str) and _int64_text(v)),
        "INT64": lambda v: type(v) is int and v in _INT64,
        "FLOAT": lambda v: type(v) in (int, float),
        "NUMERIC": lambda v: type(v) in (int, float) or isinstance(v, str),
        "BOOLEAN": lambda v: type(v) is bool,
        "TIMESTAMP": _timestamp,
        "JSON": lambda v: True,
        "RECORD": lambda v: isinstance(v, dict),
    }.get(kind)
    if ok is None or not ok(value):
        raise RowError(f"{where}: {kind} column got {json.dumps(value)[:60]}")
    if kind == "RECORD":
        check_row(value, field.get("fields", []), f"{where}.")


def _int64_text(value: str) -> bool:
    try:
        return int(value) in _INT64
    except ValueError:
        return False


def _timestamp(value: t.Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class BigQueryStub(LocalServer):
    """In-memory datasets, tables (schema and rows) and jobs; `queries` lists the SQL received."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.lock = threading.Lock()
        self.datasets: dict[tuple[str, str], dict[str, t.Any]] = {}
        self.tables: dict[tuple[str, str, str], dict[str, t.Any]] = {}
        self.rows: dict[tuple[str, str, str], list[dict[str, t.Any]]] = {}
        self.jobs: dict[str, dict[str, t.Any]] = {}
        self.uploads: dict[str, dict[str, t.Any]] = {}
        self.queries: list[str] = []
        self.loads: list[tuple[str, int]] = []  # (table name, rows) per finished load job
        self.tokens_issued = 0
        self.unauthorized = 0

    def table(self, dataset: str, name: str) -> dict[str, t.Any]:
        (key,) = [k for k in self.tables if k[1:] == (dataset, name)]
        return self.tables[key]

    def table_rows(self, dataset: str, name: str) -> list[dict[str, t.Any]]:
        (key,) = [k for k in self.tables if k[1:] == (dataset, name)]
        return self.rows[key]

    def run_load(self, job: dict[str, t.Any], data: bytes) -> None:
        load = job["configuration"]["load"]
        ref = load["destinationTable"]
        key = (ref["projectId"], ref["datasetId"], ref["tableId"])
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        rows = [json.loads(line) for line in data.splitlines() if line.strip()]
        with self.lock:
            table = self.tables.get(key)
            if table is None:
                job["status"] = _failed("notFound", f"Not found: Table {'.'.join(key)}")
                return
            fields = table.get("schema", {}).get("fields", [])
            try:
                for n, row in enumerate(rows):
                    check_row(row, fields, f"row {n}: ")
            except RowError as exc:
                job["status"] = _failed("invalid", str(exc))
                return
            self.rows[key].extend(rows)
            self.loads.append((key[2], len(rows)))
        job["status"] = {"state": "DONE"}
        job["statistics"] = {"load": {"outputRows": str(len(rows))}}

    def append(self, batch: dict[str, t.Any]) -> dict[str, t.Any]:
        """Rows for `projects/P/datasets/D/tables/T` from tests/bigquery_write_stub.py."""
        _, project, _, dataset, _, table = batch["table"].split("/")
        key = (project, dataset, table)
        with self.lock:
            if key not in self.tables:
                return {"error": f"Not found: Table {'.'.join(key)}"}
            fields = self.tables[key].get("schema", {}).get("fields", [])
            try:
                for n, row in enumerate(batch["rows"]):
                    check_row(row, fields, f"row {n}: ")
            except RowError as exc:
                return {"error": str(exc)}
            self.rows[key].extend(batch["rows"])
            self.loads.append((table, len(batch["rows"])))
        return {}

    def run_query(self, job: dict[str, t.Any]) -> None:
        sql = job["configuration"]["query"]["query"]
        self.queries.append(sql)
        try:
            for statement in filter(None, (s.strip() for s in sql.split(";"))):
                self._statement(statement)
        except (KeyError, ValueError) as exc:
            job["status"] = _failed("invalidQuery", f"stub cannot run: {exc}")
            return
        job["status"] = {"state": "DONE"}

    def _statement(self, sql: str) -> None:
        if sql == "SELECT 1 AS _no_op":
            return
        if merge := _MERGE.fullmatch(sql):
            target, source, on = merge.groups()
            keys = _KEY.findall(on)
            if not keys:
                raise ValueError(f"no key in {on!r}")
            with self.lock:
                target_rows = self.rows[tuple(target.split("."))]  # type: ignore[index]
                by_key = {tuple(r.get(k) for k in keys): i for i, r in enumerate(target_rows)}
                for row in self.rows[tuple(source.split("."))]:  # type: ignore[index]
                    at = by_key.get(tuple(row.get(k) for k in keys))
                    if at is None:
                        by_key[tuple(row.get(k) for k in keys)] = len(target_rows)
                        target_rows.append(row)
                    else:
                        target_rows[at] = row
            return
        if drop := _DROP.fullmatch(sql):
            with self.lock:
                self.tables.pop(drop.groups(), None)
                self.rows.pop(drop.groups(), None)
            return
        raise ValueError(sql[:80])


def _failed(reason: str, message: str) -> dict[str, t.Any]:
    error = {"reason": reason, "message": message}
    return {"state": "DONE", "errorResult": error, "errors": [error]}


def _not_found(what: str) -> dict[str, t.Any]:
    return {"error": {"code": 404, "message": f"Not found: {what}", "status": "NOT_FOUND"}}


class _Handler(JsonHandler):
    server: BigQueryStub

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self.server.unauthorized += 1
        self._body()
        self.send_json(
            401, {"error": {"code": 401, "message": "no valid token", "status": "UNAUTHENTICATED"}}
        )
        return False

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_stub/rows":  # rows the Storage Write stand-in decoded
            self.send_json(200, self.server.append(json.loads(self._body())))
            return
        if url.path == "/token":
            self._body()
            self.server.tokens_issued += 1
            self.send_json(200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
            return
        if not self._authorized():
            return
        body = json.loads(self._body() or b"{}")
        stub = self.server
        if match := _DATASETS.match(url.path):
            ref = body["datasetReference"]
            key = (ref["projectId"], ref["datasetId"])
            resource = {**body, "id": ":".join(key), "location": body.get("location", "US")}
            with stub.lock:
                stub.datasets.setdefault(key, resource)
            self.send_json(200, resource)
        elif match := _TABLES.match(url.path):
            ref = body["tableReference"]
            key = (ref["projectId"], ref["datasetId"], ref["tableId"])
            with stub.lock:
                if key in stub.tables:
                    self.send_json(
                        409, {"error": {"code": 409, "message": "Already Exists", "status": "ALREADY_EXISTS"}}
                    )
                    return
                stub.tables[key] = {**body, "id": f"{key[0]}:{key[1]}.{key[2]}", "type": "TABLE"}
                stub.rows[key] = []
            self.send_json(200, stub.tables[key])
        elif match := _UPLOAD.match(url.path):
            upload_id = uuid.uuid4().hex
            stub.uploads[upload_id] = _job(body, match.group(1))
            location = f"{stub.url}{url.path}?uploadType=resumable&upload_id={upload_id}"
            self.send_json(200, {}, {"Location": location})
        elif match := _JOBS.match(url.path):
            job = _job(body, match.group(1))
            stub.run_query(job)
            stub.jobs[job["jobReference"]["jobId"]] = job
            self.send_json(200, job)
        else:
            self.send_json(404, _not_found(url.path))

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized():
            return
        upload_id = parse_qs(url.query).get("upload_id", [""])[0]
        job = self.server.uploads.get(upload_id)
        data = self._body()
        if job is None:
            self.send_json(404, _not_found(f"upload {upload_id}"))
            return
        job.setdefault("_data", bytearray()).extend(data)
        total = (self.headers.get("Content-Range") or "").rpartition("/")[2]
        if total == "*":
            end = len(job["_data"]) - 1
            self.send_bytes(308, b"", "text/plain", {"Range": f"bytes=0-{end}"})
            return
        payload = bytes(job.pop("_data"))
        self.server.run_load(job, payload)
        self.server.jobs[job["jobReference"]["jobId"]] = job
        self.send_json(200, job)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized():
            return
        stub = self.server
        if match := _TABLE.match(url.path):
            table = stub.tables.get(match.groups())  # type: ignore[arg-type]
            if table is None:
                self.send_json(404, _not_found(f"Table {'.'.join(match.groups())}"))
            else:
                self.send_json(200, {**table, "numRows": str(len(stub.rows[match.groups()]))})  # type: ignore[index]
        elif match := _DATASET.match(url.path):
            dataset = stub.datasets.get(match.groups())  # type: ignore[arg-type]
            if dataset is None:
                self.send_json(404, _not_found(f"Dataset {':'.join(match.groups())}"))
            else:
                self.send_json(200, dataset)
        elif match := _JOB.match(url.path):
            job = stub.jobs.get(match.group(2))
            if job is None:
                self.send_json(404, _not_found(f"Job {match.group(2)}"))
            elif "/queries/" in url.path:
                self.send_json(
                    200,
                    {
                        "kind": "bigquery#getQueryResultsResponse",
                        "jobReference": job["jobReference"],
                        "jobComplete": True,
                        "totalRows": "0",
                        "rows": [],
                        "schema": {"fields": []},
                    },
                )
            else:
                self.send_json(200, job)
        else:
            self.send_json(404, _not_found(url.path))

    def do_PATCH(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized():
            return
        body = json.loads(self._body() or b"{}")
        match = _TABLE.match(url.path)
        table = self.server.tables.get(match.groups()) if match else None  # type: ignore[arg-type]
        if table is None:
            self.send_json(404, _not_found(url.path))
            return
        table.update(body)
        self.send_json(200, table)

    def do_DELETE(self) -> None:
        url = urlsplit(self.path)
        if not self._authorized():
            return
        match = _TABLE.match(url.path)
        if match:
            self.server.tables.pop(match.groups(), None)  # type: ignore[arg-type]
            self.server.rows.pop(match.groups(), None)  # type: ignore[arg-type]
        self.send_bytes(204, b"", "text/plain")


def _job(body: dict[str, t.Any], project: str) -> dict[str, t.Any]:
    reference = {
        "projectId": project,
        "jobId": uuid.uuid4().hex,
        "location": "US",
        **body.get("jobReference", {}),
    }
    return {
        **body,
        "jobReference": reference,
        "id": f"{project}:US.{reference['jobId']}",
        "status": {"state": "RUNNING"},
    }

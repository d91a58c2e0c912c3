"""Benchmark: a windowed backfill, one year of daily windows against a latency-bound API.

    .venv/bin/python -m benchmarks.windows --runs 3

A reporting API answers ``GET /v1/report?from=YYYY-MM-DD&to=YYYY-MM-DD`` (one day per
request, 24 rows, each response pre-rendered) after `--latency` seconds (50 ms). The tap
reads 2024 in 365 daily windows with ``concurrency: 1`` and ``concurrency: 8``, each a
separate process; whole-process wall time is measured (launch.py), runs alternate, and
medians are reported. Both must emit the same records in the same order and the same
final state, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from benchmarks.measure import median, run
from tap_restoauth.sandbox import JsonHandler, LocalServer

DAYS = 365
FIRST = dt.date(2024, 1, 1)


class ReportServer(LocalServer):
    """Daily rows, rendered up front; every request waits `latency` seconds."""

    def __init__(self, latency: float) -> None:
        super().__init__(_Handler)
        self.latency = latency
        self.pages: dict[str, bytes] = {}
        for n in range(DAYS + 1):
            day = FIRST + dt.timedelta(days=n)
            rows = [
                {"id": n * 24 + h, "at": f"{day.isoformat()}T{h:02d}:00:00Z", "clicks": (n * h) % 17}
                for h in range(24)
            ]
            self.pages[day.isoformat()] = json.dumps({"rows": rows}).encode()
        self.lock = threading.Lock()
        self.first = self.last = 0.0
        self.requests = 0

    def reset(self) -> None:
        self.first = self.last = 0.0
        self.requests = 0

    def span(self) -> float:
        return self.last - self.first


class _Handler(JsonHandler):
    server: ReportServer

    def do_GET(self) -> None:
        started = time.monotonic()
        with self.server.lock:
            self.server.first = self.server.first or started
            self.server.requests += 1
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        time.sleep(self.server.latency)
        body = self.server.pages.get(query.get("from", ""))
        if body is None or query.get("to") != query.get("from"):
            self.send_json(400, {"error": "one day per request"})
        else:
            self.send_bytes(200, body)
        with self.server.lock:
            self.server.last = time.monotonic()


def config(url: str, concurrency: int) -> dict[str, t.Any]:
    return {
        "api_url": url,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-12-31T00:00:00Z",  # 2024 is a leap year: 365 days
        "concurrency": concurrency,
        "streams": [
            {
                "name": "report",
                "path": "/v1/report",
                "records_path": "$.rows[*]",
                "primary_keys": ["id"],
                "replication_key": "at",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                        "clicks": {"type": "integer"},
                    },
                },
                "incremental": {
                    "param": "from",
                    "end_param": "to",
                    "format": "date",
                    "step": "P1D",
                    "granularity": "P1D",
                },
                "pagination": {"type": "none"},
            }
        ],
    }


def output(path: Path) -> tuple[list[t.Any], t.Any]:
    """The RECORD messages in order and the final state without the run's signpost (a clock time)."""
    records, state = [], None
    for line in path.read_text().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append(message["record"])
        elif message["type"] == "STATE":
            state = message["value"]
    mark = (state or {}).get("bookmarks", {}).get("report", {})
    mark.pop("replication_key_signpost", None)
    return records, state


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    server = ReportServer(args.latency).start()
    work = Path(tempfile.mkdtemp(prefix="bench-windows-"))
    walls: dict[int, list[float]] = {1: [], 8: []}
    spans: dict[int, list[float]] = {1: [], 8: []}
    outputs: dict[int, tuple[list[t.Any], t.Any]] = {}
    try:
        for round_number in range(args.runs):
            for concurrency in (1, 8) if round_number % 2 == 0 else (8, 1):
                path = work / f"config-{concurrency}.json"
                path.write_text(json.dumps(config(server.url, concurrency)))
                out = work / f"out-{concurrency}-{round_number}.jsonl"
                server.reset()
                sample = run(
                    [sys.executable, "-m", "tap_restoauth", "--config", str(path)],
                    stdout=out,
                    log=work / f"log-{concurrency}-{round_number}.txt",
                    span=server.span,
                )
                assert server.requests == DAYS, f"{server.requests} requests, expected {DAYS}"
                walls[concurrency].append(sample.wall)
                spans[concurrency].append(sample.span)
                outputs.setdefault(concurrency, output(out))
                assert output(out) == outputs[concurrency]
    finally:
        server.stop()
    records, state = outputs[1]
    assert outputs[8] == outputs[1], "concurrency 8 emitted other records or another final state"
    one, eight = median(walls[1]), median(walls[8])
    latency = f"{args.latency * 1000:.0f} ms"
    print(f"### Windowed backfill: {DAYS} daily windows, {latency} latency, {args.runs} runs each\n")
    print("| contender | median wall time | median sync span | speed-up (wall) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| tap-restoauth, concurrency 1 | {one:.2f} s | {median(spans[1]):.2f} s | 1.0x |")
    print(f"| tap-restoauth, concurrency 8 | {eight:.2f} s | {median(spans[8]):.2f} s | {one / eight:.1f}x |")
    bookmark = state["bookmarks"]["report"]["replication_key_value"]
    print(f"\n- both: {len(records):,} records in the same order, {DAYS} requests, final bookmark {bookmark}")


if __name__ == "__main__":
    main()

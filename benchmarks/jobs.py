"""Benchmark: 90 daily report jobs, each taking 2 s on the server, at concurrency 1 and 8.

    .venv/bin/python -m benchmarks.jobs --runs 1

The Amazon Ads v3-shaped report API of tests/api_zoo/amazon_ads.py (create, poll until
``COMPLETED`` `--ready` seconds after creation, download a gzip JSON file from a second
local origin without credentials) serves one profile; the tap reads 90 days (2024-01-01
to 2024-03-30) as 90 one-day jobs, polling every 0.25 s, with ``concurrency: 1`` and
``concurrency: 8``, each a separate process; whole-process wall time is measured
(launch.py), runs alternate, and medians are reported. Both must emit the same records in
the same order and the same final state, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import typing as t
from pathlib import Path

from benchmarks.measure import median, run
from tests.api_zoo import amazon_ads

DAYS = 90
PROFILE = amazon_ads.PROFILES[0]


def config(api: amazon_ads.Api, concurrency: int) -> dict[str, t.Any]:
    example = json.loads((amazon_ads.ROOT / amazon_ads.EXAMPLE).read_text())
    stream = example["streams"][0]
    stream["job"]["poll"].update(interval_seconds=0.25, max_interval_seconds=0.25)
    stream["job"].pop("max_concurrent_jobs", None)
    return {
        **example,
        "api_url": api.url,
        "auth": {"type": "bearer", "token": api.token},
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-03-31T00:00:00Z",
        "partitions": [{"profile_id": PROFILE}],
        "concurrency": concurrency,
        "streams": [stream],
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
    for partition in (state or {}).get("bookmarks", {}).get("sp_campaigns", {}).get("partitions", []):
        partition.pop("replication_key_signpost", None)
    return records, state


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--ready", type=float, default=2.0, help="seconds a job takes on the server")
    args = parser.parse_args()
    api = amazon_ads.Api(ready_seconds=args.ready).start()
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    walls: dict[int, list[float]] = {1: [], 8: []}
    outputs: dict[int, tuple[list[t.Any], t.Any]] = {}
    try:
        for round_number in range(args.runs):
            for concurrency in (1, 8) if round_number % 2 == 0 else (8, 1):
                path = work / f"config-{concurrency}.json"
                path.write_text(json.dumps(config(api, concurrency)))
                out = work / f"out-{concurrency}-{round_number}.jsonl"
                api.reports.clear()
                sample = run(
                    [sys.executable, "-m", "tap_restoauth", "--config", str(path)],
                    stdout=out,
                    log=work / f"log-{concurrency}-{round_number}.txt",
                    span=lambda: 0.0,  # the whole-process wall is the figure here
                )
                assert len(api.reports) == DAYS, f"{len(api.reports)} jobs, expected {DAYS}"
                walls[concurrency].append(sample.wall)
                outputs.setdefault(concurrency, output(out))
                assert output(out) == outputs[concurrency]
    finally:
        api.stop()
    records, state = outputs[1]
    assert outputs[8] == outputs[1], "concurrency 8 emitted other records or another final state"
    one, eight = median(walls[1]), median(walls[8])
    print(f"### Report jobs: {DAYS} daily jobs of {args.ready:g} s each, {args.runs} run(s) each\n")
    print("| contender | median wall time | speed-up (wall) |")
    print("| --- | ---: | ---: |")
    print(f"| tap-restoauth, concurrency 1 | {one:.2f} s | 1.0x |")
    print(f"| tap-restoauth, concurrency 8 | {eight:.2f} s | {one / eight:.1f}x |")
    bookmark = state["bookmarks"]["sp_campaigns"]["partitions"][0]["replication_key_value"]
    print(f"\n- both: {len(records):,} records in the same order, {DAYS} jobs, final bookmark {bookmark}")


if __name__ == "__main__":
    main()

"""One process against four shards of the same config, as four local processes.

A child stream over 5,000 parent records (one page of 3 children each), the server
adding 50 ms to every request; every process uses `concurrency: 8`. Reported: the wall
time of the single process and of the slowest of the four shards (the job's duration
on Cloud Run Jobs), medians over alternating rounds, and the checked record counts.

    .venv/bin/python -m benchmarks.shards [--runs 2] [--parents 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import contenders, measure
from benchmarks.server import BenchServer

SHARDS = 4


def _shard_config(base: Path, workdir: Path, index: int, count: int) -> Path:
    config = json.loads(base.read_text())
    config["shard"] = {"index": index, "count": count}
    path = workdir / f"shards_{index}_of_{count}.json"
    path.write_text(json.dumps(config))
    return path


def _run(server: BenchServer, base: Path, workdir: Path, count: int) -> tuple[list[float], int, set[t.Any]]:
    """Walls of `count` shard processes started together, children emitted, distinct child ids."""
    server.reset_counters()

    def one(index: int) -> measure.Sample:
        config = _shard_config(base, workdir, index, count)
        argv = [sys.executable, "-m", "tap_restoauth", "--config", str(config)]
        stdout = workdir / f"out_{index}_of_{count}.jsonl"
        return measure.run(argv, stdout=stdout, log=workdir / f"log_{index}_of_{count}", span=server.span)

    with ThreadPoolExecutor(count) as pool:
        samples = list(pool.map(one, range(count)))
    records, ids = 0, set()
    for index in range(count):
        output = measure.read_output(workdir / f"out_{index}_of_{count}.jsonl", "children")
        records += output.records
        ids |= output.record_ids
    return [s.wall for s in samples], records, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--parents", type=int, default=5000)
    args = parser.parse_args()
    server = BenchServer(records=args.parents, page_size=100, children=3, delay=0.05).start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-shards-") as folder:
            workdir = Path(folder)
            contender = contenders.restoauth_children(server, workdir, concurrency=8)
            base = Path(contender.argv[-1])
            walls: dict[int, list[float]] = {1: [], SHARDS: []}
            checked: dict[int, str] = {}
            for round_number in range(args.runs):
                order = (1, SHARDS) if round_number % 2 == 0 else (SHARDS, 1)
                for count in order:
                    shard_walls, records, ids = _run(server, base, workdir, count)
                    walls[count].append(max(shard_walls))
                    checked[count] = f"{records:,} children emitted, {len(ids):,} distinct"
                    each = ", ".join(f"{wall:.2f}" for wall in shard_walls)
                    print(f"{count} shard(s): slowest {max(shard_walls):.2f}s ({each})")
            single, sharded = measure.median(walls[1]), measure.median(walls[SHARDS])
            print()
            print("| processes | median wall of the slowest | runs | output |")
            print("| --- | ---: | ---: | --- |")
            print(f"| 1 (concurrency 8) | {single:.2f} s | {args.runs} | {checked[1]} |")
            label = f"{SHARDS} shards (concurrency 8 each)"
            print(f"| {label} | {sharded:.2f} s | {args.runs} | {checked[SHARDS]} |")
            print(f"\nspeed-up: {single / sharded:.1f}x")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()

"""Benchmarks of tap-restoauth: throughput against a floor and tap-rest-api-msdk, concurrency, memory.

    .venv/bin/python -m benchmarks.run                  # everything, 5 runs each
    .venv/bin/python -m benchmarks.run --only throughput --runs 7

Every contender is a separate process writing Singer messages to /dev/null; its
whole-process wall time and its own peak RSS are measured (see launch.py).
Contenders run alternately (round-robin, order rotated each round) so that a
noisy neighbour slows all of them alike; medians are reported. Each contender is
first run once with its output checked (record count, distinct ids, final
state) and that run is not timed. Results go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from benchmarks import contenders
from benchmarks.measure import Sample, median, read_output, run
from benchmarks.server import BenchServer

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass
class Result:
    contender: contenders.Contender
    samples: list[Sample] = dataclasses.field(default_factory=list)

    @property
    def wall(self) -> float:
        return median(s.wall for s in self.samples)

    @property
    def rss(self) -> float:
        return median(s.max_rss_mib for s in self.samples)

    @property
    def span(self) -> float:
        return median(s.span for s in self.samples)


def verify(server: BenchServer, contender: contenders.Contender, workdir: Path, expected: int) -> str:
    """One untimed run with its output read back; returns a one-line summary."""
    out = workdir / "verify.jsonl"
    server.reset_counters()
    run(contender.argv, stdout=out, log=workdir / "verify.log", span=server.span)
    output = read_output(out, contender.stream)
    out.unlink()
    if output.records != expected or len(output.record_ids) != expected:
        raise SystemExit(
            f"{contender.name}: emitted {output.records} records ({len(output.record_ids)} distinct ids), "
            f"expected {expected}"
        )
    bookmark = _bookmark(output.final_state, contender.stream)
    return f"{contender.name}: {output.records:,} records, {server.requests} requests, bookmark {bookmark}"


def _bookmark(state: dict[str, t.Any] | None, stream: str) -> str:
    entry = ((state or {}).get("bookmarks") or {}).get(stream) or {}
    if "partitions" in entry:
        values = [p.get("replication_key_value") for p in entry["partitions"]]
        highest = max(filter(None, values), default=None)
        return f"{sum(v is not None for v in values)} partitions with a bookmark, max {highest}"
    return str(entry.get("replication_key_value"))


def alternate(
    server: BenchServer, entries: list[contenders.Contender], workdir: Path, runs: int
) -> list[Result]:
    results = [Result(c) for c in entries]
    for round_number in range(runs):
        shift = round_number % len(results)
        for result in results[shift:] + results[:shift]:
            server.reset_counters()
            sample = run(result.contender.argv, log=workdir / "run.log", span=server.span)
            result.samples.append(sample)
            print(
                f"  round {round_number + 1}: {result.contender.name}: {sample.wall:.2f} s, "
                f"{sample.max_rss_mib:.0f} MiB",
                flush=True,
            )
    return results


def throughput(runs: int, records: int, workdir: Path, report: list[str]) -> None:
    print(f"throughput: {records:,} records, pages of 1,000 ...", flush=True)
    contenders.ensure_msdk()
    server = BenchServer(records=records, page_size=1000).start()
    try:
        entries = [
            contenders.floor(server),
            contenders.restoauth_records(server, workdir, declared=True),
            contenders.restoauth_records(server, workdir, declared=False),
            contenders.msdk(server, workdir),
        ]
        checks = [verify(server, c, workdir, records) for c in entries]
        results = alternate(server, entries, workdir, runs)
    finally:
        server.stop()
    floor = results[0].wall
    report += [
        f"### Throughput: {records:,} records x 10 fields, pages of 1,000, {runs} runs each",
        "",
        "| contender | median wall time | min - max | x floor | median peak RSS |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        walls = [s.wall for s in r.samples]
        report.append(
            f"| {r.contender.name} | {r.wall:.2f} s | {min(walls):.2f} - {max(walls):.2f} s | "
            f"{r.wall / floor:.2f}x | {r.rss:.0f} MiB |"
        )
    report += ["", "Checked outputs (untimed runs):", "", *[f"- {line}" for line in checks], ""]


def latency(runs: int, workdir: Path, report: list[str]) -> None:
    report += [
        f"### Latency-bound: the server adds 50 ms to every request, {runs} runs each",
        "",
        "| workload | concurrency 1: wall (sync) | concurrency 8: wall (sync) | speed-up: wall (sync) |",
        "| --- | ---: | ---: | ---: |",
    ]
    workloads: list[tuple[str, BenchServer, t.Callable[[BenchServer, int], contenders.Contender], int]] = [
        (
            "(a) child stream over 500 parent records, one page each",
            BenchServer(records=500, page_size=500, children=3, delay=0.05),
            lambda s, c: contenders.restoauth_children(s, workdir, concurrency=c),
            1500,
        ),
        (
            "(b) 10,000 records, 100 per page, total known from page 1",
            BenchServer(records=10_000, page_size=100, delay=0.05),
            lambda s, c: contenders.restoauth_records(
                s, workdir, declared=True, concurrency=c, name=f"tap-restoauth pages, concurrency {c}"
            ),
            10_000,
        ),
    ]
    checks: list[str] = []
    for title, server, build, expected in workloads:
        print(f"latency: {title} ...", flush=True)
        server.start()
        try:
            entries = [build(server, 1), build(server, 8)]
            checks += [verify(server, c, workdir, expected) for c in entries]
            sequential, concurrent = alternate(server, entries, workdir, runs)
        finally:
            server.stop()
        report.append(
            f"| {title} | {sequential.wall:.2f} s ({sequential.span:.2f} s) | "
            f"{concurrent.wall:.2f} s ({concurrent.span:.2f} s) | "
            f"{sequential.wall / concurrent.wall:.1f}x ({sequential.span / concurrent.span:.1f}x) |"
        )
    report += [
        "",
        "Wall: whole process. Sync: from the first request the server receives (the token",
        "request) to its last response, i.e. without the fixed process start-up (mostly",
        "importing singer-sdk, ~0.35 s on an idle machine) that the wall time includes.",
        "",
        "Checked outputs (untimed runs):",
        "",
        *[f"- {line}" for line in checks],
        "",
    ]


def memory(runs: int, records: int, workdir: Path, report: list[str]) -> None:
    print(f"memory: {records:,} records ...", flush=True)
    server = BenchServer(records=records, page_size=1000).start()
    try:
        entries = [
            contenders.floor(server),
            contenders.restoauth_records(server, workdir, declared=True),
        ]
        checks = [verify(server, c, workdir, records) for c in entries]
        results = alternate(server, entries, workdir, runs)
    finally:
        server.stop()
    report += [
        f"### Memory: {records:,} records, pages of 1,000, {runs} runs each",
        "",
        "| contender | median peak RSS | max peak RSS | median wall time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        report.append(
            f"| {r.contender.name} | {r.rss:.0f} MiB | {max(s.max_rss_mib for s in r.samples):.0f} MiB | "
            f"{r.wall:.2f} s |"
        )
    report += ["", *[f"- {line}" for line in checks], ""]


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return [
        f"- {os.cpu_count()} CPUs ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB RAM, {platform.platform()}",
        f"- Python {platform.python_version()}; the API server runs in the benchmark process, "
        "on the same cores",
        "- Other jobs shared the machine during the runs: timings are noisy, hence alternation and medians.",
    ]


CONTENDERS = [
    "Contenders, each a separate process writing Singer messages to /dev/null, run alternately",
    "(round-robin, order rotated each round), medians reported; wall time is the whole process",
    "and peak RSS the process's own (`wait4`), measured from a small launcher (launch.py):",
    "",
    "- **floor**: requests + msgspec, one token, each page decoded and one RECORD line encoded",
    "  per record (benchmarks/floor.py): no schema, no state, no retries.",
    "- **tap-restoauth (declared schema)**: `streams[].schema` given, incremental on `updated_at`",
    "  (unsorted: the bookmark is the maximum), records conformed to the schema, STATE per page.",
    "- **tap-restoauth (inferred schema)**: the same without `schema`: the first page is fetched",
    "  once more to infer it.",
    "- **tap-rest-api-msdk 1.4.2** from PyPI in its own venv (benchmarks/.venv-msdk, singer-sdk",
    "  0.40 as it pins), page-number pagination via `next_page_token_path`, `replication_key`;",
    "  it infers its schema on every run (one extra request).",
    "",
    "Every contender is first run once, untimed, with its output read back (record count,",
    "distinct ids, final bookmark). The API server renders every page before the first request",
    "and runs in the benchmark process, on the same two cores as the contender.",
    "",
]


NOTES = [
    "### Reading the numbers",
    "",
    "- tap-restoauth's wall time includes ~0.35 s of start-up (importing singer-sdk) against",
    "  ~0.1 s for the floor; the rest of a run is close to the floor's own loop (decode, encode,",
    "  HTTP). The ratio to the floor therefore moves with machine load: repeated runs on this",
    "  shared machine gave 1.1x to 1.5x for the same code.",
    "- Where a 200k-record sync spent its time in one instrumented run: HTTP ~40%, JSON decoding ~25%,",
    "  conformance + encoding + output ~20%, the rest bookkeeping (state, counters, checks).",
    "- Latency-bound (b): 8 requests in flight after the first page (which tells the total), so",
    "  the sync is ~13 rounds of 50 ms instead of 101; the wall-time ratio is lower because the",
    "  fixed start-up is a larger share of the shorter run.",
    "- Peak RSS does not grow with the record count (throughput vs memory tables): pages are",
    "  streamed, one at a time (a window of 2 x concurrency pages with concurrency > 1).",
    "",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per contender (default 5)")
    parser.add_argument("--records", type=int, default=200_000, help="records in the throughput run")
    parser.add_argument("--memory-records", type=int, default=1_000_000, help="records in the memory run")
    parser.add_argument(
        "--only", choices=["throughput", "latency", "memory"], action="append", help="run only these parts"
    )
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    parts = args.only or ["throughput", "latency", "memory"]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = " ".join([".venv/bin/python -m benchmarks.run", *sys.argv[1:]])
    report = ["## Benchmark results", "", f"Run {started} with `{command}` on:", "", *machine(), ""]
    report += CONTENDERS
    with tempfile.TemporaryDirectory(prefix="restoauth-bench-") as tmp:
        workdir = Path(tmp)
        if "throughput" in parts:
            throughput(args.runs, args.records, workdir, report)
        if "latency" in parts:
            latency(args.runs, workdir, report)
        if "memory" in parts:
            memory(max(1, min(args.runs, 3)), args.memory_records, workdir, report)
    report += NOTES
    text = "\n".join(report) + "\n"
    args.output.write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()

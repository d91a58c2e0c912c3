"""Instructions executed by whole syncs (valgrind's callgrind): a measure the machine's load does not move.

    .venv/bin/python -m benchmarks.instructions --against c7d335d
    .venv/bin/python -m benchmarks.instructions --against 5120a15 --parallel 1

On a shared machine wall and CPU times of the same run spread by 20% and more
(`benchmarks.compare` alternates runs and takes medians to cope). The count of
instructions a process executes barely moves: this runs each build's whole sync
(and the floor, benchmarks/floor.py) once under `valgrind --tool=callgrind` on
two workloads, `--records` and `--short-records` records in pages of 1,000 (the
same server, config and builds as `benchmarks.compare`), and prints per build:

- the instructions of the whole process on the long workload, and their ratio to the floor's;
- the instructions per 1,000-record page: (long - short) / (the page-count difference);
- the fixed part (start-up, discovery, token, the first requests): long - pages x per page;
- `tap-restoauth --about`, and the start-up cost as benchmarks/compare.py defines it: the
  short run minus the floor's short run.

Instructions are not time (a byte-copying loop runs several per cycle, a cache miss
none), but a change that removes instructions from the page loop removes work. Runs
take ~80x their native time (~80 s for 200,000 records); `--parallel` runs that many
at once (default 2: the machine's cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.compare import Build, Workload, _floor, _tap, current_build, ensure_build
from benchmarks.run import machine
from benchmarks.server import BenchServer

PAGE = 1000
_COLLECTED = re.compile(rb"Collected : (\d+)")


@dataclasses.dataclass(frozen=True)
class Counted:
    """One program's instruction counts on the long and the short workload."""

    label: str
    long: int
    short: int
    about: int | None = None  # `--about` (None: the floor has none)

    def per_page(self, pages: int) -> float:
        return (self.long - self.short) / pages

    def fixed(self, long_pages: int, pages: int) -> float:
        return self.long - long_pages * self.per_page(pages)


def count(argv: list[str], workdir: Path) -> int:
    """Instructions `argv` executes (all threads), its output discarded."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed under valgrind:\n{done.stderr[-2000:].decode()}")
    return int(found.group(1))


def table(counted: list[Counted], *, records: int, short_records: int) -> list[str]:
    long_pages, pages = -(-records // PAGE), -(-records // PAGE) - -(-short_records // PAGE)
    floor = counted[0]
    lines = [
        f"| program (instructions, callgrind) | whole sync, {records:,} records | vs the floor | "
        "per 1,000-record page | vs the floor's page | fixed part (start-up, first requests) | "
        f"`--about` | start-up cost ({short_records:,}-record run - floor's) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for program in counted:
        per_page = program.per_page(pages)
        about = "-" if program.about is None else f"{program.about / 1e9:.3f} G"
        startup = "-" if program is floor else f"{(program.short - floor.short) / 1e9:.3f} G"
        lines.append(
            f"| {program.label} | {program.long / 1e9:.3f} G | {program.long / floor.long:.2f}x | "
            f"{per_page / 1e6:.2f} M | {per_page / floor.per_page(pages):.2f}x | "
            f"{program.fixed(long_pages, pages) / 1e9:.3f} G | {about} | {startup} |"
        )
    return lines


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", action="append", default=[], metavar="COMMIT", help="earlier commit(s)")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--short-records", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=2, help="valgrind runs at once (default 2)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    builds: list[Build] = [ensure_build(commit) for commit in args.against] + [current_build()]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    long = Workload("long", BenchServer(records=args.records, page_size=PAGE).start())
    short = Workload("short", BenchServer(records=args.short_records, page_size=PAGE).start())
    try:
        with tempfile.TemporaryDirectory(prefix="restoauth-instructions-") as tmp:
            workdir = Path(tmp)
            programs = [("floor (benchmarks/floor.py)", _floor(long), _floor(short), None)] + [
                (
                    build.label,
                    _tap(build, long, workdir),
                    _tap(build, short, workdir),
                    [build.python, "-m", "tap_restoauth", "--about"],
                )
                for build in builds
            ]
            with ThreadPoolExecutor(max(1, args.parallel)) as pool:
                futures = [
                    (
                        label,
                        pool.submit(count, long_argv, workdir),
                        pool.submit(count, short_argv, workdir),
                        None if about_argv is None else pool.submit(count, about_argv, workdir),
                    )
                    for label, long_argv, short_argv, about_argv in programs
                ]
                counted = [
                    Counted(label, a.result(), b.result(), None if c is None else c.result())
                    for label, a, b, c in futures
                ]
    finally:
        long.server.stop()
        short.server.stop()
    command = " ".join(["python -m benchmarks.instructions", *(argv if argv is not None else sys.argv[1:])])
    report = [
        f"Run {started} with `{command}` (one run of each under valgrind's callgrind):",
        "",
        *table(counted, records=args.records, short_records=args.short_records),
        "",
        *machine()[:2],  # not its note on noisy timings: counts do not move with the load
    ]
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()

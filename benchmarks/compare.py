"""Guard against speed regressions: this checkout against earlier commits and the floor.

    .venv/bin/python -m benchmarks.compare --against 5120a15
    .venv/bin/python -m benchmarks.compare --against 5120a15 --against 651c32c --runs 7

Each `--against` commit is installed once into its own venv under
/tmp/restoauth-compare/<full sha>/ (`git archive` of the commit, `pip install -e`
like this checkout's .venv, dependencies pinned to this .venv's exact versions),
reused by later runs. Then, on one benchmark server per workload, these run
alternately (round-robin, order rotated each round), `--runs` times each, and the
medians are printed as a Markdown table:

- a whole sync of `--records` records (default 200,000 x 10 fields, pages of 1,000,
  OAuth token, page_number paging, declared schema, output to /dev/null), and its
  ratio to the floor (benchmarks/floor.py, a bare requests + msgspec loop) on the
  same server in the same rounds;
- `tap-restoauth --about` (start-up alone);
- a short sync of `--short-records` records (default 20,000) and its start-up
  cost, i.e. its wall time minus the floor's on the same short workload.

Every build's sync is first run once untimed with its output read back (record
count, distinct ids). Timings are whole-process wall times (launch.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import typing as t
from pathlib import Path

from benchmarks import contenders
from benchmarks.measure import median, read_output, run
from benchmarks.run import machine
from benchmarks.server import BenchServer

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "restoauth-compare"
READY = "ready"  # written last: a build directory without it is incomplete and rebuilt


@dataclasses.dataclass(frozen=True)
class Build:
    """A tap-restoauth installation: its label, the interpreter that runs it, its source tree."""

    label: str
    python: str
    source: Path


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    server: BenchServer


@dataclasses.dataclass
class Timings:
    """Wall and CPU times of one build (or the floor) per measure: "sync", "about", "short"."""

    walls: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    cpus: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, measure: str, wall: float, cpu: float) -> None:
        self.walls.setdefault(measure, []).append(wall)
        self.cpus.setdefault(measure, []).append(cpu)

    def median(self, measure: str) -> float:
        return median(self.walls[measure])

    def cpu(self, measure: str) -> float:
        return median(self.cpus[measure])


def resolve(commit: str) -> str:
    return _git("rev-parse", "--verify", f"{commit}^{{commit}}").strip()


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def ensure_build(commit: str) -> Build:
    """The commit installed into /tmp/restoauth-compare/<sha>/venv, built on first use."""
    sha = resolve(commit)
    home = CACHE / sha
    python = home / "venv" / "bin" / "python"
    label = f"{sha[:7]} ({_git('log', '-1', '--format=%cs', sha).strip()})"
    if (home / READY).exists():
        return Build(label, str(python), home / "src")
    print(f"installing {sha[:7]} into {home} (once; cached for later runs) ...", flush=True)
    shutil.rmtree(home, ignore_errors=True)
    (home / "src").mkdir(parents=True)
    archive = subprocess.Popen(
        ["git", "-C", str(REPO), "archive", "--format=tar", sha], stdout=subprocess.PIPE
    )
    assert archive.stdout is not None
    with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
        tar.extractall(home / "src", filter="data")
    if archive.wait() != 0:
        raise SystemExit(f"git archive {sha} failed")
    # The same dependency versions as this checkout's venv, so only the tap's own code differs.
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (home / "constraints.txt").write_text(frozen)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    install = [str(python), "-m", "pip", "install", "-q", "-c", str(home / "constraints.txt")]
    _quiet([*install, "-e", str(home / "src")])
    _compile(home / "src")
    (home / READY).write_text(sha + "\n")
    return Build(label, str(python), home / "src")


def _quiet(command: list[str]) -> None:
    """Run `command`, showing its output only when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def _compile(source: Path) -> None:
    """Byte-compile the tap's modules, as installing a wheel does: an editable install (or a
    PYTHONDONTWRITEBYTECODE environment) would otherwise compile them again on every start."""
    _quiet([sys.executable, "-m", "compileall", "-q", str(source / "tap_restoauth")])


def current_build() -> Build:
    sha = resolve("HEAD")[:7]
    dirty = " + uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no").strip() else ""
    _compile(REPO)
    return Build(f"this checkout ({sha}{dirty})", sys.executable, REPO)


def _tap(build: Build, workload: Workload, workdir: Path) -> list[str]:
    contender = contenders.restoauth_records(workload.server, workdir, declared=True, name=workload.name)
    return [build.python, *contender.argv[1:]]


def _floor(workload: Workload) -> list[str]:
    return contenders.floor(workload.server).argv


def check_source(build: Build, expected: Path, workdir: Path) -> None:
    """Fail unless `build` imports tap_restoauth from `expected` (run from `workdir`)."""
    found = subprocess.run(
        [build.python, "-c", "import tap_restoauth; print(tap_restoauth.__file__)"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(found).is_relative_to(expected):
        raise SystemExit(f"{build.label} imports tap_restoauth from {found}, not from {expected}")


def verify(build: Build, workload: Workload, workdir: Path, expected: int) -> None:
    out = workdir / "verify.jsonl"
    run(_tap(build, workload, workdir), stdout=out, log=workdir / "verify.log", span=lambda: 0.0, cwd=workdir)
    output = read_output(out, "records")
    out.unlink()
    if output.records != expected or len(output.record_ids) != expected:
        raise SystemExit(f"{build.label}: emitted {output.records} records, expected {expected}")


def measure(
    builds: list[Build], long: Workload, short: Workload, workdir: Path, runs: int
) -> tuple[Timings, dict[str, Timings]]:
    """Alternate every (program, measure) pair for `runs` rounds; returns (floor, per build)."""
    floor = Timings()
    timings = {b.label: Timings() for b in builds}
    jobs: list[tuple[str, Timings, str, list[str]]] = [
        ("floor", floor, "sync", _floor(long)),
        ("floor", floor, "short", _floor(short)),
    ]
    for build in builds:
        jobs += [
            (build.label, timings[build.label], "sync", _tap(build, long, workdir)),
            (build.label, timings[build.label], "about", [build.python, "-m", "tap_restoauth", "--about"]),
            (build.label, timings[build.label], "short", _tap(build, short, workdir)),
        ]
    for round_number in range(runs):
        shift = round_number % len(jobs)
        for label, into, what, argv in jobs[shift:] + jobs[:shift]:
            # Not in the checkout: `python -m tap_restoauth` would import the checkout's package.
            sample = run(argv, log=workdir / "run.log", span=lambda: 0.0, cwd=workdir)
            into.add(what, sample.wall, sample.cpu)
            print(
                f"  round {round_number + 1}: {label} {what}: {sample.wall:.2f} s (CPU {sample.cpu:.2f} s)",
                flush=True,
            )
    return floor, timings


def table(
    floor: Timings, timings: dict[str, Timings], *, records: int, short_records: int, cpu: bool = False
) -> list[str]:
    """The issue's table: whole sync, its ratio to the floor, `--about`, a short run's start-up cost.

    Medians of wall time, or (`cpu`) of the CPU time the process used.
    """

    def get(timing: Timings, measure: str) -> float:
        return timing.cpu(measure) if cpu else timing.median(measure)

    sync_floor, short_floor = get(floor, "sync"), get(floor, "short")
    kind = "CPU time" if cpu else "wall time"
    lines = [
        f"| build ({kind}) | whole sync, {records:,} records | vs the msgspec floor | `--about` | "
        f"{short_records:,}-record run | its start-up cost (run - floor) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| floor (benchmarks/floor.py) | {sync_floor:.2f} s | 1.00x | - | {short_floor:.2f} s | - |",
    ]
    for label, timing in timings.items():
        sync, short = get(timing, "sync"), get(timing, "short")
        lines.append(
            f"| {label} | {sync:.2f} s | {sync / sync_floor:.2f}x | {get(timing, 'about'):.2f} s | "
            f"{short:.2f} s | {short - short_floor:.2f} s |"
        )
    return lines


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--against", action="append", required=True, metavar="COMMIT", help="earlier commit(s)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each measure (default 5)")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--short-records", type=int, default=20_000)
    args = parser.parse_args(argv)
    builds = [ensure_build(commit) for commit in args.against] + [current_build()]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    long = Workload("long", BenchServer(records=args.records, page_size=1000).start())
    short = Workload("short", BenchServer(records=args.short_records, page_size=1000).start())
    try:
        with tempfile.TemporaryDirectory(prefix="restoauth-compare-") as tmp:
            workdir = Path(tmp)
            for build in builds:
                check_source(build, build.source, workdir)
                verify(build, long, workdir, args.records)
            floor, timings = measure(builds, long, short, workdir, args.runs)
    finally:
        long.server.stop()
        short.server.stop()
    load = os.getloadavg()
    command = " ".join(["python -m benchmarks.compare", *(argv if argv is not None else sys.argv[1:])])
    report = [
        f"Run {started} with `{command}` ({args.runs} alternating runs of each measure, medians; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}):",
        "",
        *table(floor, timings, records=args.records, short_records=args.short_records),
        "",
        *table(floor, timings, records=args.records, short_records=args.short_records, cpu=True),
        "",
        *machine(),
    ]
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()

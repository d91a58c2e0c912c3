"""The import profile of a start: which packages a build imports, and their import time.

    .venv/bin/python -m benchmarks.imports --against 651c32c --runs 5

For each build (the `--against` commits, installed as benchmarks/compare.py does, and this
checkout) it runs `python -X importtime` on `tap-restoauth --about` and on a 20,000-record
sync, alternately, `--runs` times each, and prints per package group the median self time
of its modules and how many were imported. `-X importtime` adds its own overhead: compare
the builds with each other, not with the wall times of benchmarks/compare.py.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import tempfile
import typing as t
from pathlib import Path

from benchmarks import compare, contenders
from benchmarks.server import BenchServer

# The first component of a module name -> the group it is counted in.
GROUPS = {
    "tap_restoauth": "tap_restoauth",
    "singer_sdk": "singer_sdk",
    **dict.fromkeys(
        ("jsonschema", "jsonschema_specifications", "referencing", "attr", "attrs", "rpds"), "jsonschema"
    ),
    **dict.fromkeys(("requests", "urllib3", "charset_normalizer", "idna", "certifi"), "requests"),
    **dict.fromkeys(("fsspec", "upath", "asyncio"), "fsspec/upath/asyncio"),
    **dict.fromkeys(("joblib", "multiprocessing"), "joblib"),
    "click": "click",
    "msgspec": "msgspec",
}
OTHER = "other (stdlib and the rest)"
ORDER = [*dict.fromkeys(GROUPS.values()), OTHER]


def profile(argv: list[str], workdir: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Self import time (ms) and module count per group of one `python -X importtime` run."""
    done = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    times: dict[str, float] = collections.defaultdict(float)
    counts: dict[str, int] = collections.defaultdict(int)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        group = GROUPS.get(name.strip().split(".")[0], OTHER)
        times[group] += int(self_us) / 1000
        counts[group] += 1
    return times, counts


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", action="append", required=True, metavar="COMMIT")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args(argv)
    builds = [compare.ensure_build(commit) for commit in args.against] + [compare.current_build()]
    server = BenchServer(records=args.records, page_size=1000).start()
    Profile = tuple[dict[str, float], dict[str, int]]
    samples: dict[tuple[str, str], list[Profile]] = collections.defaultdict(list)
    try:
        with tempfile.TemporaryDirectory(prefix="restoauth-imports-") as tmp:
            workdir = Path(tmp)
            jobs = []
            for build in builds:
                sync = contenders.restoauth_records(server, workdir, declared=True, name="imports")
                jobs += [
                    (build.label, "--about", [build.python, "-m", "tap_restoauth", "--about"]),
                    (build.label, f"{args.records:,}-record sync", [build.python, *sync.argv[1:]]),
                ]
            for _ in range(args.runs):
                for label, what, command in jobs:
                    samples[(label, what)].append(profile(command, workdir))
    finally:
        server.stop()
    for what in ("--about", f"{args.records:,}-record sync"):
        labels = [b.label for b in builds]
        print(f"\n`{what}`: median self import time in ms (modules imported)\n")
        print("| group | " + " | ".join(labels) + " |")
        print("| --- |" + " ---: |" * len(labels))
        for group in [*ORDER, "total"]:
            cells = []
            for label in labels:
                runs = samples[(label, what)]
                if group == "total":
                    ms = statistics.median(sum(times.values()) for times, _ in runs)
                    count = sum(runs[0][1].values())
                else:
                    ms = statistics.median(times.get(group, 0.0) for times, _ in runs)
                    count = runs[0][1].get(group, 0)
                cells.append(f"{ms:.0f} ({count})")
            print(f"| {group} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""STATE of an incremental child stream over 1,000 / 10,000 / 100,000 parents.

Each parent record has one page of two children (incremental on `updated_at`, one
bookmark per parent). Reported per run: the bytes of STATE lines on stdout, the size
of the final state, wall and CPU time (the tap's own) and its peak RSS. stdout is read
through a pipe and counted, never stored (the quadratic STATE of older versions is gigabytes).

    .venv/bin/python -m benchmarks.child_state [--parents 1000 10000 100000] [--tap-root DIR]

`--tap-root DIR` runs the `tap_restoauth` package found in DIR instead of the installed
one (e.g. a `git archive` of main, for the before figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

from benchmarks import contenders, measure
from benchmarks.server import BenchServer

CHUNK = 1 << 20


def _argv(config: str, tap_root: str | None) -> list[str]:
    if tap_root is None:
        return [sys.executable, "-m", "tap_restoauth", "--config", config]
    code = f"import sys; sys.path.insert(0, {tap_root!r}); from tap_restoauth.tap import cli; cli()"
    return [sys.executable, "-c", code, "--config", config]


def _run(argv: list[str], workdir: Path) -> dict[str, t.Any]:
    """Run the tap; count its STATE bytes and records from the pipe; wall and peak RSS."""
    result = workdir / "result.json"
    command = [sys.executable, "-I", "-S", str(measure.LAUNCHER), str(result), *argv]
    env = {**os.environ, **measure.ISOLATED_ENV}
    state_bytes = records = states = 0
    last_state = b""
    with open(workdir / "stderr.log", "wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env, cwd=workdir)
        assert process.stdout is not None
        pending = b""
        while chunk := process.stdout.read(CHUNK):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line.startswith(b'{"type":"STATE"'):
                    state_bytes += len(line) + 1
                    states += 1
                    last_state = line
                elif line.startswith(b'{"type":"RECORD","stream":"children"'):
                    records += 1
        process.wait()
    measured = json.loads(result.read_text())
    if measured["exit"] != 0:
        tail = (workdir / "stderr.log").read_text(errors="replace")[-2000:]
        raise measure.ChildFailed(f"exit {measured['exit']}:\n{tail}")
    final = json.loads(last_state)["value"] if last_state else {}
    return {
        "wall": measured["wall"],
        "cpu": measured["cpu"],
        "rss": measured["max_rss_kib"] / 1024,
        "state_bytes": state_bytes,
        "states": states,
        "final_bytes": len(json.dumps(final, separators=(",", ":"))),
        "kept": len(final.get("bookmarks", {}).get("children", {}).get("partitions", [])),
        "records": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--tap-root", help="directory holding the tap_restoauth package to run")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    rows = []
    for parents in args.parents:
        server = BenchServer(records=parents, page_size=1000, children=2).start()
        try:
            with tempfile.TemporaryDirectory(prefix="bench-child-state-") as folder:
                workdir = Path(folder)
                contender = contenders.restoauth_children(server, workdir, concurrency=args.concurrency)
                row = _run(_argv(contender.argv[-1], args.tap_root), workdir)
        finally:
            server.stop()
        row["parents"] = parents
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(
        "| parents | children emitted | STATE messages | STATE bytes | final state | partitions kept "
        "| wall | CPU | peak RSS |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['parents']:,} | {row['records']:,} | {row['states']:,} | {_size(row['state_bytes'])} "
            f"| {_size(row['final_bytes'])} | {row['kept']:,} | {row['wall']:.1f} s | {row['cpu']:.1f} s "
            f"| {row['rss']:.0f} MiB |"
        )


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


if __name__ == "__main__":
    main()

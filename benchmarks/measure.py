"""Run one contender as a child process: whole-process wall time and its own peak RSS."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import typing as t
from pathlib import Path

import msgspec

LAUNCHER = Path(__file__).resolve().parent / "launch.py"

# Never let Google's libraries look for the metadata server (or anything else) off this machine.
ISOLATED_ENV = {
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}


@dataclasses.dataclass(frozen=True)
class Sample:
    wall: float  # seconds, process start to exit
    max_rss_mib: float  # this child's peak resident set (wait4's rusage, not the children's maximum)
    span: float  # seconds from the server's first request to its last response
    cpu: float = 0.0  # seconds of CPU (user + system) the child used: less sensitive to a busy machine


class ChildFailed(RuntimeError):
    pass


def run(
    argv: t.Sequence[str],
    *,
    stdout: Path | None = None,
    log: Path,
    span: t.Callable[[], float],
    cwd: Path | None = None,
) -> Sample:
    """Run `argv` to completion with stdout to `stdout` (or /dev/null) and stderr to `log`.

    `cwd`: the directory to run in (`python -m tap_restoauth` imports the package found
    in the working directory first: another build's must run elsewhere).
    """
    env = {**os.environ, **ISOLATED_ENV}
    result = log.with_suffix(".result.json")
    command = [sys.executable, "-I", "-S", str(LAUNCHER), str(result), *argv]
    with open(stdout or os.devnull, "wb") as out, open(log, "wb") as err:
        subprocess.run(command, stdout=out, stderr=err, env=env, check=True, cwd=cwd)
    measured = json.loads(result.read_text())
    if measured["exit"] != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise ChildFailed(f"{' '.join(argv[:3])} ... exited {measured['exit']}:\n{tail}")
    return Sample(
        wall=measured["wall"], max_rss_mib=measured["max_rss_kib"] / 1024, span=span(), cpu=measured["cpu"]
    )


@dataclasses.dataclass(frozen=True)
class Output:
    records: int
    record_ids: set[t.Any]
    final_state: dict[str, t.Any] | None


def read_output(path: Path, stream: str) -> Output:
    """Count a run's RECORD messages of `stream` and keep its last STATE."""
    records = 0
    ids: set[t.Any] = set()
    state = None
    with open(path, "rb") as lines:
        for line in lines:
            if not line.startswith(b"{"):
                continue
            message = msgspec.json.decode(line)
            if message["type"] == "RECORD" and message["stream"] == stream:
                records += 1
                ids.add(message["record"].get("id"))
            elif message["type"] == "STATE":
                state = message["value"]
    return Output(records, ids, state)


def median(values: t.Iterable[float]) -> float:
    return statistics.median(list(values))

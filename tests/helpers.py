"""Run the real tap as a process of its own (forked, tests/tap_forks.py) and read back its Singer messages."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from collections import Counter
from pathlib import Path

from tests import tap_forks

# Never let Google's libraries look for the metadata server (or anything else) off this machine.
ISOLATED_ENV = {
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}


@dataclasses.dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, t.Any]]

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def counts(self) -> Counter[str]:
        return Counter(m["stream"] for m in self.messages if m["type"] == "RECORD")

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1] if self.states else {}

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "tap-restoauth: error:" in line]


def run_tap(
    tmp_path: Path,
    config: dict[str, t.Any],
    *,
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    args: t.Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> TapRun:
    """Run `python -m tap_restoauth` with `config` (and state/catalog) in a process of its own."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_restoauth", "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    if catalog is not None:
        catalog_file = tmp_path / "catalog.json"
        catalog_file.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_file)]
    returncode, stdout, stderr = tap_command(command[3:], env=env, timeout=timeout)
    discovering = "--discover" in args
    messages = [] if discovering else [json.loads(line) for line in stdout.splitlines() if line]
    return TapRun(returncode, stdout, stderr, messages)


def start_tap(tmp_path: Path, config: dict[str, t.Any]) -> subprocess.Popen[bytes]:
    """`python -m tap_restoauth --config ...` exec'd and left running (to be signalled or killed),
    with its stdout and stderr piped."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    return subprocess.Popen(
        [sys.executable, "-m", "tap_restoauth", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ISOLATED_ENV},
    )


def tap_command(
    args: t.Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """`python -m tap_restoauth ARGS`: its exit code, stdout and stderr (decoded as `text=True` does).

    Forked from this worker's pre-imported tap (tests/tap_forks.py) where that behaves the
    same, else exec'd (`TAP_TESTS_EXEC=1` forces exec).
    """
    full_env = {**os.environ, **ISOLATED_ENV, **(env or {})}
    server = tap_forks.fork_server(full_env)
    if server is not None:
        return _forked_run(server, list(args), full_env, timeout)
    command = [sys.executable, "-m", "tap_restoauth", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, check=False)
    return done.returncode, done.stdout, done.stderr


def _forked_run(
    server: tap_forks.ForkServer, args: list[str], env: dict[str, str], timeout: float
) -> tuple[int, str, str]:
    """The tap forked from this worker's pre-imported one (tests/tap_forks.py); text as `subprocess.run`'s."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        tap = server.start(args, env, out.fileno(), err.fileno())
        try:
            returncode = tap.wait(timeout)
        except subprocess.TimeoutExpired:
            tap.kill()
            raise
        texts = []
        for handle in (out, err):
            handle.seek(0)
            # Universal newlines, as `text=True` decodes a pipe.
            texts.append(handle.read().decode().replace("\r\n", "\n").replace("\r", "\n"))
    return returncode, texts[0], texts[1]


def discover(tmp_path: Path, config: dict[str, t.Any], env: dict[str, str] | None = None) -> dict[str, t.Any]:
    run = run_tap(tmp_path, config, args=["--discover"], env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)

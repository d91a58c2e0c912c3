"""Real tap processes without the start-up: fork them from a process that imported the tap once.

Starting `python -m tap_restoauth` costs about 0.6 s of CPU, nearly all of it imports
(singer-sdk, requests, jsonschema); the suite starts the tap several hundred times. Each pytest
worker therefore keeps one *fork server*: a Python process started like the tap (same
interpreter, same environment) that imports `tap_restoauth.tap` and then waits. For each run it
forks, and the child runs `python -m tap_restoauth ARGS` exactly as the interpreter would
(`runpy`, `sys.argv`, exit code, `atexit`), with its own stdout, stderr and environment. The
tap is still a real, separate process: its exit code, its stderr lines, a signal handler or an
`os._exit` behave as in an exec'd one, and a test can signal its pid.

What a fork cannot reproduce falls back to exec (`helpers.run_tap` decides, see
`forkable`): environment variables the interpreter reads at start-up (`PYTHON*`, locale,
`TZ`), coverage measurement (`COVERAGE_PROCESS_*`, `COVERAGE=1 scripts/test.sh`), and
`TAP_TESTS_EXEC=1`, which runs every tap by exec (tests/test_tap_forks.py compares the two).

Wire shape, over a Unix socket pair per worker (SOCK_SEQPACKET): the worker sends one JSON
request `{"argv": [...], "env": {...}, "cwd": "..."}` with three descriptors attached (stdout,
stderr, and the server's end of a fresh socket pair for this run). The server forks a monitor, which
forks the tap, writes `{"pid": N}` then `{"returncode": R}` (negative: killed by signal -R)
on the run's socket, and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import runpy
import socket
import subprocess
import sys
import tempfile
import threading
import typing as t
from pathlib import Path

# Read by the interpreter (or a library) before the tap runs: a fork would keep the server's.
STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG", "TZ")
MAX_REQUEST = 1 << 20


def forkable(env: t.Mapping[str, str], server_env: t.Mapping[str, str]) -> bool:
    """Whether a tap run with `env` behaves the same forked from a server started with `server_env`."""
    if env.get("TAP_TESTS_EXEC") == "1" or any(key.startswith("COVERAGE_PROCESS_") for key in env):
        return False  # asked for, or coverage measures exec'd processes only (`patch = subprocess`)
    keys = set(env) | set(server_env)
    return all(env.get(key) == server_env.get(key) for key in keys if key.startswith(STARTUP_PREFIXES))


class ForkedTap:
    """One forked tap run, seen from the test: its pid, then its return code."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._reader = channel.makefile("r", encoding="utf-8")
        channel.settimeout(60)  # a fork takes milliseconds; never wait forever on a stuck server
        self.pid: int = self._next()["pid"]
        self.returncode: int | None = None

    def _next(self) -> dict[str, t.Any]:
        line = self._reader.readline()
        if not line:
            raise RuntimeError("the tap fork server closed the run's channel")
        return json.loads(line)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._channel.settimeout(timeout)
            try:
                self.returncode = int(self._next()["returncode"])
            except TimeoutError:
                raise subprocess.TimeoutExpired(["tap_restoauth"], timeout or 0) from None
            self._reader.close()
            self._channel.close()
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 9)


class ForkServer:
    """The worker's side: start the server once, then ask it for one tap process per run."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        # SOCK_SEQPACKET: each request arrives whole and alone, with its own descriptors.
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.tap_forks", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=self.env,
            cwd=Path(__file__).resolve().parents[1],  # where `-m tests.tap_forks` is found
        )
        theirs.close()

    def start(self, args: t.Sequence[str], env: t.Mapping[str, str], stdout: int, stderr: int) -> ForkedTap:
        mine, theirs = socket.socketpair()
        request = json.dumps({"argv": list(args), "env": dict(env), "cwd": os.getcwd()}).encode()
        with self._lock:
            socket.send_fds(self._control, [request], [stdout, stderr, theirs.fileno()])
        theirs.close()
        return ForkedTap(mine)

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)


_server: ForkServer | None = None


def fork_server(env: t.Mapping[str, str]) -> ForkServer | None:
    """This worker's fork server if a tap run with `env` may be forked from it, else None.

    Started on first use (again if it died) and stopped at exit.
    """
    global _server  # noqa: PLW0603
    if not forkable(env, _server.env if _server is not None else os.environ):
        return None
    if _server is None or not _server.alive():
        _server = ForkServer()
        atexit.register(_server.close)
    return _server


# -- the server process ------------------------------------------------------------------------


def serve(control: socket.socket) -> None:
    """Import the tap, then fork one monitor per request until the worker closes the socket."""
    gc.disable()
    # What `python -m tap_restoauth` imports (tap_restoauth/__main__.py), in the same way.
    from tap_restoauth import lazy_sdk  # noqa: PLC0415

    lazy_sdk.defer_init()
    import tap_restoauth.about  # noqa: PLC0415
    import tap_restoauth.tap  # noqa: F401, PLC0415

    gc.freeze()
    gc.enable()
    while True:
        try:
            request, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        except ConnectionError:
            request = b""
        if not request:
            _reap(block=True)  # their CPU time then counts in the worker's (`time pytest`)
            return
        if os.fork() == 0:
            control.close()
            _monitor(json.loads(request), *fds)
        for fd in fds:
            os.close(fd)
        _reap(block=False)


def _reap(*, block: bool) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, 0 if block else os.WNOHANG)[0]:
            pass


def _monitor(request: dict[str, t.Any], stdout: int, stderr: int, channel_fd: int) -> t.NoReturn:
    channel = socket.socket(fileno=channel_fd)
    pid = os.fork()
    if pid == 0:
        channel.close()
        _run_tap(request, stdout, stderr)
    os.close(stdout)
    os.close(stderr)
    channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError):
        channel.sendall(json.dumps({"returncode": code}).encode() + b"\n")
    os._exit(0)


def _run_tap(request: dict[str, t.Any], stdout: int, stderr: int) -> t.NoReturn:
    """In the forked child: become `python -m tap_restoauth ARGV` and exit as the interpreter would."""
    null = os.open(os.devnull, os.O_RDONLY)
    for source, target in ((null, 0), (stdout, 1), (stderr, 2)):
        os.dup2(source, target)
        os.close(source)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # TMPDIR is read again
    code: int = 0
    try:
        sys.argv = ["-m", *request["argv"]]
        runpy.run_module("tap_restoauth", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # what the interpreter does with an uncaught exception
        sys.excepthook(*sys.exc_info())
        code = 1
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at exit
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))

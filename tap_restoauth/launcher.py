"""Start a local server from the command line: a free port, its URL where Meltano reads it.

Used by `python -m tap_restoauth.sandbox`. The server is bound before anything is printed, so
a client started right after the command returns finds it listening:

    python -m tap_restoauth.sandbox                           # foreground, a free port, prints its URL
    python -m tap_restoauth.sandbox --detach --env-file .env  # background; URL written into .env
    python -m tap_restoauth.sandbox --stop                    # stop the one --detach started here

`--env-file` sets (or replaces) these lines and keeps every other line of the file:

    TAP_RESTOAUTH_API_URL=http://127.0.0.1:40123
    TAP_RESTOAUTH_AUTH_TOKEN_URL=http://127.0.0.1:40123/oauth/token
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import typing as t
from pathlib import Path

PID_FILE = Path("output") / "sandbox.pid"  # relative to the folder the command runs in


class LocalServer(t.Protocol):
    """What is launched: a bound server (tap_restoauth.sandbox.LocalServer and its kin)."""

    socket: socket.socket

    @property
    def url(self) -> str: ...

    def serve_forever(self, poll_interval: float = ...) -> None: ...


_Server = t.TypeVar("_Server", bound=LocalServer)


class LaunchError(Exception):
    """A reason the server cannot start, as one line."""


def bind(make_server: t.Callable[[int], _Server], port: int) -> _Server:
    """The server listening on `port` (0: a free one), or one line saying why not."""
    try:
        return make_server(port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise LaunchError(
                f"port {port} on 127.0.0.1 is taken (another sandbox, or another program, listens"
                " there); leave out --port to use a free one"
            ) from None
        raise LaunchError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None


def env_lines(url: str) -> dict[str, str]:
    """The variables that point the tap (and Meltano's dev environment) at `url`."""
    return {"TAP_RESTOAUTH_API_URL": url, "TAP_RESTOAUTH_AUTH_TOKEN_URL": f"{url}/oauth/token"}


def write_env_file(path: Path, url: str) -> None:
    """Set the lines of `env_lines(url)` in `path`, keeping every other line as it was."""
    write_lines(path, env_lines(url))


def write_lines(path: Path, wanted: t.Mapping[str, str]) -> None:
    """Set `NAME=value` lines in the env file `path`, keeping every other line as it was."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in wanted]
    path.write_text("".join(f"{line}\n" for line in [*kept, *(f"{k}={v}" for k, v in wanted.items())]))


def running() -> tuple[int, str] | None:
    """(pid, url) of the sandbox `--detach` started from this folder, if it still runs."""
    try:
        pid_text, url = PID_FILE.read_text().split()
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"tap_restoauth" not in cmdline.read_bytes():
        return None  # the pid was reused by another program
    return pid, url


def stop() -> str:
    found = running()
    PID_FILE.unlink(missing_ok=True)
    if found is None:
        return "no sandbox started with --detach runs from this folder"
    pid, url = found
    os.kill(pid, signal.SIGTERM)
    return f"stopped the sandbox on {url} (pid {pid})"


def detach(server: LocalServer) -> int:
    """Serve from a background process (already listening); return its pid."""
    pid = os.fork()
    if pid:
        server.socket.close()  # the child's copy keeps listening
        PID_FILE.parent.mkdir(parents=True, exist_ok=True)
        PID_FILE.write_text(f"{pid} {server.url}\n")
        return pid
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(devnull, stream)
    try:
        server.serve_forever()
    finally:
        os._exit(0)


def fail(message: str) -> t.NoReturn:
    print(f"sandbox: {message}", file=sys.stderr)
    sys.exit(1)

"""Run the shell blocks of the README and docs/ that work offline, as printed.

A block (in README.md or a page of docs/) placed right after `<!-- runnable: NAME -->` is run
by bash (`set -euo pipefail`) in a folder holding the project's virtual environments. Only two
things change: each fixed `--port N` becomes a free port (other test runs may hold N), and a
line that starts a server in the background is followed by a wait until that port answers.
Background jobs are stopped when the script ends, and so is a sandbox started with `--detach`.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
_BLOCK = re.compile(r"<!-- runnable: ([\w-]+) -->\s*```sh\n(.*?)```", re.S)
_PORT = re.compile(r"--port (\d+)")


def blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for page in PAGES:
        for name, body in _BLOCK.findall(page.read_text()):
            assert name not in found, f"two runnable blocks are named {name!r}"
            found[name] = body
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script(names: list[str], ports: dict[str, int]) -> str:
    """The blocks `names`, in order, with `ports` ({printed: free}) substituted."""
    found = blocks()
    # Background jobs, and a sandbox started with --detach, end with the script.
    stop = ".venv/bin/python -m tap_restoauth.sandbox --stop >/dev/null 2>&1"
    lines = ["set -euo pipefail", f"trap 'kill $(jobs -p) 2>/dev/null || true; {stop} || true' EXIT"]
    for name in names:
        for printed_line in found[name].splitlines():
            line = printed_line
            for printed, free in ports.items():
                line = line.replace(f"--port {printed}", f"--port {free}")
                line = line.replace(f"127.0.0.1:{printed}", f"127.0.0.1:{free}")
            lines.append(line)
            command = line.split("#", 1)[0].rstrip()
            port = _PORT.search(command)
            if command.endswith("&") and port:
                lines.append(
                    f"for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/{port.group(1)}) 2>/dev/null "
                    "&& break; sleep 0.1; done"
                )
    return "\n".join(lines) + "\n"


def printed_ports(names: list[str]) -> set[str]:
    found = blocks()
    return {port for name in names for port in _PORT.findall(found[name])}


def run(
    names: list[str], cwd: Path, env: dict[str, str], ports: dict[str, int], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script(names, ports)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

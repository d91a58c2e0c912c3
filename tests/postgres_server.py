"""A throw-away PostgreSQL server (Debian's postgresql package), started by the test that needs it.

Also for the docs' PostgreSQL block (docs/meltano.md), from the project folder:

    .venv/bin/python -m tests.postgres_server --env-file .env   # start; TARGET_POSTGRES_* into .env
    .venv/bin/python -m tests.postgres_server --stop            # stop it and delete its data

initdb + pg_ctl in a temporary folder, on a free loopback port, trust authentication, UTC,
fsync off. PostgreSQL refuses to run as root: as root the server runs as the `postgres`
system user (the package creates it), which then owns the folder.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import typing as t
from pathlib import Path

MIN_VERSION = 15
USER = "tap"


def binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL >= 15 installed the Debian way, if any."""
    found = []
    for folder in Path("/usr/lib/postgresql").glob("*/bin"):
        if re.fullmatch(r"\d+", folder.parent.name) and (folder / "initdb").exists():
            found.append((int(folder.parent.name), folder))
    found = [(version, folder) for version, folder in found if version >= MIN_VERSION]
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    def __init__(self, bin_dir: Path, root: Path | None = None, port: int | None = None) -> None:
        # Its own folder: pytest's are private to the user running the tests (postgres could not enter).
        self.root = root or Path(tempfile.mkdtemp(prefix="tap-restoauth-pg-"))
        root = self.root
        self.bin_dir = bin_dir
        self.data = root / "data"
        self.port = port or _free_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(root, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root without runuser: cannot start PostgreSQL as postgres")
            self._run_as = [runuser, "-u", "postgres", "--"]

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [*self._run_as, str(self.bin_dir / tool), *args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr[-2000:]}")
        return done

    def start(self) -> LocalPostgres:
        self._pg("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
        )
        log = str(self.root / "server.log")
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """target-postgres settings (and libpq variables) for this server."""
        return {
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": USER,
            "TARGET_POSTGRES_PASSWORD": "unused-trust-auth",  # the target requires one
            "TARGET_POSTGRES_DATABASE": "postgres",
            "PGTZ": "UTC",
        }

    def query(self, sql: str) -> list[list[str]]:
        """Rows of `sql` as text, through psql."""
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres"]
        done = subprocess.run(
            [str(self.bin_dir / "psql"), *connect, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "PGTZ": "UTC"},
        )
        return [line.split("\t") for line in done.stdout.splitlines()]

    def scalar(self, sql: str) -> t.Any:
        ((value,),) = self.query(sql)
        return value


RUNNING = Path("output") / "postgres.json"  # the server --env-file started from this folder
MISSING = (
    "PostgreSQL >= 15 is not installed: `sudo apt-get install postgresql` (Debian, Ubuntu), or set "
    "TARGET_POSTGRES_HOST, _PORT, _USER and _PASSWORD for a server you have"
)


def main(argv: t.Sequence[str] | None = None) -> int:
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from tap_restoauth.launcher import write_lines  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="where TARGET_POSTGRES_* go")
    parser.add_argument("--stop", action="store_true", help="stop the server started from this folder")
    args = parser.parse_args(argv)
    bin_dir = binaries()
    if bin_dir is None:
        print(f"postgres: {MISSING}", file=sys.stderr)
        return 1
    if args.stop:
        if not RUNNING.exists():
            print("postgres: no server started from this folder")
            return 0
        found = json.loads(RUNNING.read_text())
        LocalPostgres(bin_dir, Path(found["root"]), int(found["port"])).stop()
        RUNNING.unlink()
        print(f"stopped PostgreSQL on 127.0.0.1:{found['port']}")
        return 0
    server = LocalPostgres(bin_dir).start()
    RUNNING.parent.mkdir(parents=True, exist_ok=True)
    RUNNING.write_text(json.dumps({"root": str(server.root), "port": server.port}))
    write_lines(args.env_file, server.env())
    print(f"PostgreSQL on 127.0.0.1:{server.port}, user {USER}; TARGET_POSTGRES_* written to {args.env_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

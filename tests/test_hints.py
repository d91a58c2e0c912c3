"""First mistakes get precise hints: a server not running, a port taken, a secret not set, a key."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tap_restoauth import hints
from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ConfigError
from tap_restoauth.http import unreachable
from tests.helpers import ISOLATED_ENV, run_tap

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def closed_port() -> t.Iterator[int]:
    """A loopback port held (bound, not listening) so nothing can accept on it: connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def config(api_url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"api_url": api_url, "streams": [{"name": "users", "path": "/v1/users"}], **extra}


def test_refused_connection_on_loopback_names_host_and_port_and_stops_after_two_tries(tmp_path):
    with closed_port() as port:
        run = run_tap(tmp_path, config(f"http://127.0.0.1:{port}", backoff_factor=0.01), timeout=60)

    assert run.returncode == 1
    (line,) = run.error_lines()
    assert f"GET http://127.0.0.1:{port}/v1/users failed after 2 attempts" in line
    assert f"connection refused by 127.0.0.1:{port}" in line
    assert "is the API (or the sandbox) running?" in line
    warnings = [w for w in run.stderr.splitlines() if "retry 1/1" in w]
    assert len(warnings) == 1 and f"127.0.0.1:{port}" in warnings[0]  # named on the first failure
    assert "retry 2/" not in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:8765", True),
        ("127.3.4.5:80", True),
        ("localhost:8080", True),
        ("[::1]:443", True),
        ("10.0.0.2:80", False),
        ("api.example.com:443", False),
        ("the server", False),
    ],
)
def test_only_loopback_addresses_get_the_short_retry(address, loopback):
    assert unreachable.is_loopback(address) is loopback


def test_top_level_pagination_error_names_the_top_level_key():
    base = config("https://api.example.com")
    with pytest.raises(ConfigError, match=r"^pagination\.type: unknown pagination type 'pages'"):
        parse_settings({**base, "pagination": {"type": "pages"}})
    own = {**base, "streams": [{"name": "users", "path": "/v1/users", "pagination": {"type": "pages"}}]}
    with pytest.raises(ConfigError, match=r"^streams\[users\]\.pagination\.type: unknown"):
        parse_settings(own)


def test_missing_secret_under_meltano_names_its_environment_variable(tmp_path):
    oauth = {
        "type": "oauth2_client_credentials",
        "token_url": "http://127.0.0.1:9/oauth/token",
        "client_id": "tap",
    }
    cfg = config("http://127.0.0.1:9", auth=oauth)
    plain = run_tap(tmp_path / "plain", cfg, env={"MELTANO_PROJECT_ROOT": ""})
    meltano = run_tap(tmp_path / "meltano", cfg, env={"MELTANO_PROJECT_ROOT": str(tmp_path)})

    (line,) = meltano.error_lines()
    assert line.startswith("tap-restoauth: error: auth.client_secret is required")
    assert line.endswith("(under Meltano: set TAP_RESTOAUTH_AUTH_CLIENT_SECRET, e.g. in .env)")
    assert "under Meltano" not in plain.stderr  # a plain run has no Meltano variables to name
    assert meltano.returncode == plain.returncode == 1


def test_hint_names_nested_and_required_property_variables():
    under = {"MELTANO_PROJECT_ROOT": "/project"}
    assert hints.explain("'api_url' is a required property", under).endswith(
        "set TAP_RESTOAUTH_API_URL, e.g. in .env)"
    )
    assert "TAP_RESTOAUTH_AUTH_PASSWORD" in hints.explain("auth.password is required for basic", under)
    assert hints.explain("HTTP 401 from the API", under) == "HTTP 401 from the API"


def sandbox(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ISOLATED_ENV, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tap_restoauth.sandbox", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_sandbox_on_a_taken_port_is_one_line(tmp_path):
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # 8765 itself, unless something holds it already
            holder.bind(("127.0.0.1", 8765))
            holder.listen()
        done = sandbox("--port", "8765", cwd=tmp_path)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "sandbox: port 8765 on 127.0.0.1 is taken (another sandbox, or another program, listens there);"
        " leave out --port to use a free one"
    ]


def test_detached_sandbox_writes_its_free_port_into_the_env_file_and_stops(tmp_path):
    (tmp_path / ".env").write_text(
        "TAP_RESTOAUTH_AUTH_CLIENT_SECRET=kept\nTAP_RESTOAUTH_API_URL=http://old\n"
    )
    started = sandbox("--detach", "--env-file", ".env", cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stderr
        lines = (tmp_path / ".env").read_text().splitlines()
        url = lines[1].split("=", 1)[1]
        assert lines == [
            "TAP_RESTOAUTH_AUTH_CLIENT_SECRET=kept",
            f"TAP_RESTOAUTH_API_URL={url}",
            f"TAP_RESTOAUTH_AUTH_TOKEN_URL={url}/oauth/token",
        ]
        assert started.stdout.startswith(f"sandbox API on {url} (pid ")
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # listening as soon as the command returned
        again = sandbox("--detach", cwd=tmp_path)
        assert again.stdout.startswith(f"sandbox API already runs on {url}")
    finally:
        stopped = sandbox("--stop", cwd=tmp_path)
    assert stopped.stdout.startswith(f"stopped the sandbox on {url}")

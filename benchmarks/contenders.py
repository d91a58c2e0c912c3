"""The programs compared, each as a command line built for one benchmark server."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing as t
from pathlib import Path

from benchmarks.server import CLIENT_ID, CLIENT_SECRET, SCHEMA, BenchServer

HERE = Path(__file__).resolve().parent
MSDK_VENV = HERE / ".venv-msdk"
MSDK_VERSION = "1.4.2"


@dataclasses.dataclass(frozen=True)
class Contender:
    name: str
    stream: str  # the stream whose records are counted
    argv: list[str]


def _write(workdir: Path, name: str, config: dict[str, t.Any]) -> str:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config, indent=2))
    return str(path)


def _oauth(server: BenchServer) -> dict[str, t.Any]:
    return {
        "type": "oauth2_client_credentials",
        "token_url": f"{server.url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def _page_number(server: BenchServer) -> dict[str, t.Any]:
    return {
        "type": "page_number",
        "page_param": "page",
        "size_param": "per_page",
        "page_size": server.page_size,
        "total_pages_path": "$.meta.total_pages",
    }


def restoauth_records(
    server: BenchServer, workdir: Path, *, declared: bool, concurrency: int = 1, name: str = ""
) -> Contender:
    """tap-restoauth on /v1/records, incremental on updated_at."""
    stream: dict[str, t.Any] = {
        "name": "records",
        "path": "/v1/records",
        "records_path": "$.data[*]",
        "primary_keys": ["id"],
        "replication_key": "updated_at",
        "pagination": _page_number(server),
    }
    if declared:
        stream["schema"] = SCHEMA
    config = {
        "api_url": server.url,
        "auth": _oauth(server),
        "concurrency": concurrency,
        "streams": [stream],
    }
    label = name or f"tap-restoauth ({'declared' if declared else 'inferred'} schema)"
    path = _write(workdir, label.replace(" ", "_").replace("(", "").replace(")", ""), config)
    return Contender(label, "records", [sys.executable, "-m", "tap_restoauth", "--config", path])


def restoauth_children(server: BenchServer, workdir: Path, *, concurrency: int) -> Contender:
    """tap-restoauth syncing one child page for each parent record."""
    config = {
        "api_url": server.url,
        "auth": _oauth(server),
        "concurrency": concurrency,
        "streams": [
            {
                "name": "parents",
                "path": "/v1/records",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "pagination": _page_number(server),
                "schema": SCHEMA,
            },
            {
                "name": "children",
                "path": "/v1/parents/{parent_id}/children",
                "parent": "parents",
                "parent_keys": {"parent_id": "id"},
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "label": {"type": ["string", "null"]},
                        "amount": {"type": ["number", "null"]},
                        "updated_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
        ],
    }
    name = f"tap-restoauth children, concurrency {concurrency}"
    path = _write(workdir, f"children_c{concurrency}", config)
    return Contender(name, "children", [sys.executable, "-m", "tap_restoauth", "--config", path])


def floor(server: BenchServer) -> Contender:
    argv = [sys.executable, str(HERE / "floor.py"), server.url, str(server.page_size)]
    return Contender("floor (plain msgspec loop)", "records", argv)


def msdk(server: BenchServer, workdir: Path) -> Contender:
    """tap-rest-api-msdk from PyPI, in its own venv, inferring its schema as it always does."""
    config = {
        "api_url": server.url,
        "auth_method": "oauth",
        "access_token_url": f"{server.url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
        "pagination_request_style": "jsonpath_paginator",
        "pagination_response_style": "page",
        "next_page_token_path": "$.meta.next_page",
        "streams": [
            {
                "name": "records",
                "path": "/v1/records",
                "records_path": "$.data[*]",
                "params": {"per_page": server.page_size},
                "primary_keys": ["id"],
                "replication_key": "updated_at",
            }
        ],
    }
    path = _write(workdir, "msdk", config)
    return Contender(
        f"tap-rest-api-msdk {MSDK_VERSION}",
        "records",
        [str(MSDK_VENV / "bin" / "tap-rest-api-msdk"), "--config", path],
    )


def ensure_msdk() -> None:
    """Create benchmarks/.venv-msdk with tap-rest-api-msdk from PyPI unless it is there."""
    executable = MSDK_VENV / "bin" / "tap-rest-api-msdk"
    if executable.exists():
        return
    print(f"installing tap-rest-api-msdk=={MSDK_VERSION} into {MSDK_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MSDK_VENV)], check=True)
    subprocess.run(
        [
            str(MSDK_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            f"tap-rest-api-msdk=={MSDK_VERSION}",
        ],
        check=True,
    )

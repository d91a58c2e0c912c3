from __future__ import annotations

import os
import shutil
import typing as t

import pytest

from tap_restoauth.sandbox import CLIENT_ID, CLIENT_SECRET, SandboxServer
from tests import postgres_server
from tests.helpers import ISOLATED_ENV
from tests.meltano_project import PLUGINS, ROOT, MeltanoProject, meltano_binary
from tests.postgres_server import LocalPostgres

os.environ.update(ISOLATED_ENV)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests using the Meltano project or the PostgreSQL server are end-to-end, and run on the
    worker that started them (one install, one server per run). The BigQuery ones form a group
    of their own, on a second worker with its own project: target-bigquery sleeps 5 s after
    creating each table, so together they are the suite's longest chain."""
    for item in items:
        if {"project", "postgres"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
            group = "meltano-bigquery" if "bigquery" in item.nodeid else "meltano"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """The project's meltano.yml with every plugin installed, once per session (tests/meltano_project.py)."""
    binary = meltano_binary()
    if binary is None:
        message = "Meltano is not installed: run `bash scripts/test.sh` (it sets MELTANO_BIN)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("meltano-project")
    for name in ("meltano.yml", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, root / name)
    shutil.copytree(
        ROOT / "tap_restoauth", root / "tap_restoauth", ignore=shutil.ignore_patterns("__pycache__")
    )
    result = MeltanoProject(root, binary)
    result.meltano("install", *PLUGINS, env=result.env(), timeout=600)
    return result


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[LocalPostgres]:
    """One PostgreSQL server per session; each test writes its own schema."""
    bin_dir = postgres_server.binaries()
    if bin_dir is None:
        message = (
            "PostgreSQL >= 15 is not installed (Debian's postgresql package): "
            "scripts/test.sh installs it with apt-get where apt is available"
        )
        if os.environ.get("CI") and shutil.which("apt-get"):
            pytest.fail(message)  # CI could have installed it
        pytest.skip(message)
    server = LocalPostgres(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox() -> t.Iterator[SandboxServer]:
    server = SandboxServer().start()
    yield server
    server.shutdown()
    server.server_close()


def sandbox_config(server: SandboxServer, **overrides: t.Any) -> dict[str, t.Any]:
    """A config for the sandbox's four streams (users > user_orders > order_items, events)."""
    config: dict[str, t.Any] = {
        "api_url": server.url,
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": f"{server.url}/oauth/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        "start_date": "2024-01-01T00:00:00Z",
        "pagination": {
            "type": "page_number",
            "page_param": "page",
            "size_param": "per_page",
            "page_size": 25,
            "total_pages_path": "$.meta.total_pages",
        },
        "streams": [
            {
                "name": "users",
                "path": "/v1/users",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "incremental": {"param": "updated_since"},
            },
            {
                "name": "user_orders",
                "path": "/v1/users/{user_id}/orders",
                "parent": "users",
                "parent_keys": {"user_id": "id"},
                "primary_keys": ["id"],
                "records_path": "$.orders[*]",
                "pagination": {"type": "cursor", "cursor_path": "$.meta.next", "cursor_param": "cursor"},
            },
            {
                "name": "order_items",
                "path": "/v1/users/{user_id}/orders/{order_id}/items",
                "parent": "user_orders",
                "parent_keys": {"order_id": "id"},
                "primary_keys": ["sku"],
                "pagination": {"type": "link_header"},
            },
            {
                "name": "events",
                "path": "/v1/events",
                "primary_keys": ["id"],
                "pagination": {"type": "offset", "limit": 50, "total_path": "$.total"},
            },
        ],
    }
    config.update(overrides)
    return config

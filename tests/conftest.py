from __future__ import annotations

import os
import typing as t

import pytest

from tap_restoauth.sandbox import CLIENT_ID, CLIENT_SECRET, SandboxServer
from tests.helpers import ISOLATED_ENV

os.environ.update(ISOLATED_ENV)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the Meltano project are end-to-end, and run on the worker that installed it."""
    for item in items:
        if "project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("meltano"))


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    """The Meltano project with its plugins installed, shared by every test of a worker that uses it.

    Tests using it are marked `xdist_group("meltano")` (above), so one worker installs it, once.
    """
    from tests.test_meltano import make_project  # noqa: PLC0415 - only where Meltano tests run

    return make_project(tmp_path_factory)


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

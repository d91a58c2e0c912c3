"""The Singer SDK's built-in tap tests, against the sandbox API with declared schemas."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_restoauth.sandbox import SandboxServer
from tap_restoauth.tap import TapRestOAuth
from tests.conftest import sandbox_config

# The SDK builds the tap when the class is collected, so the API must already be up.
SERVER = SandboxServer().start()
# The class syncs once per worker that runs any of its tests (a class-scoped runner): one worker.
pytestmark = pytest.mark.xdist_group("sdk-suite")

USERS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "active": {"type": ["boolean", "null"]},
        "score": {"type": ["number", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
ORDERS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "total": {"type": ["number", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
ITEMS_SCHEMA = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "qty": {"type": ["integer", "null"]}},
}
EVENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": ["string", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def _config() -> dict:
    config = sandbox_config(SERVER)
    for stream, schema in zip(
        config["streams"], (USERS_SCHEMA, ORDERS_SCHEMA, ITEMS_SCHEMA, EVENTS_SCHEMA), strict=True
    ):
        stream["schema"] = schema
    return config


TestTapRestOAuthSDK = get_tap_test_class(
    TapRestOAuth,
    config=_config(),
    suite_config=SuiteConfig(max_records_limit=None, ignore_no_records_for_streams=[]),
)

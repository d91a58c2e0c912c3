"""The `openapi` setting: streams derived from a document at start-up, patched by `streams`.

The document describes the sandbox API (tap_restoauth/sandbox.py); the tap syncs it whole.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
import yaml

from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ConfigError
from tap_restoauth.sandbox import CLIENT_ID, CLIENT_SECRET, SandboxServer
from tests.helpers import discover, run_tap

Json = dict[str, t.Any]


def obj(required: list[str] | None = None, **properties: Json) -> Json:
    return {"type": "object", "required": required or [], "properties": properties}


def get(schema: Json, *parameters: Json, headers: Json | None = None) -> Json:
    response: Json = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return {"get": {"parameters": list(parameters), "responses": {"200": response}}}


def q(name: str, kind: str = "integer", **extra: t.Any) -> Json:
    return {"name": name, "in": "query", "schema": {"type": kind, **extra}}


def p(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


TIME = {"type": "string", "format": "date-time"}
USER = obj(
    ["id"],
    id={"type": "integer"},
    name={"type": "string"},
    email={"type": "string"},
    active={"type": "boolean"},
    score={"type": "number"},
    updated_at=TIME,
    address=obj(city={"type": "string"}, geo=obj(lat={"type": "number"}, lon={"type": "number"})),
)
SANDBOX_DOCUMENT: Json = {
    "openapi": "3.0.3",
    "info": {"title": "sandbox", "version": "1"},
    "servers": [{"url": "http://127.0.0.1:9"}],
    "components": {
        "securitySchemes": {
            "cc": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}},
            }
        }
    },
    "security": [{"cc": []}],
    "paths": {
        "/v1/users": get(
            obj(
                data={"type": "array", "items": USER},
                meta=obj(page={"type": "integer"}, total_pages={"type": "integer"}),
            ),
            q("page"),
            q("per_page", maximum=100),
            q("updated_since", "string", format="date-time"),
        ),
        "/v1/users/{user_id}": get(USER, p("user_id")),
        "/v1/users/{user_id}/orders": get(
            obj(
                orders={
                    "type": "array",
                    "items": obj(["id"], id={"type": "integer"}, total={"type": "number"}, created_at=TIME),
                },
                meta=obj(next={"type": "string", "nullable": True}),
            ),
            p("user_id"),
            q("cursor", "string"),
        ),
        "/v1/users/{user_id}/orders/{order_id}/items": get(
            obj(
                data={"type": "array", "items": obj(["sku"], sku={"type": "string"}, qty={"type": "integer"})}
            ),
            p("user_id"),
            p("order_id"),
            q("page"),
            headers={"Link": {"schema": {"type": "string"}}},
        ),
        "/v1/events": get(
            obj(
                total={"type": "integer"},
                items={
                    "type": "array",
                    "items": obj(
                        ["id"],
                        id={"type": "integer"},
                        kind={"type": "string", "enum": ["click", "view", "buy"]},
                        at=TIME,
                    ),
                },
            ),
            q("offset"),
            q("limit", maximum=100),
        ),
    },
}


def test_streams_derived_from_the_document_sync_the_whole_sandbox(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    document = tmp_path / "sandbox.yaml"
    document.write_text(yaml.safe_dump(SANDBOX_DOCUMENT))
    config = {
        "api_url": sandbox.url,
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": f"{sandbox.url}/oauth/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        "start_date": "2024-01-01T00:00:00Z",
        "openapi": {"document": str(document)},
        # A patch of one guess: the generated `sku` key is right, but the user wants 2 items a page.
        "streams": [
            {"name": "events", "pagination": {"type": "offset", "limit": 50, "total_path": "$.total"}}
        ],
    }
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    counts = sandbox.data.counts()
    assert run.counts() == {
        "users": counts["users"],
        "user_orders": counts["user_orders"],
        "order_items": counts["order_items"],
        "events": counts["events"],
    }
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    assert schemas["users"]["properties"]["updated_at"] == {"type": ["string", "null"], "format": "date-time"}
    assert schemas["users"]["properties"]["address"]["properties"]["geo"]["type"] == ["object", "null"]
    assert run.final_state["bookmarks"]["users"]["replication_key"] == "updated_at"


def test_a_streams_entry_overrides_only_the_keys_it_sets(tmp_path: Path) -> None:
    document = tmp_path / "sandbox.json"
    document.write_text(json.dumps(SANDBOX_DOCUMENT))
    base = {
        "api_url": "http://127.0.0.1:9",
        "openapi": {"document": str(document), "include": ["/v1/events"]},
    }
    events = parse_settings(base).streams[0]
    assert (events.name, events.records_path, events.primary_keys) == ("events", "$.items[*]", ("id",))
    patched = parse_settings(
        {
            **base,
            "streams": [{"name": "events", "primary_keys": ["kind"]}, {"name": "extra", "path": "/v1/extra"}],
        }
    )
    assert [s.name for s in patched.streams] == ["events", "extra"]
    assert (patched.streams[0].primary_keys, patched.streams[0].records_path) == (("kind",), "$.items[*]")


def test_a_bad_document_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    document = tmp_path / "bad.yaml"
    document.write_text("openapi: 3.0.0\npaths: {/x: {$ref: '#/nowhere'}}\n")
    with pytest.raises(ConfigError, match=r"^openapi.document: \$ref '#/nowhere' points nowhere"):
        parse_settings({"api_url": "http://127.0.0.1:9", "openapi": {"document": str(document)}})


def test_values_for_placeholders_of_derived_streams_are_known_settings(tmp_path: Path) -> None:
    document = tmp_path / "repos.yaml"
    issues = {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}
    doc = {
        "openapi": "3.0.3",
        "paths": {
            "/repos/{owner}/issues": {
                "get": {
                    "parameters": [
                        {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "", "content": {"application/json": {"schema": issues}}}
                    },
                }
            }
        },
    }
    document.write_text(yaml.safe_dump(doc))
    config = {"api_url": "http://127.0.0.1:9", "openapi": {"document": str(document)}, "owner": "acme"}
    catalog = discover(tmp_path, config)  # `owner` is not refused as an unknown setting
    assert [entry["tap_stream_id"] for entry in catalog["streams"]] == ["owner_issues"]

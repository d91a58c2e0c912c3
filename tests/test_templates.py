"""Placeholders in path, params, headers and body: what the API receives."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import unquote

import pytest

from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch import templates
from tap_restoauth.fetch.templates import Known, Values
from tests.helpers import run_tap
from tests.request_server import Request, RequestServer

USERS = [
    {"id": "a/b", "login": "ann", "team": "x y", "updated_at": "2024-01-02T00:00:00Z"},
    {"id": "c", "login": "cid", "team": "z", "updated_at": "2024-01-03T00:00:00Z"},
]


def _users(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    return 200, {"data": USERS}, {}


def _posts(request: Request) -> tuple[int, t.Any, dict[str, str]]:
    owner = unquote(request.raw_path.split("/")[2]) if request.method == "GET" else request.body["owner"]
    return 200, {"data": [{"id": f"{owner}-1", "at": "2024-01-05T00:00:00Z"}]}, {}


@pytest.fixture
def server() -> t.Iterator[RequestServer]:
    server = RequestServer({"/users": _users, "/search": _posts, "*": _posts}).start()
    yield server
    server.stop()


def config(server: RequestServer, **stream_changes: t.Any) -> dict[str, t.Any]:
    child = {
        "name": "posts",
        "parent": "users",
        "path": "/users/{parent.id}/posts",
        "params": {"since": "{bookmark:date}", "team": "{parent.team}", "tenant": "{config.tenant}"},
        "headers": {"X-Login": "{parent.login}", "X-Tenant": "{config.tenant}"},
        "primary_keys": ["id"],
        "replication_key": "at",
        "pagination": {"type": "none"},
    }
    child.update(stream_changes)
    streams = [
        {"name": "users", "path": "/users", "primary_keys": ["id"], "pagination": {"type": "none"}},
        child,
    ]
    # A top-level value only templates use is kept only where a template uses it: an unused
    # unknown setting is refused as a likely misspelling (test_config_errors).
    extra = {"tenant": "acme"} if "{config.tenant" in json.dumps(streams) else {}
    return {"api_url": server.url, **extra, "start_date": "2024-01-04T10:00:00Z", "streams": streams}


def test_parent_fields_config_values_and_bookmark_reach_path_params_and_headers(server, tmp_path):
    run = run_tap(tmp_path, config(server))
    assert run.returncode == 0, run.stderr
    sent = [r for r in server.requests if r.path.endswith("/posts")]
    # A parent value is one path segment, percent-encoded: "a/b" cannot add a segment.
    assert sorted(r.raw_path for r in sent)[-2:] == ["/users/a%2Fb/posts", "/users/c/posts"]
    last = [r for r in sent if r.raw_path == "/users/a%2Fb/posts"][-1]
    assert last.query == {"since": "2024-01-04", "team": "x y", "tenant": "acme"}
    assert last.headers["x-login"] == "ann"
    assert last.headers["x-tenant"] == "acme"
    records = run.records("posts")
    assert [r["id"] for r in records] == ["a/b-1", "c-1"]
    # The parent field travels with each child record under its context key.
    assert [r["parent_id"] for r in records] == ["a/b", "c"]


def test_json_body_placeholders_keep_their_type(server, tmp_path):
    changes = {
        "path": "/search",
        "method": "POST",
        "params": {},
        "headers": {},
        "body": {
            "owner": "{parent.id}",
            "filter": {"after": "{bookmark:epoch}", "label": "from {bookmark:date}"},
        },
    }
    run = run_tap(tmp_path, config(server, **changes))
    assert run.returncode == 0, run.stderr
    bodies = [r.body for r in server.hits("/search")]
    assert {"owner": "c", "filter": {"after": 1704362400, "label": "from 2024-01-04"}} in bodies


def test_unknown_placeholder_is_a_config_error_listing_known_ones(server, tmp_path):
    run = run_tap(tmp_path, config(server, path="/users/{parent.id}/{user_id}/posts"))
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "streams[posts].path: unknown placeholder {user_id}" in line
    assert "{bookmark}" in line and "{parent.id}" in line
    assert "Traceback" not in run.stderr
    assert not server.requests


def test_unknown_config_name_is_a_config_error(server, tmp_path):
    run = run_tap(tmp_path, config(server, headers={"X-Tenant": "{config.tennant}"}))
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "{config.tennant} names no top-level setting" in line


def test_render_rules():
    known = Known(context_keys=("user_id",), config={"limit": 50, "name": "a b"}, bookmark=True)
    assert templates.parse("{config.limit}", "x", known) == 50
    assert templates.parse("/u/{config.name}", "x", known, path=True) == "/u/a%20b"
    # GraphQL braces stay; a doubled placeholder is a literal.
    assert templates.parse("query { items { id } }", "x", known) == "query { items { id } }"
    assert templates.parse("{{user_id}}", "x", known) == "{user_id}"
    parsed = templates.parse_tree({"q": "{bookmark}", "u": "/{user_id}"}, "x", known)
    assert templates.render(parsed, Values({"user_id": 7})) == {"u": "/7"}  # no bookmark: left out
    with pytest.raises(ConfigError, match=r"unknown placeholder \{start\}.*need incremental.step"):
        templates.parse("{start}", "x", known)
    with pytest.raises(ConfigError, match="expected one of iso8601"):
        templates.parse("{bookmark:weird}", "x", known)


def test_stream_headers_merge_over_top_level_and_stream_params_override(server, tmp_path):
    base = config(server)
    base.pop("tenant")  # no stream below uses {config.tenant}
    base["headers"] = {"X-A": "top", "X-B": "top"}
    base["params"] = {"a": "1", "b": "2", "c": "3"}
    base["streams"] = [
        {
            "name": "users",
            "path": "/users",
            "primary_keys": ["id"],
            "pagination": {"type": "none"},
            "headers": {"X-B": "stream"},
            "params": {"b": "stream", "c": None},
        }
    ]
    run = run_tap(tmp_path, base)
    assert run.returncode == 0, run.stderr
    sent = server.hits("/users")[-1]
    assert (sent.headers["x-a"], sent.headers["x-b"]) == ("top", "stream")
    assert sent.query == {"a": "1", "b": "stream"}


def test_a_credential_from_config_in_a_path_is_masked_in_errors(server, tmp_path):
    secret = "k3y-" + "x" * 20
    cfg = config(server)
    cfg.pop("tenant")  # no stream below uses {config.tenant}
    cfg.update(account_key=secret, api_url="http://127.0.0.1:9", max_retries=0)  # nothing listens
    cfg["streams"] = [
        {"name": "users", "path": "/nowhere/{config.account_key}", "pagination": {"type": "none"}}
    ]
    run = run_tap(tmp_path, cfg)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "/nowhere/" in line
    assert secret not in run.stderr and secret not in run.stdout

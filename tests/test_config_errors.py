"""Every bad config: one clear line, exit 1, no traceback, and not a single request sent."""

from __future__ import annotations

import typing as t

import pytest

from tests.fault_server import CLIENT_SECRET, FaultServer, sync, tap_config
from tests.helpers import run_tap

Config = dict[str, t.Any]


def stream(config: Config, name: str) -> dict[str, t.Any]:
    return next(s for s in config["streams"] if s["name"] == name)


def drop_api_url(c: Config) -> None:
    del c["api_url"]


def ftp_api_url(c: Config) -> None:
    c["api_url"] = "ftp://files.example.com/api"


def no_streams(c: Config) -> None:
    c["streams"] = []


def duplicate_name(c: Config) -> None:
    stream(c, "events")["name"] = "users"


def unknown_auth(c: Config) -> None:
    c["auth"]["type"] = "oauth3"


def oauth_without_token_url(c: Config) -> None:
    del c["auth"]["token_url"]


def basic_without_password(c: Config) -> None:
    c["auth"] = {"type": "basic", "username": "ann"}


def unknown_pagination(c: Config) -> None:
    stream(c, "events")["pagination"] = {"type": "pages"}


def next_url_without_path(c: Config) -> None:
    stream(c, "events")["pagination"] = {"type": "next_url"}


def bad_jsonpath(c: Config) -> None:
    stream(c, "events")["records_path"] = "$.items[?(@.id >"


def unknown_parent(c: Config) -> None:
    stream(c, "notes")["parent"] = "customers"


def parent_cycle(c: Config) -> None:
    stream(c, "users")["parent"] = "notes"
    stream(c, "users")["parent_keys"] = {"note_id": "id"}


def parent_key_not_in_parent_schema(c: Config) -> None:
    stream(c, "notes")["parent_keys"] = {"user_id": "uid"}


def replication_key_not_in_schema(c: Config) -> None:
    stream(c, "users")["replication_key"] = "modified_at"


def invalid_start_date(c: Config) -> None:
    c["start_date"] = "last tuesday"


def unreadable_schema_file(c: Config) -> None:
    stream(c, "events")["schema"] = "/nonexistent/schemas/events.json"


def unreadable_ca_bundle(c: Config) -> None:
    c["ca_bundle"] = "/nonexistent/private-ca.pem"


def ca_bundle_not_pem(c: Config, tmp_path: t.Any) -> None:
    path = tmp_path / "ca.pem"
    path.write_text("this is not a certificate\n")
    c["ca_bundle"] = str(path)


def unknown_stream_option(c: Config) -> None:
    stream(c, "users")["primary_key"] = ["id"]


def zero_rate_limit(c: Config) -> None:
    c["requests_per_second"] = 0


def misspelled_settings(c: Config) -> None:
    c["start_dat"] = "2024-01-01T00:00:00Z"
    c["concurency"] = 4
    c["_added_by_a_tool"] = True  # allowed: tools add `_` keys for themselves
    c["stream_maps"] = {}  # allowed: an SDK setting


CASES: list[tuple[t.Callable[..., None], list[str]]] = [
    (drop_api_url, ["'api_url' is a required property"]),
    (ftp_api_url, ["api_url: expected an http(s) URL", "ftp://files.example.com/api"]),
    (no_streams, ["streams: configure at least one stream"]),
    (duplicate_name, ["streams: the name 'users' is used twice"]),
    (unknown_auth, ["auth.type: unknown auth type 'oauth3'", "oauth2_client_credentials"]),
    (oauth_without_token_url, ["auth.token_url is required"]),
    (basic_without_password, ["auth.password is required"]),
    (unknown_pagination, ["streams[events].pagination.type: unknown pagination type 'pages'", "cursor"]),
    (next_url_without_path, ["streams[events].pagination.next_url_path is required"]),
    (bad_jsonpath, ["streams[events].records_path: invalid JSONPath", "$.items[?(@.id >"]),
    (unknown_parent, ["streams[notes].parent: no stream is named 'customers'"]),
    (parent_cycle, ["parent cycle", "users -> notes -> users"]),
    (parent_key_not_in_parent_schema, ["streams[notes].parent_keys: parent 'users' has no field(s) uid"]),
    (replication_key_not_in_schema, ["streams[users].replication_key 'modified_at' is not a property"]),
    (invalid_start_date, ["start_date: expected an ISO-8601 date-time", "'last tuesday'"]),
    (unreadable_schema_file, ["streams[events].schema: cannot read schema file", "/nonexistent/schemas"]),
    (unreadable_ca_bundle, ["ca_bundle: cannot read '/nonexistent/private-ca.pem'"]),
    (ca_bundle_not_pem, ["ca_bundle:", "holds no usable PEM certificate"]),
    (unknown_stream_option, ["streams[users]: unknown option(s) primary_key", "primary_keys"]),
    (zero_rate_limit, ["requests_per_second: expected a number greater than 0, got 0"]),
    (
        misspelled_settings,
        [
            "unknown setting(s) 'concurency' (did you mean concurrency?), "
            "'start_dat' (did you mean start_date?);"
        ],
    ),
]


@pytest.fixture(scope="module")
def server() -> t.Iterator[FaultServer]:
    srv = FaultServer().start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(("mutate", "fragments"), CASES, ids=[case[0].__name__ for case in CASES])
def test_bad_config_is_one_line_before_any_request(server, tmp_path, mutate, fragments):
    config = tap_config(server)
    if mutate is ca_bundle_not_pem:
        mutate(config, tmp_path)
    else:
        mutate(config)
    run = sync(tmp_path, server, config)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.error_lines()
    for fragment in fragments:
        assert fragment in line, line
    assert CLIENT_SECRET not in run.stderr
    assert run.messages == []
    assert server.hits == []


@pytest.mark.parametrize("mode", ["--discover", "--test"])
def test_failed_discovery_leaves_no_unclosed_file(server, tmp_path, mode):
    """Meltano passes --state/--catalog files; a failure must not leave them for the garbage collector."""
    config = tap_config(server)
    config["start_dat"] = "2024-01-01T00:00:00Z"
    (tmp_path / "state.json").write_text("{}")
    (tmp_path / "catalog.json").write_text('{"streams": []}')
    files = ["--state", str(tmp_path / "state.json"), "--catalog", str(tmp_path / "catalog.json")]
    run = run_tap(tmp_path, config, args=[*files, mode], env={"PYTHONWARNINGS": "default"})
    assert run.returncode == 1
    assert len(run.error_lines()) == 1, run.stderr
    assert "ResourceWarning" not in run.stderr, run.stderr

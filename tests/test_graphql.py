"""GraphQL streams against the Shopify- and GitHub-shaped APIs of tests/api_zoo: errors in a
200 are one line, THROTTLED is retried (and ends in bounded time when it never stops), the
query cost paces requests, GitHub's rateLimit stops the run resumably."""

from __future__ import annotations

import json
import time
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch.graphql import ConnectionPaginator, GraphqlSettings
from tap_restoauth.fetch.graphql_endpoint import _cost_wait, _throttle_code
from tap_restoauth.fetch.pagination import Page, PageRequest
from tests.api_zoo import github_graphql, shopify_graphql
from tests.helpers import run_tap
from tests.test_api_zoo import merged

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shop() -> t.Iterator[shopify_graphql.Api]:
    api = shopify_graphql.Api().start()
    yield api
    api.stop()


@pytest.fixture
def github() -> t.Iterator[github_graphql.Api]:
    api = github_graphql.Api().start()
    yield api
    api.stop()


def shop_config(api: shopify_graphql.Api, **top: t.Any) -> dict[str, t.Any]:
    example = json.loads((ROOT / shopify_graphql.EXAMPLE).read_text())
    config = merged(example, api.overrides(1))
    return {**config, "max_retries": 2, "backoff_factor": 0.05, **top}


def github_config(api: github_graphql.Api) -> dict[str, t.Any]:
    example = json.loads((ROOT / github_graphql.EXAMPLE).read_text())
    return merged(example, api.overrides(1))


def test_a_throttled_query_is_retried_and_the_query_cost_paces_the_next_ones(shop, tmp_path):
    shop.maximum, shop.available, shop.restore = 10.0, 10.0, 20.0  # two queries of cost 5, then wait
    config = shop_config(shop)
    shop.throttle_first = 1
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert run.records("orders") == sorted(shop.orders, key=lambda o: o["updatedAt"])
    assert shop.throttled == 1  # the forced one: afterwards the tap waits until each query fits
    assert "the GraphQL API answered THROTTLED; retrying" in run.stderr


def test_an_api_that_always_says_throttled_ends_with_one_line(shop, tmp_path):
    shop.always_throttled = True
    started = time.monotonic()
    run = run_tap(tmp_path, shop_config(shop))
    assert time.monotonic() - started < 30
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "orders: the GraphQL API still answered THROTTLED after 3 attempts (max_retries); stopped" in line
    assert shop.throttled == 3


def test_errors_in_a_200_fail_with_the_first_message_on_one_line(shop, tmp_path):
    config = shop_config(shop)
    config["streams"][0]["graphql"]["query"] = config["streams"][0]["graphql"]["query"].replace(
        " name ", " bogus "
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert line.endswith(
        "orders: the GraphQL API answered an error: Field 'bogus' doesn't exist on type 'Order'"
    )
    assert "Traceback" not in run.stderr


def test_partial_data_with_errors_is_an_error_unless_allow_partial(github, tmp_path):
    github.partial_error = True
    config = github_config(github)
    refused = run_tap(tmp_path / "1", config)
    assert refused.returncode == 1
    (line,) = refused.error_lines()
    assert (
        "Resource not accessible by integration; the data is partial (graphql.allow_partial keeps it)" in line
    )

    config["streams"][1]["graphql"]["allow_partial"] = True
    kept = run_tap(tmp_path / "2", config)
    assert kept.returncode == 0, kept.stderr
    assert len(kept.records("issues")) == 9
    assert "partial data with an error (allow_partial)" in kept.stderr


def test_nested_connections_come_with_their_node_and_children_page_per_parent(github, tmp_path):
    run = run_tap(tmp_path, github_config(github))
    assert run.returncode == 0, run.stderr
    issue = run.records("issues")[0]
    assert issue["labels"] == {"nodes": [{"name": "bug"}, {"name": "good first issue"}]}
    assert {r["repo"] for r in run.records("issues")} == {"repo-1", "repo-2", "repo-3"}


def test_a_spent_github_rate_limit_stops_the_run_resumably(github, tmp_path):
    github.remaining = 5  # two repositories pages, repo-1's issues, two pages of repo-2's
    run = run_tap(tmp_path, github_config(github))
    assert run.returncode == 0, run.stderr
    assert "tap-restoauth: stopped: API quota exhausted (GraphQL rateLimit.remaining: 0)" in run.stderr
    assert "STATE is written and the next run continues from it" in run.stderr
    assert github.remaining == 0  # the quota was not overrun: no RATE_LIMITED answer was needed
    partitions = run.final_state["bookmarks"]["issues"]["partitions"]
    done = {p["context"]["repo"]: p.get("replication_key_value") for p in partitions}
    assert done["repo-1"] == max(i["updatedAt"] for i in github.issues["repo-1"])
    assert "repo-3" not in done


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"query": "{ x }"}, "connection_path is required"),
        ({"query": " ", "connection_path": "$.data.x"}, "query is empty"),
        ({"query": "{ x }", "connection_path": "$.data.x", "cursor_variable": "a b"}, "cursor_variable"),
        ({"query": "{ x }", "connection_path": "$.data.x", "first": 1}, "unknown option(s) first"),
    ],
)
def test_graphql_settings_are_checked_at_start_up(raw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GraphqlSettings.parse(raw, "streams[orders].graphql")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
GRAPHQL_KEYS = (
    "data",
    "errors",
    "extensions",
    "cost",
    "throttleStatus",
    "requestedQueryCost",
    "currentlyAvailable",
    "restoreRate",
    "orders",
    "pageInfo",
    "hasNextPage",
    "endCursor",
    "edges",
    "node",
    "nodes",
    "extensions",
    "code",
    "type",
    "message",
)
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.sampled_from(["THROTTLED", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(GRAPHQL_KEYS), inner, max_size=5)
    ),
    max_leaves=12,
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_graphql_answers_of_any_shape_give_a_wait_a_code_or_a_page_never_a_crash(body):
    if isinstance(body, dict):
        wait = _cost_wait(body)
        assert wait is None or 0 <= wait < float("inf")
        errors = (
            [e for e in body.get("errors") or [] if isinstance(e, dict)]
            if isinstance(body.get("errors"), list)
            else []
        )
        assert _throttle_code(errors) in (None, "THROTTLED", "RATE_LIMITED")
    request = PageRequest("https://api.example.com/graphql", {}, {"variables": {}}, {})
    page = Page(request, request.url, {}, {"data": body}, 1)
    following = ConnectionPaginator("$.data").next_request(page)
    assert following is None or following.body["variables"]["after"] not in (None, "")

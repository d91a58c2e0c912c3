"""Describing real APIs' responses: response rules, rate-limit headers, quota stops.

Each test runs the real tap against a provider-shaped API from tests/api_zoo (config from
examples/<provider>.json), checks records, STATE and exit code, and greps everything the tap
wrote for the credential (zero hits).
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.http.ratelimit import RateLimitSettings
from tests.api_zoo import chat, daily_quota, github_limits, session_expiry
from tests.helpers import TapRun, run_tap

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEBUG = {"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"}


def example(name: str, url: str, token: str, **overrides: t.Any) -> dict[str, t.Any]:
    config = json.loads((EXAMPLES / f"{name}.json").read_text())
    config["api_url"] = url
    config["auth"]["token"] = token
    config.update(overrides)
    return config


def run(tmp_path: Path, config: dict[str, t.Any], secrets: t.Iterable[str], **kwargs: t.Any) -> TapRun:
    """The tap at DEBUG; no secret in anything it wrote."""
    result = run_tap(tmp_path, config, env=DEBUG, timeout=90, **kwargs)
    output = result.stdout + result.stderr
    leaked = [secret[:6] for secret in secrets if secret in output]
    assert not leaked, f"secrets leaked: {leaked}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def ids(records: list[dict[str, t.Any]], key: str = "id") -> list[t.Any]:
    return sorted(r[key] for r in records)


def one_error_line(result: TapRun) -> str:
    assert result.returncode == 1, result.stderr[-3000:]
    (line,) = result.error_lines()
    return line


# -- response rules ----------------------------------------------------------------------


def test_errors_inside_200_and_400_are_retried_by_rule_and_a_404_child_is_ignored(tmp_path):
    server = chat.ChatApi(ratelimited={"", "4"}, slow_down={"2"}).start()
    try:
        result = run(tmp_path, example("chat", server.url, chat.TOKEN), [chat.TOKEN])
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert ids(result.records("channels")) == ids(chat.channels())
    members = result.records("members")
    assert sorted((m["channel_id"], m["user"]) for m in members) == sorted(
        (m["channel_id"], m["user"]) for m in chat.expected_members()
    )
    assert server.answers["ratelimited"] == 2 and server.answers["slow_down"] == 1
    assert server.answers["not_found"] == len(chat.ARCHIVED)
    retries = [line for line in result.stderr.splitlines() if "; retry 1/" in line]
    assert len(retries) == 3
    assert any("response_rules[0]: ratelimited" in line for line in retries)
    assert any("Rate limit exceeded: slow down" in line for line in retries)
    skipped = [
        line for line in result.stderr.splitlines() if "skipped (streams[members].response_rules[0])" in line
    ]
    assert len(skipped) == len(chat.ARCHIVED)
    assert "summary: 3 requests retried" in result.stderr
    assert result.final_state.get("bookmarks", {}).get("channels", {}).get("replication_key_value") is None


def test_an_error_inside_200_fails_with_the_apis_own_message_masked(tmp_path):
    wrong = "xoxb-revoked-token-5c0ffee"
    server = chat.ChatApi().start()
    try:
        result = run(tmp_path, example("chat", server.url, wrong), [wrong, chat.TOKEN])
    finally:
        server.stop()
    line = one_error_line(result)
    assert "channels: GET" in line and "answered HTTP 200 (response_rules[2])" in line
    assert line.endswith("token *** is not valid"), line  # the API's words; the token it echoed is masked
    assert result.records("channels") == [] and result.states == []
    assert server.answers["invalid_auth"] == 1  # not retried


def test_rules_are_checked_when_the_config_is_read(tmp_path):
    config = example("chat", "http://127.0.0.1:9", chat.TOKEN)
    config["response_rules"] = [{"status": "6xx", "action": "retry"}]
    line = one_error_line(run(tmp_path, config, [chat.TOKEN]))
    assert "response_rules[0].status" in line and "'6xx'" in line
    config["response_rules"] = [{"status": 404, "action": "skip"}]
    line = one_error_line(run(tmp_path, config, [chat.TOKEN]))
    assert "response_rules[0].action: expected one of retry, ignore, fail, refresh_token, stop" in line


# -- rate-limit headers --------------------------------------------------------------------


def test_github_rate_limit_headers_hold_every_thread_until_the_reset_instead_of_hitting_403(tmp_path):
    server = github_limits.GithubLimitsApi(budget=8, window=1, style="github").start()
    try:
        result = run(
            tmp_path, example("github_limits", server.url, github_limits.TOKEN), [github_limits.TOKEN]
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert ids(result.records("issues"), "number") == list(range(1, github_limits.ISSUES + 1))
    expected = [c["id"] for n in range(1, github_limits.ISSUES + 1) for c in github_limits.comments(n)]
    assert ids(result.records("issue_comments")) == sorted(expected)
    # Three prefetch threads and the main thread, and never a request past the budget: by default
    # the tap waits once `concurrency` (3) are left, what the other threads may have in flight.
    assert server.refused == 0
    assert server.served >= 3 + github_limits.ISSUES  # (and the schema samples of discovery)
    assert "rate limit reached (X-RateLimit-Remaining: " in result.stderr


@pytest.mark.parametrize("style", ["ietf", "combined", "custom"])
def test_other_rate_limit_header_shapes_are_read(tmp_path, style):
    server = github_limits.GithubLimitsApi(budget=2, window=1, style=style).start()
    config = example("github_limits", server.url, github_limits.TOKEN, concurrency=1)
    config["streams"] = config["streams"][:1]
    config["rate_limit"] = {"min_remaining": 0}
    if style == "custom":
        config["rate_limit"].update(remaining_header="X-Quota-Left", reset_header="X-Quota-Reset")
    try:
        result = run(tmp_path, config, [github_limits.TOKEN])
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert ids(result.records("issues"), "number") == list(range(1, github_limits.ISSUES + 1))
    assert server.refused == 0 and server.served >= 3
    assert "rate limit reached" in result.stderr


def test_a_403_with_retry_after_is_waited_out_like_a_429(tmp_path):
    server = github_limits.GithubLimitsApi(budget=2, window=1, style="secondary").start()
    config = example("github_limits", server.url, github_limits.TOKEN, concurrency=1)
    config["streams"] = config["streams"][:1]
    try:
        result = run(tmp_path, config, [github_limits.TOKEN])
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert ids(result.records("issues"), "number") == list(range(1, github_limits.ISSUES + 1))
    assert server.refused >= 1
    assert "HTTP 403 with Retry-After; retry 1/5" in result.stderr


def test_reset_values_are_told_apart():
    settings = RateLimitSettings()
    now = __import__("time").time()
    assert settings.reset_seconds("30") == 30
    assert 59 <= t.cast("float", settings.reset_seconds(str(int(now) + 60))) <= 61  # epoch seconds
    assert 59 <= t.cast("float", settings.reset_seconds(str(int(now * 1000) + 60_000))) <= 61  # epoch ms
    assert settings.reset_seconds(str(int(now) - 5)) == 0  # already passed
    date = __import__("email.utils").utils.formatdate(now + 120, usegmt=True)
    assert 118 <= t.cast("float", settings.reset_seconds(date)) <= 121
    assert settings.reset_seconds("soon") is None
    seconds = RateLimitSettings(reset_format="seconds").reset_seconds("1700000000")
    assert seconds == 10 * 365 * 86400  # 54 years: capped at ten years (a quota stop either way)
    headers = {"RateLimit": '"default";r=0;t=42'}
    assert settings.read(headers) == (0, 42, "RateLimit")
    assert settings.read({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "7"}) == (
        5,
        7,
        "X-RateLimit-Remaining",
    )


# -- quota exhausted: a resumable stop -------------------------------------------------------


QUOTA_STYLES = {
    # style: (what the stop line says about the reset, requests the API refused)
    "retry_after": (r"it resets in (6h59m|7h00m) \(at 20\d\d-", 1),
    "headers": (r"it resets in (6h59m|7h00m) \(at 20\d\d-", 0),  # the tap stops before it is refused
    "google": (r"dailyLimitExceeded|Daily Limit Exceeded.*the API did not say when it resets", 1),
}


@pytest.mark.parametrize("style", list(QUOTA_STYLES))
def test_a_daily_quota_stops_the_run_resumably_and_the_next_run_continues(tmp_path, style):
    server = daily_quota.DailyQuotaApi(quota=7, style=style).start()  # customers' 3 pages, then 4 of orders
    try:
        config = example("daily_quota", server.url, daily_quota.TOKEN)
        first = run(tmp_path / "first", config, [daily_quota.TOKEN])
        refused = server.refused
        server.new_day(quota=100)
        second = run(tmp_path / "second", config, [daily_quota.TOKEN], state=first.final_state)
    finally:
        server.stop()
    reset_phrase, expected_refused = QUOTA_STYLES[style]
    assert first.returncode == 0, first.stderr[-3000:]
    assert refused == expected_refused
    (stop,) = [line for line in first.stderr.splitlines() if line.startswith("tap-restoauth: stopped:")]
    assert "API quota exhausted" in stop and re.search(reset_phrase, stop) and "next run continues" in stop
    assert "summary: PARTIAL run" in first.stderr
    all_orders = daily_quota.orders()
    assert ids(first.records("orders")) == [o["id"] for o in all_orders[:40]]  # 4 pages of 10
    assert ids(first.records("customers")) == ids(daily_quota.customers())  # synced first (a full table)
    assert first.final_state["bookmarks"]["orders"]["replication_key_value"] == all_orders[39]["updated_at"]

    assert second.returncode == 0, second.stderr[-3000:]
    assert "PARTIAL" not in second.stderr
    both = first.records("orders") + second.records("orders")
    assert sorted(o["id"] for o in both) == [o["id"] for o in all_orders]  # each exactly once
    assert ids(second.records("customers")) == ids(daily_quota.customers())
    assert second.final_state["bookmarks"]["orders"]["replication_key_value"] == all_orders[-1]["updated_at"]


def test_a_stop_rule_waits_when_the_quota_resets_within_max_retry_after_seconds(tmp_path):
    server = daily_quota.DailyQuotaApi(quota=7, style="google_retry_after", day_seconds=2).start()
    try:
        config = example("daily_quota", server.url, daily_quota.TOKEN)
        result = run(tmp_path, config, [daily_quota.TOKEN])
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "PARTIAL" not in result.stderr and "stopped:" not in result.stderr
    assert ids(result.records("orders")) == [o["id"] for o in daily_quota.orders()]
    assert server.days >= 2 and server.refused >= 1
    assert "HTTP 403 (response_rules[0]: stop; the quota resets in " in result.stderr
    assert (
        result.final_state["bookmarks"]["orders"]["replication_key_value"]
        == daily_quota.orders()[-1]["updated_at"]
    )


def test_on_quota_exhausted_fail_exits_1_with_the_same_line_and_keeps_the_state(tmp_path):
    server = daily_quota.DailyQuotaApi(quota=5, style="retry_after").start()
    try:
        config = example("daily_quota", server.url, daily_quota.TOKEN, on_quota_exhausted="fail")
        result = run(tmp_path, config, [daily_quota.TOKEN])
    finally:
        server.stop()
    line = one_error_line(result)
    assert "API quota exhausted" in line and "Retry-After 25" in line and "(on_quota_exhausted: fail)" in line
    assert len(result.records("orders")) == 20
    assert (
        result.final_state["bookmarks"]["orders"]["replication_key_value"]
        == daily_quota.orders()[19]["updated_at"]
    )


def test_a_refresh_token_rule_renews_a_session_the_api_ends_early(tmp_path):
    server = session_expiry.SessionExpiryApi(uses=2).start()
    config = example_oauth(server.url)
    try:
        result = run(tmp_path, config, [session_expiry.CLIENT_SECRET])
        assert result.returncode == 0, result.stderr[-3000:]
        issued = server.issued
        leaked = [token[:4] for token in issued if token in result.stdout + result.stderr]
    finally:
        server.stop()
    assert not leaked
    assert ids(result.records("invoices")) == ids(session_expiry.invoices())
    assert len(issued) == 3 and server.expired_answers == 2  # 5 pages, 2 a token
    assert result.stderr.count("response_rules[0] asked for a new access token") == 2
    assert "summary: 0 requests retried, 3 access tokens obtained" in result.stderr


def test_a_refresh_token_rule_fails_when_a_new_token_does_not_help(tmp_path):
    server = session_expiry.SessionExpiryApi(uses=0).start()  # every token is "expired"
    try:
        result = run(tmp_path, example_oauth(server.url), [session_expiry.CLIENT_SECRET])
    finally:
        server.stop()
    line = one_error_line(result)
    assert "answered HTTP 200 (response_rules[0]: refresh_token) and a new access token did not help" in line
    assert line.endswith("Session expired or invalid")
    assert len(server.issued) == 2 and result.records("invoices") == []


def example_oauth(url: str) -> dict[str, t.Any]:
    config = json.loads((EXAMPLES / "session_expiry.json").read_text())
    config["api_url"] = url
    config["auth"].update(token_url=f"{url}/oauth/token", client_secret=session_expiry.CLIENT_SECRET)
    return config

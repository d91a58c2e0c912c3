"""Asynchronous export jobs against the Amazon Ads- and Salesforce Bulk-shaped APIs of
tests/api_zoo: hostile jobs end in bounded time with one line, downloads on another origin
carry no credential, STATE moves only past downloaded windows, `_audit` names each job."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ConfigError
from tests.api_zoo import amazon_ads, salesforce_bulk
from tests.helpers import ISOLATED_ENV, run_tap, tap_command
from tests.test_api_zoo import merged

ROOT = Path(__file__).resolve().parent.parent


def ads_config(api: amazon_ads.Api, **changes: t.Any) -> dict[str, t.Any]:
    example = json.loads((ROOT / amazon_ads.EXAMPLE).read_text())
    config = merged(example, api.overrides(1))
    config["max_retries"] = 0
    config["streams"][0]["job"] = merged(config["streams"][0]["job"], changes)
    return config


@pytest.fixture
def ads() -> t.Iterator[amazon_ads.Api]:
    api = amazon_ads.Api().start()
    yield api
    api.stop()


def bookmarks(state: dict[str, t.Any]) -> dict[str, str]:
    partitions = state["bookmarks"]["sp_campaigns"]["partitions"]
    return {p["context"]["profile_id"]: p.get("replication_key_value") for p in partitions}


def test_a_job_that_never_finishes_stops_at_its_timeout_with_one_line(ads, tmp_path):
    ads.never_done = True
    started = time.monotonic()
    run = run_tap(tmp_path, ads_config(ads, poll={"timeout_minutes": 0.005}))
    assert time.monotonic() - started < 30
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "is still PROCESSING after 0.005 minutes (job.poll.timeout_minutes)" in line
    assert "job " in line and "Traceback" not in run.stderr
    assert run.counts()["sp_campaigns"] == 0


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_failed_job_stops_at_its_window_and_a_rerun_creates_that_job_again(ads, tmp_path, concurrency):
    ads.fail_day = "2024-03-04"
    # STATE after every window (partitioned streams otherwise write it every 10 s and at the end).
    config = {**ads_config(ads), "concurrency": concurrency, "state_interval_seconds": 0}
    first = run_tap(tmp_path / "1", config)
    assert first.returncode == 1
    (line,) = first.error_lines()
    assert "ended with status FAILED: Report generation failed" in line
    # The first profile's days before the failed one are emitted; the bookmark stops there.
    assert sorted({r["date"] for r in first.records("sp_campaigns")}) == [
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
    ]
    assert bookmarks(first.final_state)["1111111111"] == "2024-03-04T00:00:00+00:00"

    ads.fail_day = None
    created = len(ads.reports)
    second = run_tap(tmp_path / "2", config, state=first.final_state)
    assert second.returncode == 0, second.stderr
    days = [r["date"] for r in second.records("sp_campaigns") if r["profile_id"] == "1111111111"]
    assert days[0] == "2024-03-03"  # lookback P1D, then the failed day's job is created again
    assert "2024-03-04" in days
    assert len(ads.reports) > created


def test_a_presigned_download_on_another_origin_gets_no_credential(ads, tmp_path):
    run = run_tap(tmp_path, ads_config(ads), env={"TAP_RESTOAUTH_LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr
    downloads = ads.storage.requests
    assert downloads
    for request in downloads:
        assert "authorization" not in request.headers
        assert "amazon-advertising-api-clientid" not in request.headers
        assert "amazon-advertising-api-scope" not in request.headers
        assert ads.token not in json.dumps(request.headers)
    signatures = [r["signature"] for r in ads.reports.values()]
    assert not any(signature in run.stdout + run.stderr for signature in signatures)
    assert ads.token not in run.stdout + run.stderr


def test_a_presigned_url_redirecting_to_plain_http_is_refused_with_one_line(ads, tmp_path):
    ads.redirect_to_http = True
    run = run_tap(tmp_path, ads_config(ads))
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "refused to download from http://reports.example.invalid (plain http)" in line


def test_max_concurrent_jobs_caps_jobs_in_flight(ads, tmp_path):
    ads.ready_seconds = 0.3
    run = run_tap(tmp_path, ads_config(ads, max_concurrent_jobs=2))
    assert run.returncode == 0, run.stderr
    spans = sorted((r["created"], r["created"] + ads.ready_seconds) for r in ads.reports.values())
    overlapping = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert overlapping <= 2
    assert run.counts()["sp_campaigns"] == 28


def test_the_audit_row_of_a_job_names_it(ads, tmp_path):
    run = run_tap(tmp_path, {**ads_config(ads), "audit": True})
    assert run.returncode == 0, run.stderr
    rows = [r for r in run.records("_audit") if r["stream"] == "sp_campaigns"]
    assert len(rows) == 14  # one per profile and day
    assert {r["job_status"] for r in rows} == {"COMPLETED"}
    assert {r["job_id"] for r in rows} == set(ads.reports)
    assert {(r["job_files"], r["records"]) for r in rows} == {(1, 2)}


def test_connection_test_skips_a_job_stream_with_a_line(ads, tmp_path):
    run = run_tap(tmp_path, ads_config(ads), args=["--test"])
    assert run.returncode == 0, run.stderr
    assert "sp_campaigns skipped (a job stream: testing it would create an export job)" in run.stderr
    assert not ads.reports


def test_sigterm_while_polling_exits_143_quickly_with_consistent_state(ads, tmp_path):
    ads.never_done = True
    config = {**ads_config(ads), "concurrency": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_restoauth", "--config", str(tmp_path / "config.json")]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ISOLATED_ENV}
    )
    deadline = time.monotonic() + 30
    while len(ads.reports) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert time.monotonic() - sent < 5
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr
    states = [json.loads(line)["value"] for line in stdout.splitlines() if '"STATE"' in line]
    assert all("replication_key_value" not in json.dumps(state) for state in states)


def test_a_failed_bulk_query_job_names_its_id_and_state(tmp_path):
    api = salesforce_bulk.Api().start()
    try:
        api.fail_next = True
        example = json.loads((ROOT / salesforce_bulk.EXAMPLE).read_text())
        run = run_tap(tmp_path, merged(example, api.overrides(1)))
        assert run.returncode == 1
        (line,) = run.error_lines()
        (job_id,) = api.jobs
        assert f"accounts: job {job_id} ended with status Failed: INVALID_FIELD: No such column" in line
    finally:
        api.stop()


def test_each_downloaded_file_is_bounded_by_max_response_mb_after_decompression(ads, tmp_path):
    ads.campaigns = 3000  # about 300 kB of JSON a file, 30 kB gzipped
    run = run_tap(tmp_path, {**ads_config(ads), "max_response_mb": 0.1})
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert "the response passed max_response_mb (0.09" in line
    assert not any(r["signature"] in line for r in ads.reports.values())


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"poll": {"done": []}}, "poll.done: list the status(es) of a finished job"),
        (
            {"poll": {"interval_seconds": 10, "max_interval_seconds": 1}},
            "max_interval_seconds at least as long",
        ),
        ({"download": {"path": "/x"}}, "download: set exactly one of urls_path or path"),
        ({"poll": {"path": "/reports/{job.id}/{jobid}"}}, "unknown placeholder {jobid}"),
        ({"create": {"body": {"day": "{job.id}"}}}, "unknown placeholder {job.id}"),
        ({"max_concurrent_jobs": 0}, "max_concurrent_jobs: expected a number of at least 1"),
        ({"retry": 1}, "unknown option(s) retry"),
    ],
)
def test_job_settings_are_checked_at_start_up(ads, job, message):
    config = ads_config(ads, **job)
    if job.get("poll", {}).get("done") == []:
        config["streams"][0]["job"]["poll"]["done"] = []
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert message in str(caught.value)


def test_jobs_of_later_partitions_run_while_the_first_partitions_are_polled(ads, tmp_path):
    ads.ready_seconds = 0.3
    run = run_tap(tmp_path, {**ads_config(ads), "concurrency": 8})
    assert run.returncode == 0, run.stderr
    first = [r["created"] for r in ads.reports.values() if r["profile"] == amazon_ads.PROFILES[0]]
    second = [r["created"] for r in ads.reports.values() if r["profile"] == amazon_ads.PROFILES[1]]
    assert min(second) < max(first) + ads.ready_seconds  # not one partition after the other
    assert run.records("sp_campaigns") == ads.expected(1)["sp_campaigns"].records  # still in order


def test_polls_back_off_from_interval_to_max_interval_and_honour_retry_after(ads, tmp_path):
    ads.ready_seconds = 1.2
    config = {
        **ads_config(ads, poll={"interval_seconds": 0.1, "max_interval_seconds": 0.4}),
        "partitions": [],
    }
    config["partitions"] = [{"profile_id": amazon_ads.PROFILES[0]}]
    config["end_date"] = "2024-03-02T00:00:00Z"  # one job
    run = run_tap(tmp_path / "backoff", config)
    assert run.returncode == 0, run.stderr
    (report,) = ads.reports.values()
    gaps = [later - earlier for earlier, later in itertools.pairwise(report["polls"])]
    assert gaps[0] < 0.35 and max(gaps) >= 0.35  # 0.2, then 0.4, 0.4 ...

    ads.reports.clear()
    ads.retry_after = "1"
    run = run_tap(tmp_path / "retry-after", config)
    assert run.returncode == 0, run.stderr
    (report,) = ads.reports.values()
    gaps = [later - earlier for earlier, later in itertools.pairwise(report["polls"])]
    assert gaps and min(gaps) >= 0.9  # each wait as long as the API asked, not 0.2


def test_a_download_redirected_back_to_the_api_origin_still_carries_no_credential(ads, tmp_path):
    ads.redirect_to_api = True
    run = run_tap(tmp_path, ads_config(ads))
    assert run.returncode == 0, run.stderr
    assert ads.mirrored
    for request in ads.mirrored:
        assert "authorization" not in request.headers
        assert "amazon-advertising-api-clientid" not in request.headers
    assert run.counts()["sp_campaigns"] == 28


@pytest.mark.parametrize(
    ("odd", "message"),
    [
        (
            "status_object",
            "no status at $.status in the poll answer; the response is an object with keys: reportId, status",
        ),
        ("no_url", "is COMPLETED but its answer has no download URL at $.url"),
    ],
)
def test_a_status_answer_of_another_shape_is_one_line(ads, tmp_path, odd, message):
    ads.odd_answer = odd
    run = run_tap(tmp_path, {**ads_config(ads), "concurrency": 1})
    assert run.returncode == 1
    (line,) = run.error_lines()
    assert message in line
    assert "Traceback" not in run.stderr


def test_plan_shows_each_window_s_create_request_and_creates_no_job(ads, tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(ads_config(ads)))
    returncode, stdout, stderr = tap_command(["--config", str(config_file), "--plan"])
    assert returncode == 0, stderr
    assert f"POST {ads.url}/reporting/reports body" in stdout
    assert "'startDate': '2024-03-07', 'endDate': '2024-03-07'" in stdout
    assert not ads.reports and not ads.requests

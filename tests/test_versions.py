"""ACTIVATE_VERSION for full-table streams: the message sequence of first, later, failed and stopped runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import typing as t

import pytest

from tests.deletions_api import DeletionsApi
from tests.helpers import ISOLATED_ENV, TapRun, run_tap


@pytest.fixture
def api() -> t.Iterator[DeletionsApi]:
    server = DeletionsApi().start()
    yield server
    server.stop()


def full_table(api: DeletionsApi, **top: t.Any) -> dict[str, t.Any]:
    config = api.config(emit_activate_version_messages=True, **top)
    config["streams"] = [s for s in config["streams"] if s["name"] in ("plans", "prices")]
    return config


def sequence(run: TapRun, stream: str) -> list[t.Any]:
    """The stream's messages in order: "R<version>" per record run-length folded, ("A", version)."""
    out: list[t.Any] = []
    for message in run.messages:
        if message.get("stream") != stream:
            continue
        if message["type"] == "RECORD":
            tag = f"R{message['version']}"
            if out and isinstance(out[-1], list) and out[-1][0] == tag:
                out[-1][1] += 1
            else:
                out.append([tag, 1])
        elif message["type"] == "ACTIVATE_VERSION":
            out.append(("A", message["version"]))
    return out


def versions_in_state(run: TapRun) -> dict[str, t.Any]:
    return {name: b.get("version") for name, b in run.final_state.get("bookmarks", {}).items()}


def test_first_run_opens_and_closes_and_a_later_run_only_closes(api, tmp_path):
    first = run_tap(tmp_path / "1", full_table(api))
    assert first.returncode == 0, first.stderr
    plans = [m for m in first.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "plans"]
    version = plans[0]["version"]
    assert sequence(first, "plans") == [("A", version), [f"R{version}", 12], ("A", version)]
    prices = sequence(first, "prices")
    assert prices[0] == ("A", version) and prices[-1] == ("A", version)
    assert sum(n for tag, n in prices[1:-1]) == 24
    assert versions_in_state(first) == {"plans": version, "prices": version}
    # the closing message comes after the last record of the stream and its children
    last_record = max(i for i, m in enumerate(first.messages) if m["type"] == "RECORD")
    closings = [i for i, m in enumerate(first.messages) if m["type"] == "ACTIVATE_VERSION"][-2:]
    assert min(closings) > last_record

    api.plans.remove(3)
    second = run_tap(tmp_path / "2", full_table(api), state=first.final_state)
    assert second.returncode == 0, second.stderr
    newer = second.messages[-1]["value"]["bookmarks"]["plans"]["version"]
    assert newer > version
    assert sequence(second, "plans") == [[f"R{newer}", 11], ("A", newer)]  # no opening message
    assert sequence(second, "prices")[-1] == ("A", newer)
    assert sum(n for tag, n in sequence(second, "prices")[:-1]) == 22


def test_a_failed_run_sends_no_closing_message_and_keeps_the_old_version(api, tmp_path):
    first = run_tap(tmp_path / "1", full_table(api))
    old = versions_in_state(first)["plans"]
    api.fail_page = 2
    failed = run_tap(tmp_path / "2", full_table(api), state=first.final_state)
    assert failed.returncode != 0
    assert [m for m in failed.messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert len(failed.records("plans")) == 5  # the first page was written, with the new version
    assert {m["version"] for m in failed.messages if m["type"] == "RECORD"} != {old}
    for state in failed.states:  # the version in STATE stays the last complete run's
        assert {b.get("version") for b in state["bookmarks"].values()} <= {None, old}


def test_a_first_run_that_fails_opens_but_never_closes_and_the_next_run_opens_again(api, tmp_path):
    api.fail_page = 2
    failed = run_tap(tmp_path / "1", full_table(api))
    assert failed.returncode != 0
    activations = [m for m in failed.messages if m["type"] == "ACTIVATE_VERSION"]
    assert [m["stream"] for m in activations] == ["plans", "prices"]  # opening messages only
    assert not any("version" in b for s in failed.states for b in s.get("bookmarks", {}).values())
    api.fail_page = None
    again = run_tap(tmp_path / "2", full_table(api), state=failed.final_state)
    assert sequence(again, "plans")[0][0] == "A"  # still no version in STATE: opens again


def test_sigterm_mid_stream_sends_no_closing_message(api, tmp_path):
    first = run_tap(tmp_path / "1", full_table(api))
    api.hold_page = 2
    config = tmp_path / "config.json"
    config.write_text(json.dumps(full_table(api)))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(first.final_state))
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_restoauth", "--config", str(config), "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ISOLATED_ENV},
    )
    try:
        assert api.held.wait(60)
        process.send_signal(signal.SIGTERM)
    finally:
        api.release.set()
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    messages = [json.loads(line) for line in stdout.decode().splitlines() if line]
    assert [m for m in messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert "interrupted by SIGTERM" in stderr.decode()


def test_incremental_streams_and_children_of_incremental_parents_get_no_version(api, tmp_path):
    config = api.config(emit_activate_version_messages=True)
    config["streams"] = [s for s in config["streams"] if s["name"] == "tickets"]
    del config["streams"][0]["deletions"]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert all("version" not in m for m in run.messages if m["type"] == "RECORD")


def test_off_by_default_records_carry_no_version(api, tmp_path):
    config = full_table(api)
    del config["emit_activate_version_messages"]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert all("version" not in m for m in run.messages if m["type"] == "RECORD")


def test_sharded_runs_refuse_the_setting(api, tmp_path):
    run = run_tap(tmp_path, full_table(api, shard={"index": 0, "count": 2}))
    assert run.returncode != 0
    assert run.error_lines() == [
        "tap-restoauth: error: emit_activate_version_messages cannot be used with shard.count > 1: a shard "
        "reads part of a full-table stream, and its ACTIVATE_VERSION would delete the rows the other "
        "shards wrote"
    ]


SDK_WRITER_TAP = (
    "from singer_sdk.contrib.msgspec import MsgSpecWriter\n"
    "from tap_restoauth.tap import TapRestOAuth, cli\n"
    "TapRestOAuth.message_writer_class = MsgSpecWriter\n"
    "cli()\n"
)


def test_the_sdk_record_loop_tags_records_and_closes_too(api, tmp_path):
    """With another message writer the SDK's own record loop runs: the same sequence."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(full_table(api)))
    done = subprocess.run(
        [sys.executable, "-c", SDK_WRITER_TAP, "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run = TapRun(
        done.returncode, done.stdout, done.stderr, [json.loads(x) for x in done.stdout.splitlines() if x]
    )
    version = run.final_state["bookmarks"]["plans"]["version"]
    assert sequence(run, "plans") == [("A", version), [f"R{version}", 12], ("A", version)]
    assert sequence(run, "prices")[-1] == ("A", version)


def test_static_partitions_share_one_version_closed_after_the_last_partition(api, tmp_path):
    config = full_table(api)
    plans = config["streams"][0]
    plans["partitions"] = [{"region": "eu"}, {"region": "us"}]
    config["streams"] = [plans]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    version = run.final_state["bookmarks"]["plans"]["version"]
    assert sequence(run, "plans") == [("A", version), [f"R{version}", 24], ("A", version)]
    regions = [m["record"]["region"] for m in run.messages if m["type"] == "RECORD"]
    assert regions == ["eu"] * 12 + ["us"] * 12


def test_a_stream_with_max_pages_gets_no_version(api, tmp_path):
    config = full_table(api)
    config["streams"][0]["max_pages"] = 1
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == []  # prices: part of the plans
    assert all("version" not in m for m in run.messages if m["type"] == "RECORD")
    assert "plans: no ACTIVATE_VERSION: a run may read only part of it" in run.stderr

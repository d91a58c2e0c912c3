"""concurrency > 1: child pages and known-total pages fetched in parallel, same records, same state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.sandbox import SandboxData, SandboxServer
from tests.conftest import sandbox_config
from tests.helpers import ISOLATED_ENV, TapRun, run_tap


@pytest.fixture
def slow_api() -> t.Iterator[SandboxServer]:
    """The sandbox with 40 users and 10 ms added to each request, like a remote API."""
    server = SandboxServer(data=SandboxData(users=40), delay=0.01).start()
    yield server
    server.shutdown()
    server.server_close()


def config(server: SandboxServer, *, concurrency: int, streams: t.Sequence[str] = ()) -> dict[str, t.Any]:
    """The sandbox streams with bookmarks on the children and on known-total `events`."""
    base = sandbox_config(server, concurrency=concurrency)
    by_name = {s["name"]: s for s in base["streams"]}
    by_name["user_orders"]["replication_key"] = "created_at"
    by_name["events"]["replication_key"] = "at"
    by_name["events"]["pagination"]["limit"] = 10  # 23 pages, total known from the first
    if streams:
        base["streams"] = [by_name[name] for name in streams]
    return base


def canonical(records: list[dict[str, t.Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def expected(data: SandboxData) -> dict[str, list[str]]:
    orders = [{**o, "user_id": uid} for uid, user_orders in data.orders.items() for o in user_orders]
    items = [
        {**item, "user_id": o["user_id"], "order_id": o["id"]} for o in orders for item in data.items(o["id"])
    ]
    return {
        "users": canonical(data.users),
        "user_orders": canonical(orders),
        "order_items": canonical(items),
        "events": canonical(data.events),
    }


def order_bookmarks(state: dict[str, t.Any]) -> dict[int, str]:
    partitions = state["bookmarks"]["user_orders"].get("partitions", [])
    return {
        p["context"]["user_id"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }


def latest_orders(data: SandboxData) -> dict[int, str]:
    return {uid: max(o["created_at"] for o in orders) for uid, orders in data.orders.items() if orders}


def sync(server: SandboxServer, tmp_path: Path, cfg: dict[str, t.Any], **kwargs: t.Any) -> tuple[TapRun, int]:
    """Run the tap; return the run and the most requests the server saw at once."""
    with server.lock:
        server.max_in_flight = 0
        server.token_requests = 0
    run = run_tap(tmp_path, cfg, **kwargs)
    assert run.returncode == 0, run.stderr[-3000:]
    assert server.token_requests == 1  # one token, shared by every thread
    return run, server.max_in_flight


def test_concurrent_sync_equals_the_sequential_one(slow_api, tmp_path):
    sequential, sequential_overlap = sync(slow_api, tmp_path / "1", config(slow_api, concurrency=1))
    concurrent, concurrent_overlap = sync(slow_api, tmp_path / "8", config(slow_api, concurrency=8))

    assert sequential_overlap == 1
    assert concurrent_overlap > 2  # child pages and event pages really were in flight together
    want = expected(slow_api.data)
    for stream in want:
        assert canonical(concurrent.records(stream)) == want[stream], stream
        assert canonical(sequential.records(stream)) == want[stream], stream
    assert concurrent.final_state == sequential.final_state
    assert order_bookmarks(concurrent.final_state) == latest_orders(slow_api.data)
    assert (
        concurrent.final_state["bookmarks"]["events"]["replication_key_value"]
        == slow_api.data.events[-1]["at"]
    )
    # Within each stream, records still come in the API's order.
    for stream in want:
        assert concurrent.records(stream) == sequential.records(stream), stream


def busiest_second(times: list[float], seconds: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for other in times if start <= other < start + seconds) for start in times)


def test_requests_per_second_holds_for_prefetched_child_pages(slow_api, tmp_path):
    cfg = config(slow_api, concurrency=8, streams=("users", "user_orders"))
    _, overlap = sync(slow_api, tmp_path / "free", cfg)
    assert overlap > 2  # users has two pages: only prefetched child pages overlap like this
    unlimited = busiest_second(slow_api.api_requests)
    slow_api.api_requests.clear()

    limited, _ = sync(slow_api, tmp_path / "limited", {**cfg, "requests_per_second": 20})
    assert canonical(limited.records("user_orders")) == expected(slow_api.data)["user_orders"]
    assert len(slow_api.api_requests) > 45
    assert unlimited > 30  # the same sync breaks the limit when nothing holds it back
    # Counted over two seconds at the server: on a loaded machine (xdist workers) a request the
    # server saw late bunches with the next one; a burst past the limit still shows.
    assert busiest_second(slow_api.api_requests, seconds=2.0) <= 42


def run_until(tmp_path: Path, cfg: dict[str, t.Any], done: t.Callable[[list[str]], bool]) -> TapRun:
    """Run the tap until `done(stdout lines so far)`, then SIGKILL it; return what it wrote."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_restoauth", "--config", str(tmp_path / "config.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not done(list(lines)) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the sync ended before it could be interrupted"
    finally:
        process.kill()
        process.wait(10)
    reader.join(10)
    messages = [json.loads(line) for line in lines if line.startswith("{")]
    return TapRun(process.returncode, "".join(lines), "", messages)


def test_sigkill_during_a_concurrent_sync_then_resume_loses_nothing(slow_api, tmp_path):
    cfg = config(slow_api, concurrency=8, streams=("users", "user_orders", "order_items"))
    slow_api.delay = 0.03

    def halfway(lines: list[str]) -> bool:
        return sum('"stream":"order_items"' in line for line in lines) >= 40

    first = run_until(tmp_path / "first", cfg, halfway)
    assert first.returncode == -9
    state = first.final_state
    done = order_bookmarks(state)
    assert 0 < len(done) < len(latest_orders(slow_api.data))  # killed halfway through the parents
    # No bookmark names an order that was not emitted before the STATE message.
    emitted = {(r["user_id"], r["created_at"]) for r in first.records("user_orders")}
    assert all((uid, value) in emitted for uid, value in done.items())

    slow_api.delay = 0.0
    second, _ = sync(slow_api, tmp_path / "second", cfg, state=state)
    want = expected(slow_api.data)
    for stream in ("users", "user_orders", "order_items"):
        union = set(canonical(first.records(stream))) | set(canonical(second.records(stream)))
        assert sorted(union) == want[stream], stream
    assert order_bookmarks(second.final_state) == latest_orders(slow_api.data)

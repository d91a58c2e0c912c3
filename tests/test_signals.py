"""SIGTERM / SIGINT: the run stops between pages, writes its last consistent STATE, exits 143 / 130.

Each case sends the signal to the real tap at a moment where the SDK's own handler
(STATE, then exit 0 from wherever the main thread is) went wrong: while waiting to
retry, and while a large page is being written to a slow reader.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
import typing as t

import pytest

from tests.helpers import start_tap
from tests.hostile_server import HostileServer

# End-to-end (signals sent to tap processes mid-write): scripts/test.sh --quick skips them.
pytestmark = pytest.mark.e2e

HANG_GUARD = 60
EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}


@pytest.fixture(scope="module")
def server() -> t.Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


class Reader(threading.Thread):
    """Collects a stream, optionally slowly (so the tap blocks writing a page), noting events."""

    def __init__(self, stream: t.IO[bytes], *, pause: float = 0.0, watch: bytes = b"") -> None:
        super().__init__(daemon=True)
        self.stream, self.pause, self.watch = stream, pause, watch
        self.data = bytearray()
        self.seen = threading.Event()
        self.start()

    def run(self) -> None:
        while chunk := self.stream.read1(65536):  # type: ignore[attr-defined]
            self.data += chunk
            if self.watch and self.watch in self.data:
                self.seen.set()
            time.sleep(self.pause)
        self.seen.set()


def finish(process: subprocess.Popen[bytes], *readers: Reader) -> int:
    code = process.wait(timeout=HANG_GUARD)
    for reader in readers:
        reader.join(HANG_GUARD)
    return code


def assert_interrupted(code: int, signum: int, stdout: bytes, stderr: bytes) -> list[dict[str, t.Any]]:
    """Exit code, one error line, no traceback, whole JSON lines ending in a STATE; the messages."""
    text = stderr.decode()
    assert code == EXIT_CODES[signum], text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if "tap-restoauth: error:" in line]
    assert errors == [
        f"tap-restoauth: error: interrupted by {signal.Signals(signum).name}: the run stopped early; "
        "the next run resumes from the last STATE message written"
    ], text[-3000:]
    assert stdout.endswith(b"\n"), stdout[-200:]
    messages = [json.loads(line) for line in stdout.splitlines()]  # every line is whole JSON
    assert messages[-1]["type"] == "STATE"
    return messages


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_retry_wait(server, tmp_path, signum):
    config = {
        "api_url": server.url,
        "max_retries": 3,
        "streams": [
            {
                "name": "busy",
                "path": "/unavailable",
                "schema": {"properties": {"id": {"type": "integer"}}},
            }
        ],
    }
    process = start_tap(tmp_path, config)
    assert process.stdout is not None and process.stderr is not None
    out, err = Reader(process.stdout), Reader(process.stderr, watch=b"retry 1/3 in 30.0s")
    assert err.seen.wait(HANG_GUARD)
    sent = time.monotonic()
    process.send_signal(signum)
    code = finish(process, out, err)
    assert time.monotonic() - sent < 10  # not the 30 s the server asked for
    assert_interrupted(code, signum, bytes(out.data), bytes(err.data))


@pytest.mark.parametrize("attempt", range(4))
def test_signal_during_a_large_page_write(server, tmp_path, attempt):
    """The tap blocks writing 700 kB pages to a slow reader when the signal comes (pages fetched
    one by one, then 4 at a time)."""
    signum = (signal.SIGTERM, signal.SIGINT)[attempt % 2]
    config = {
        "api_url": server.url,
        "concurrency": 1 if attempt < 2 else 4,
        "streams": [
            {
                "name": "pages",
                "path": "/pages",
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "is_sorted": True,
                "pagination": {"type": "page_number", "total_pages_path": "$.meta.total_pages"},
                "schema": {
                    "properties": {
                        "id": {"type": "integer"},
                        "updated_at": {"type": "string", "format": "date-time"},
                        "pad": {"type": "string"},
                    }
                },
            }
        ],
    }
    process = start_tap(tmp_path, config)
    assert process.stdout is not None and process.stderr is not None
    out, err = Reader(process.stdout, pause=0.003, watch=b'"RECORD"'), Reader(process.stderr)
    assert out.seen.wait(HANG_GUARD)
    time.sleep(random.uniform(0.05, 0.6))
    process.send_signal(signum)
    code = finish(process, out, err)
    messages = assert_interrupted(code, signum, bytes(out.data), bytes(err.data))

    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    ids = [record["id"] for record in records]
    assert ids == list(range(len(ids)))  # no record twice, none skipped
    assert len(ids) % server.page_records == 0  # whole pages only
    assert 0 < len(ids) < server.page_records * server.page_count  # cut short
    bookmark = messages[-1]["value"]["bookmarks"]["pages"]
    assert bookmark["replication_key_value"] == records[-1]["updated_at"]  # resumes after the last one

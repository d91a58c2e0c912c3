"""Every wait ends on SIGTERM / SIGINT: exit 143 / 130 at once, whatever is pending, STATE consistent.

Cloud Run Jobs send SIGTERM and kill 10 s later. Each case leaves the real tap
waiting on something that would last 20 s or more -- a page request that hangs in
one of 4 concurrent windows, a token request that hangs, a token lease another
process holds, a rate-limit reset 200 s away -- and sends the signal. The tap must
exit long before the hang would have ended (sync/interrupt.py: one stop event that
every wait watches; the sockets of requests in flight are shut down).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

import pytest

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tap_restoauth.sync import interrupt
from tests.helpers import ISOLATED_ENV, start_tap
from tests.request_server import Reply, Request, RequestServer
from tests.secret_manager_stub import SecretManagerStub

HANG = 20.0  # how long the server's hung answers last
EXIT_BOUND = 12.0  # the tap must exit before this after the signal (it takes well under 5 s)
EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}},
}


class Api:
    """Routes that hang (until the test ends) or report an exhausted rate limit."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = threading.Event()  # a hung request has arrived
        self.answered: set[str] = set()  # days /limited answered
        self.server = RequestServer(
            {"/report": self.report, "/token": self.token, "/limited": self.limited}
        ).start()

    def hang(self) -> None:
        self.waiting.set()
        self.release.wait(HANG)

    def report(self, request: Request) -> Reply:
        """Daily windows; the one for Jan 3 hangs."""
        day = request.query["from"]
        if day == "2024-01-03":
            self.hang()
        return 200, {"rows": [{"id": int(day[-2:]), "at": f"{day}T12:00:00Z"}]}, {}

    def token(self, request: Request) -> Reply:
        self.hang()
        return 200, {"access_token": "late", "token_type": "Bearer", "expires_in": 3600}, {}

    def limited(self, request: Request) -> Reply:
        """Daily windows; the answer for Jan 1 says the budget is spent until 200 s from now."""
        day = request.query.get("from", "2024-01-01")
        self.answered.add(day)
        first = day == "2024-01-01"
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "200"} if first else {}
        return 200, {"rows": [{"id": int(day[-2:]), "at": f"{day}T12:00:00Z"}]}, headers


@pytest.fixture
def api() -> t.Iterator[Api]:
    running = Api()
    yield running
    running.release.set()
    running.server.stop()


def stream(path: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "name": "metrics",
        "path": path,
        "records_path": "$.rows[*]",
        "primary_keys": ["id"],
        "replication_key": "at",
        "schema": SCHEMA,
        **extra,
    }


def stop(process: subprocess.Popen[bytes], signum: int) -> tuple[int, bytes, bytes]:
    """Send `signum`; the exit code and output, failing if the tap outlives EXIT_BOUND."""
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        name = signal.Signals(signum).name
        pytest.fail(f"still running {EXIT_BOUND:g}s after {name}: {err.decode()[-2000:]}")
    return process.returncode, out, err


def assert_stopped(code: int, signum: int, out: bytes, err: bytes) -> list[dict[str, t.Any]]:
    """The signal's exit code, one error line, no traceback, only whole JSON lines on stdout."""
    text = err.decode()
    assert code == EXIT_CODES[signum], text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if "tap-restoauth: error:" in line]
    assert errors == [
        f"tap-restoauth: error: interrupted by {signal.Signals(signum).name}: the run stopped early; "
        "the next run resumes from the last STATE message written"
    ], text[-3000:]
    assert not out or out.endswith(b"\n")
    return [json.loads(line) for line in out.splitlines()]  # every line is whole


def assert_state_stops_before(messages: list[dict[str, t.Any]], unfinished: str) -> None:
    """STATE last, and neither a record nor the bookmark at or past the window `unfinished`
    (whose request was pending): the next run fetches it again."""
    assert messages and messages[-1]["type"] == "STATE", messages
    bookmark = messages[-1]["value"].get("bookmarks", {}).get("metrics", {}).get("replication_key_value")
    assert bookmark is None or bookmark[:10] <= unfinished, bookmark
    assert all(m["record"]["at"][:10] < unfinished for m in messages if m["type"] == "RECORD")


def windowed(path: str) -> dict[str, t.Any]:
    """Daily windows from Jan 1 to Jan 12 (12 requests, 4 at a time)."""
    incremental = {
        "param": "from",
        "end_param": "to",
        "format": "date",
        "step": "P1D",
        "granularity": "P1D",
        "end": "2024-01-12T00:00:00Z",
    }
    return stream(path, pagination={"type": "none"}, incremental=incremental)


def read_until(process: subprocess.Popen[bytes], marker: bytes) -> bytes:
    """The tap's stderr up to the line with `marker`."""
    assert process.stderr is not None
    seen = bytearray()
    while marker not in seen:
        line = process.stderr.readline()
        assert line, seen.decode()
        seen += line
    return bytes(seen)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_ends_a_hung_page_request_among_concurrent_windows(api, tmp_path, signum):
    config = {
        "api_url": api.server.url,
        "start_date": "2024-01-01T00:00:00Z",
        "concurrency": 4,
        "timeout": HANG,
        "streams": [windowed("/report")],
    }
    process = start_tap(tmp_path, config)
    assert api.waiting.wait(HANG)
    code, out, err = stop(process, signum)
    messages = assert_stopped(code, signum, out, err)
    assert_state_stops_before(messages, "2024-01-03")  # the hung window


def test_sigterm_ends_a_hung_token_request(api, tmp_path):
    config = {
        "api_url": api.server.url,
        "timeout": HANG,
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": f"{api.server.url}/token",
            "client_id": "tap",
            "client_secret": "s3cr3t-not-shown",
        },
        "streams": [stream("/limited", pagination={"type": "none"})],
    }
    process = start_tap(tmp_path, config)
    assert api.waiting.wait(HANG)
    code, out, err = stop(process, signal.SIGTERM)
    assert_stopped(code, signal.SIGTERM, out, err)
    assert not [m for m in map(json.loads, out.splitlines()) if m["type"] == "RECORD"]
    assert b"s3cr3t-not-shown" not in out + err


def test_sigterm_ends_a_token_lease_wait(api, tmp_path):
    """Another process holds the lock of the shared token file (it would wait 2 x 60 + 30 s)."""
    token_file = tmp_path / "refresh_token"
    token_file.write_text("rt-not-shown\n")
    token_file.chmod(0o600)
    holder = os.open(str(token_file) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        config = {
            "api_url": api.server.url,
            "auth": {
                "type": "oauth2_refresh_token",
                "token_url": f"{api.server.url}/token",
                "client_id": "tap",
                "client_secret": "s3cr3t-not-shown",
                "refresh_token_file": str(token_file),
                "share_tokens": True,
                "lease_seconds": 60,
            },
            "streams": [stream("/limited", pagination={"type": "none"})],
        }
        process = start_tap(tmp_path, config)
        seen = read_until(process, b"Tokens are shared with other processes")
        time.sleep(1.0)  # the first request asks for a token: the lease wait starts
        code, out, err = stop(process, signal.SIGTERM)
        assert_stopped(code, signal.SIGTERM, out, seen + err)
        assert not api.server.hits("/token")  # it never got the lease
    finally:
        os.close(holder)


def test_sigterm_ends_a_rate_limit_wait(api, tmp_path):
    """The Jan 1 window says the budget resets in 200 s (max_retry_after_seconds: 300): the
    worker threads fetching the next windows wait for it."""
    config = {
        "api_url": api.server.url,
        "start_date": "2024-01-01T00:00:00Z",
        "concurrency": 4,
        "streams": [windowed("/limited")],
    }
    process = start_tap(tmp_path, config)
    seen = read_until(process, b"rate limit reached")
    code, out, err = stop(process, signal.SIGTERM)
    messages = assert_stopped(code, signal.SIGTERM, out, seen + err)
    # Which of windows 2-5 went out before the wait depends on the machine's load (a worker may
    # send one before the Jan 1 answer is read, or wait first): the first day the API never
    # answered is the limit.
    unanswered = min(f"2024-01-{day:02d}" for day in range(1, 13) if f"2024-01-{day:02d}" not in api.answered)
    assert "2024-01-01" in api.answered
    assert_state_stops_before(messages, unanswered)


class _SlowCsv(JsonHandler):
    """An endless CSV export: 1,500 rows at once (a batch of records is written), then each row
    in two halves 20 ms apart; chunked, or ended only by closing the connection (`/close`)."""

    server: SlowCsvServer

    def do_GET(self) -> None:
        chunked = self.path == "/chunked"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(b"id,name\n" + b"".join(b"%d,name-%d\n" % (n, n) for n in range(1500)), chunked)
            self.server.trickling.set()
            for number in range(1500, 100_000):
                row = b"%d,name-%d\n" % (number, number)
                self._send(row[:6], chunked)
                time.sleep(0.02)
                self._send(row[6:], chunked)

    def _send(self, data: bytes, chunked: bool) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        self.wfile.flush()


class SlowCsvServer(LocalServer):
    def __init__(self) -> None:
        super().__init__(_SlowCsv)
        self.trickling = threading.Event()


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_sigterm_ends_a_streamed_download_without_a_cut_record(tmp_path, framing):
    """The main thread reads an endless CSV download: the signal shuts its socket down; the
    read that fails (or the end of body that the shutdown causes) is the stop, not an error and
    never the end of the file: no half row becomes a record."""
    server = SlowCsvServer().start()
    try:
        config = {
            "api_url": server.url,
            "streams": [
                {
                    "name": "export",
                    "path": f"/{framing}",
                    "format": "csv",
                    "primary_keys": ["id"],
                    "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
                }
            ],
        }
        process = start_tap(tmp_path, config)
        assert process.stdout is not None and process.stderr is not None
        out, err = bytearray(), bytearray()
        readers = [
            threading.Thread(target=lambda: out.extend(process.stdout.read()), daemon=True),  # type: ignore[union-attr]
            threading.Thread(target=lambda: err.extend(process.stderr.read()), daemon=True),  # type: ignore[union-attr]
        ]
        for reader in readers:
            reader.start()
        assert server.trickling.wait(HANG)
        time.sleep(1.0)  # the first 1,000 records are written; the main thread waits for more rows
        process.send_signal(signal.SIGTERM)
        code = process.wait(EXIT_BOUND)
        for reader in readers:
            reader.join(EXIT_BOUND)
        messages = assert_stopped(code, signal.SIGTERM, bytes(out), bytes(err))
        records = [m["record"] for m in messages if m["type"] == "RECORD"]
        assert records and all(record["name"] == f"name-{record['id']}" for record in records)
    finally:
        server.stop()


def test_the_wait_api_ends_every_wait_at_once_in_any_thread():
    """`interrupt.wait` and `interrupt.result` (the API other modules' waits use) end as soon as
    the stop event is set, in worker threads; the handler is called as the signal would."""
    ended: list[int] = []
    release = threading.Event()

    def waits(wait: t.Callable[[], object]) -> None:
        try:
            wait()
        except interrupt.Interrupted as stop:
            ended.append(stop.exit_code)

    with ThreadPoolExecutor(1) as pool:
        never = pool.submit(release.wait, HANG)
        threads = [
            threading.Thread(target=waits, args=(lambda: interrupt.wait(HANG),)),
            threading.Thread(target=waits, args=(lambda: interrupt.result(never),)),
        ]
        try:
            for thread in threads:
                thread.start()
            time.sleep(0.2)
            interrupt._handle(signal.SIGTERM, None)  # outside an interruptible block: sets the event
            for thread in threads:
                thread.join(EXIT_BOUND)
            assert ended == [143, 143]
            with pytest.raises(interrupt.Interrupted):
                interrupt.wait(0)
        finally:
            interrupt.reset()
            release.set()


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -c script args` in a process of its own (its signals are its own); it must exit 0."""
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ISOLATED_ENV},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run


SIGNAL_AT_EVERY_POINT = """
import os, signal, sys, threading, time
from tap_restoauth.sync import interrupt

interrupt.install()
signum = int(sys.argv[1])
point = 0
while True:
    point += 1
    seen, fired = 0, threading.Event()

    def profile(frame, event, arg):
        # A Python handler runs at a function's start or after a C call returns: there.
        global seen
        if event in ("call", "c_return") and not fired.is_set():
            seen += 1
            if seen == point:
                fired.set()
                sys.setprofile(None)
                signal.raise_signal(signum)

    def late():  # every point passed: the wait blocks; the signal comes during it
        if not fired.wait(0.5):
            fired.set()
            os.kill(os.getpid(), signum)

    threading.Thread(target=late, daemon=True).start()
    started = time.monotonic()
    try:
        sys.setprofile(profile)
        interrupt.wait(30)
    except interrupt.Interrupted:
        pass
    else:
        sys.exit(f"point {point}: the wait returned")
    finally:
        sys.setprofile(None)
    if time.monotonic() - started > 5:
        sys.exit(f"point {point}: the wait lasted {time.monotonic() - started:.0f}s")
    if seen < point:
        print(point)
        break
    interrupt.reset()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_at_any_point_of_a_main_thread_wait_ends_it(signum):
    """The handler runs between two bytecodes of the main thread, also inside `threading.Event`'s
    own code while that thread holds the event's lock: it must take no lock (it did: `_stop.set()`,
    a deadlock that left the tap waiting forever) and must not raise inside that code."""
    run = run_script(SIGNAL_AT_EVERY_POINT, str(int(signum)))
    assert int(run.stdout) > 10  # the points tried


def test_sigterm_ends_secret_manager_retries(tmp_path):
    """Secret Manager answers UNAVAILABLE; the client would retry for secrets.timeout_seconds."""
    manager = SecretManagerStub().start()
    manager.unavailable = True
    try:
        config = {
            "api_url": "http://127.0.0.1:9",
            "auth": {"type": "bearer", "token": "sm://proj/api-token"},
            "streams": [stream("/limited", pagination={"type": "none"})],
            "secrets": {"endpoint": manager.endpoint, "timeout_seconds": 60},
        }
        process = start_tap(tmp_path, config)
        deadline = time.monotonic() + HANG
        while sum(manager.calls.values()) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(manager.calls.values()) >= 1
        code, out, err = stop(process, signal.SIGTERM)
        assert_stopped(code, signal.SIGTERM, out, err)
    finally:
        manager.stop()


# The kernel delivers a process's signal to any thread that does not block it. Python runs the
# handler only in the main thread, when it next executes bytecode: a main thread asleep in a
# lock's timed wait (`_stop.wait(30)`) would not run it for the whole 30 s.
SIGNAL_TO_ANOTHER_THREAD = """
import signal, sys, threading, time
from tap_restoauth.sync import interrupt

interrupt.install()
asleep = threading.Event()

def sleeper():
    asleep.set()
    time.sleep(60)

other = threading.Thread(target=sleeper, daemon=True)
other.start()
asleep.wait()
threading.Timer(0.5, signal.pthread_kill, (other.ident, signal.SIGTERM)).start()
started = time.monotonic()
try:
    interrupt.wait(30)
except interrupt.Interrupted as stop:
    print(stop.name, round(time.monotonic() - started))
else:
    sys.exit("the wait returned")
"""


def test_a_signal_delivered_to_another_thread_ends_a_main_thread_wait():
    run = run_script(SIGNAL_TO_ANOTHER_THREAD)
    name, seconds = run.stdout.split()
    assert name == "SIGTERM"
    assert int(seconds) < 10  # not the 30 s the wait was for
